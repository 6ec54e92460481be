"""`afuse finetune task=rte mode=full|head`: the paper's Full and Head baselines."""

from omegaconf import DictConfig

from afuse.config import require_task, specialise_data
from afuse.errors import ConfigError
from afuse.runs import stage1_dir
from afuse.train.run_lifecycle import run_stage


def main(cfg: DictConfig) -> None:
    specialise_data(cfg, require_task(cfg).name)
    if cfg.mode not in ("full", "head"):
        raise ConfigError(f"mode={cfg.mode!r} is not known; valid: full, head")
    run_dir = stage1_dir(cfg.paths.runs, cfg.model.name, cfg.mode, cfg.task.name, cfg.seed)

    def train() -> dict:
        from afuse.train.single_task import train_single_task  # torch: only for a run that trains

        return train_single_task(cfg, run_dir, cfg.mode, "finetune", cfg.mode)

    run_stage(cfg, run_dir, train)
