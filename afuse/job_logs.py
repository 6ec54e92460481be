"""Console lines of a multirun job carry the job's name: `[cb seed 2] [12:00:01] epoch 1: ...`.

With `hydra/launcher=local_parallel` several jobs write to one terminal at once; without a label
their lines cannot be told apart. The log files are per job already and keep their format.
"""

import logging

from omegaconf import DictConfig, OmegaConf


class _Labelled(logging.Formatter):
    def __init__(self, inner: logging.Formatter, label: str):
        super().__init__()
        self.inner, self.label = inner, label

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(f"[{self.label}] {line}" for line in self.inner.format(record).splitlines())


def job_label(cfg: DictConfig, job_num: int) -> str:
    """`cb seed 2`: the task (the target, for fuse) and seed; else the job's number in the sweep."""
    try:
        task = OmegaConf.select(cfg, "task.name")
    except Exception:  # an unresolvable task (the job fails on it with its own message)
        task = None
    seed = OmegaConf.select(cfg, "seed")
    if task is None:
        return f"job {job_num}" + (f" seed {seed}" if seed is not None else "")
    return f"{task} seed {seed}" if seed is not None else str(task)


def label_console(label: str) -> None:
    """Prefix every console line of this process's logging with `[label]`."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) or not isinstance(handler, logging.StreamHandler):
            continue
        inner = handler.formatter or logging.Formatter()
        if isinstance(inner, _Labelled):
            inner = inner.inner
        handler.setFormatter(_Labelled(inner, label))
