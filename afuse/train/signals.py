"""Stop requests: SLURM's preemption signals and Ctrl-C. The run checkpoints, then stops.

The handler only records the signal. The loop checks it between optimizer steps (and after each
epoch's validation), writes a checkpoint and raises `Preempted`; the command then exits (or hands
over to submitit's requeue). Ctrl-C (SIGINT) is treated the same way, so the work of the epoch in
progress is kept; a second Ctrl-C does not wait for the step: it raises KeyboardInterrupt at once,
and the rerun resumes from the last checkpoint written.
"""

import signal
from contextlib import contextmanager, suppress

PREEMPTION_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGINT)

# The signal an earlier run of this process stopped on. A worker of a parallel sweep (joblib's
# loky processes) outlives its job and is handed the next queued one: after a stop request it
# must start none (afuse.cli checks this before each job).
_stopped_on: int | None = None


def remember_stop(signum: int) -> None:
    global _stopped_on
    _stopped_on = signum


def clear_stop() -> None:
    """A new command invocation in this process (the tests run many) starts with no stop."""
    global _stopped_on
    _stopped_on = None


def stopped_on() -> int | None:
    """The signal a run of this process stopped on, or None."""
    return _stopped_on


class Preempted(Exception):
    """The run was asked to stop; a checkpoint was written and a rerun resumes from it."""

    def __init__(self, signum: int, previous_handler):
        if signum == signal.SIGINT:
            message = "interrupted (Ctrl-C): checkpoint written; rerun the same command to resume from it"
        else:
            message = f"received {signal.Signals(signum).name}: checkpoint written, stopping for requeue"
        super().__init__(message)
        self.signum = signum
        self.previous_handler = previous_handler
        self.abandoned = False  # a forced rerun that gave up: the finished run was put back

    def __str__(self) -> str:
        if self.abandoned:
            return (
                "interrupted (Ctrl-C): the forced rerun is abandoned and the finished run kept as it was; "
                "rerun with force=true to train it again"
            )
        return super().__str__()

    @property
    def interrupted(self) -> bool:
        """Stopped by the user (Ctrl-C), not by a scheduler that requeues the job."""
        return self.signum == signal.SIGINT


class PreemptionGuard:
    def __init__(self):
        self.signum: int | None = None
        self.previous: dict[int, object] = {}

    def _record(self, signum, _frame):
        if signum == signal.SIGINT:
            # The next Ctrl-C stops at once (KeyboardInterrupt), without waiting for the step.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.signum is None:
            self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def preempted(self) -> Preempted:
        return Preempted(self.signum, self.previous.get(self.signum))


@contextmanager
def preemption_guard():
    """Record stop signals while training; restore the previous handlers afterwards."""
    guard = PreemptionGuard()
    for signum in PREEMPTION_SIGNALS:
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue  # e.g. SIGINT in a job started with nohup or in the background: keep ignoring it
        # Outside the main thread (some launchers) signals cannot be handled: train on without.
        with suppress(ValueError):
            guard.previous[signum] = signal.signal(signum, guard._record)
    try:
        yield guard
    finally:
        for signum, handler in guard.previous.items():
            signal.signal(signum, handler)
