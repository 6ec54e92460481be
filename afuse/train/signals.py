"""Preemption: SLURM sends a signal before it kills or requeues a job; we checkpoint and stop.

The handler only records the signal. The loop checks it between optimizer steps, writes a
checkpoint and raises `Preempted`; the command then exits (or hands over to submitit's requeue).
"""

import signal
from contextlib import contextmanager, suppress

PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)


class Preempted(Exception):
    """The run was asked to stop; a checkpoint was written and a rerun resumes from it."""

    def __init__(self, signum: int, previous_handler):
        super().__init__(f"received {signal.Signals(signum).name}: checkpoint written, stopping for requeue")
        self.signum = signum
        self.previous_handler = previous_handler


class PreemptionGuard:
    def __init__(self):
        self.signum: int | None = None
        self.previous: dict[int, object] = {}

    def _record(self, signum, _frame):
        self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def preempted(self) -> Preempted:
        return Preempted(self.signum, self.previous.get(self.signum))


@contextmanager
def preemption_guard():
    """Record preemption signals while training; restore the previous handlers afterwards."""
    guard = PreemptionGuard()
    for signum in PREEMPTION_SIGNALS:
        # Outside the main thread (some launchers) signals cannot be handled: train on without.
        with suppress(ValueError):
            guard.previous[signum] = signal.signal(signum, guard._record)
    try:
        yield guard
    finally:
        for signum, handler in guard.previous.items():
            signal.signal(signum, handler)
