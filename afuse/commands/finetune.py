"""`afuse finetune task=rte mode=full|head`: the paper's Full and Head baselines."""

from omegaconf import DictConfig

from afuse.config import require_task, specialise_data
from afuse.run_identity import FINETUNE, run_dir
from afuse.train.run_lifecycle import run_stage


def main(cfg: DictConfig) -> None:
    specialise_data(cfg, require_task(cfg).name)
    where = run_dir(cfg, FINETUNE)  # an unknown mode fails here with the valid ones

    def train() -> dict:
        from afuse.train.single_task import train_single_task  # torch: only for a run that trains

        return train_single_task(cfg, where, cfg.mode, FINETUNE, cfg.mode)

    run_stage(cfg, where, train)
