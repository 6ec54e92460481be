"""`afuse train-multitask tasks=[...]`: MT-A, a shared encoder trained with one adapter and head per task."""

from omegaconf import DictConfig, open_dict

from afuse.config import recorded_task_config
from afuse.errors import ConfigError
from afuse.run_identity import TRAIN_MULTITASK, multitask_tasks_in_order, run_dir
from afuse.train.run_lifecycle import run_stage


def main(cfg: DictConfig) -> None:
    tasks = [str(t) for t in cfg.tasks]
    if not tasks or len(set(tasks)) != len(tasks):
        raise ConfigError(f"tasks must list distinct task names, got {tasks}")
    # Unknown names fail here with the valid list. The settings are recorded in config.yaml, as a
    # single-task run's `task` is: evaluate and export rebuild the run with them, not with
    # conf/task/ as it is then (a max_length changed since would score other numbers), and a rerun
    # from that config.yaml trains with them (a researcher's own tasks then need no search path).
    task_configs = {task: recorded_task_config(cfg, task) for task in tasks}
    # Trained in one order whatever the listed one (the run directory does not tell them apart);
    # config.yaml records that order, so the same tasks listed otherwise are the same run.
    tasks = multitask_tasks_in_order(tasks)
    cfg.tasks = tasks
    with open_dict(cfg):
        cfg.task_configs = {task: task_configs[task] for task in tasks}
    where = run_dir(cfg, TRAIN_MULTITASK)

    def train() -> dict:
        from afuse.train.mt_a import train_mt_a  # torch: only for a run that trains

        return train_mt_a(cfg, where, tasks)

    run_stage(cfg, where, train)
