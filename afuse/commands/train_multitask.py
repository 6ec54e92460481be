"""`afuse train-multitask tasks=[...]`: MT-A, a shared encoder trained with one adapter and head per task."""

from omegaconf import DictConfig

from afuse.config import task_config
from afuse.errors import ConfigError
from afuse.runs import multitask_dir, multitask_key
from afuse.train.run_lifecycle import run_stage


def main(cfg: DictConfig) -> None:
    tasks = [str(t) for t in cfg.tasks]
    if not tasks or len(set(tasks)) != len(tasks):
        raise ConfigError(f"tasks must list distinct task names, got {tasks}")
    for task in tasks:
        task_config(task)  # unknown names fail here with the valid list
    run_dir = multitask_dir(cfg.paths.runs, cfg.model.name, multitask_key(tasks), cfg.seed)

    def train() -> dict:
        from afuse.train.mt_a import train_mt_a  # torch: only for a run that trains

        return train_mt_a(cfg, run_dir, tasks)

    run_stage(cfg, run_dir, train)
