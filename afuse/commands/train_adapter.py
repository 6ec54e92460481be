"""`afuse train-adapter task=rte`: stage 1, one adapter (ST-A) and its head on a frozen encoder."""

from omegaconf import DictConfig

from afuse.config import require_task, specialise_data
from afuse.run_identity import TRAIN_ADAPTER, run_dir, variant
from afuse.train.run_lifecycle import run_stage


def main(cfg: DictConfig) -> None:
    specialise_data(cfg, require_task(cfg).name)
    where = run_dir(cfg, TRAIN_ADAPTER)

    def train() -> dict:
        from afuse.train.single_task import train_single_task  # torch: only for a run that trains

        return train_single_task(cfg, where, "adapter", TRAIN_ADAPTER, variant(cfg, TRAIN_ADAPTER))

    run_stage(cfg, where, train)
