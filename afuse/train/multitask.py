"""MT-A (Stickland & Murray 2019): every batch comes from one task, tasks drawn by size.

Task i is drawn with probability proportional to N_i^alpha (N_i: its training examples):
    prop     alpha = 1        (proportional to size)
    sqrt     alpha = 0.5
    uniform  alpha = 0
    anneal   alpha = 1 - 0.8 * (e - 1) / (E - 1) in epoch e of E: from proportional towards flatter
`MultiTaskData` offers the loop the same interface as a single task's `TaskData`, so MT-A trains
with the one loop; `MultiTaskModel` routes each batch through its task's adapter and head.
"""

import hashlib

import torch

from afuse.errors import ConfigError
from afuse.train.loop import EpochOrder, TaskData, _loader
from afuse.validate import SAMPLING_RULES


def sampling_alpha(rule: str, epoch: int, max_epochs: int) -> float:
    """alpha for 1-based `epoch` of `max_epochs`."""
    if rule == "prop":
        return 1.0
    if rule == "sqrt":
        return 0.5
    if rule == "uniform":
        return 0.0
    if rule == "anneal":
        return 1.0 if max_epochs <= 1 else 1.0 - 0.8 * (epoch - 1) / (max_epochs - 1)
    raise ConfigError(f"sampling={rule!r} is not known; valid: {', '.join(SAMPLING_RULES)}")


def task_probabilities(sizes: dict[str, int], alpha: float) -> dict[str, float]:
    weights = {task: float(n) ** alpha for task, n in sizes.items()}
    total = sum(weights.values())
    return {task: w / total for task, w in weights.items()}


class WithTask:
    """A collate function that also names the task, so the model knows which adapter and head to use."""

    def __init__(self, collate, task: str):
        self.collate, self.task = collate, task

    def __call__(self, features):
        return {**self.collate(features), "task": self.task}


class MultiTaskModel(torch.nn.Module):
    """One shared encoder; `forward(task=...)` activates that task's adapter and head."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, task: str, **inputs):
        self.model.set_active(adapter=task, head=task)
        return self.model(**inputs)


class MultiTaskData:
    """Batches of all tasks, interleaved by the sampling rule; evaluation per task and on average."""

    def __init__(self, tasks: dict[str, TaskData], sampling: str, max_epochs: int, seed: int):
        sampling_alpha(sampling, 1, max_epochs)  # validate the rule early
        self.tasks, self.sampling, self.max_epochs, self.seed = tasks, sampling, max_epochs, seed
        for name, data in tasks.items():
            data.collate = WithTask(data.collate, name)

    @property
    def train_size(self) -> int:
        return sum(d.train_size for d in self.tasks.values())

    def empty_splits(self) -> list[str]:
        return [f"{task} {split}" for task, data in self.tasks.items() for split in data.empty_splits()]

    def fingerprint(self) -> str:
        """Every task's TaskData.fingerprint, by task."""
        return hashlib.sha256(
            " ".join(f"{t}:{d.fingerprint()}" for t, d in self.tasks.items()).encode()
        ).hexdigest()

    @property
    def prepared(self) -> dict:
        """Every task's prepared copy's record (TaskData.prepared)."""
        return {task: record for data in self.tasks.values() for task, record in data.prepared.items()}

    def num_batches(self, epoch: int) -> int:
        """One epoch: as many batches as one pass over every task's training data."""
        return sum(d.num_batches(epoch) for d in self.tasks.values())

    def probabilities(self, epoch: int) -> dict[str, float]:
        alpha = sampling_alpha(self.sampling, epoch + 1, self.max_epochs)
        return task_probabilities({t: d.train_size for t, d in self.tasks.items()}, alpha)

    def schedule(self, epoch: int) -> list[str]:
        """The task of every batch of `epoch`, drawn from a generator of its own (seed, epoch)."""
        names = list(self.tasks)
        probs = torch.tensor([self.probabilities(epoch)[t] for t in names])
        generator = torch.Generator().manual_seed(self.seed * 7919 + epoch)
        draws = torch.multinomial(probs, self.num_batches(epoch), replacement=True, generator=generator)
        return [names[i] for i in draws.tolist()]

    def batches(self, epoch: int, start: int = 0):
        schedule = self.schedule(epoch)
        consumed = {t: schedule[:start].count(t) for t in self.tasks}
        streams = {t: self._stream(t, epoch, consumed[t]) for t in self.tasks}
        return (next(streams[task]) for task in schedule[start:])

    def _stream(self, task: str, epoch: int, skip: int):
        """The task's batches, reshuffled each time it runs out (a large task may be drawn often)."""
        data = self.tasks[task]
        per_pass = data.num_batches(epoch)
        cycle, offset = divmod(skip, per_pass)
        while True:
            order = EpochOrder(
                data.train_size,
                data.seed + _task_salt(task),
                epoch * 1000 + cycle,
                start=offset * data.batch_size,
            )
            yield from _loader(data.splits["train"], data.collate, data.batch_size, sampler=order)
            cycle, offset = cycle + 1, 0

    def evaluate(self, model, split: str, device, amp="auto", progress: bool = False) -> dict:
        """Per-task results; the headline accuracy (model selection) is the mean over tasks."""
        per_task = {t: d.evaluate(model, split, device, amp, progress) for t, d in self.tasks.items()}
        mean = {
            key: sum(r[key] for r in per_task.values()) / len(per_task)
            for key in ("accuracy", "loss", "majority_rate")
        }
        return {**mean, "n": sum(r["n"] for r in per_task.values()), "tasks": per_task}


def _task_salt(task: str) -> int:
    # A stable per-task offset (Python's hash() of a str changes between processes).
    return sum((i + 1) * ord(c) for i, c in enumerate(task)) % 100_003
