"""`afuse train-adapter task=rte`: stage 1, one adapter (ST-A) and its head on a frozen encoder."""

from omegaconf import DictConfig

from afuse.config import require_task, specialise_data
from afuse.runs import adapter_variant, stage1_dir
from afuse.train.run_lifecycle import run_stage


def main(cfg: DictConfig) -> None:
    specialise_data(cfg, require_task(cfg).name)
    variant = adapter_variant(cfg.adapter)
    run_dir = stage1_dir(cfg.paths.runs, cfg.model.name, variant, cfg.task.name, cfg.seed)

    def train() -> dict:
        from afuse.train.single_task import train_single_task  # torch: only for a run that trains

        return train_single_task(cfg, run_dir, "adapter", "train-adapter", variant)

    run_stage(cfg, run_dir, train)
