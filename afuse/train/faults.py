"""Test-only fault injection: make a real training run fail on purpose at a chosen step.

    AFUSE_TEST_FAULT=<fault>@<step>      e.g. SIGKILL@7, SIGTERM@3, SIGUSR1@5, nan@9

Just before optimizer step <step> (1-based, counted over the whole run, as in the logs):

    SIGKILL, SIGTERM, SIGUSR1, SIGUSR2   the process sends itself that signal, as the OOM killer
                                         or SLURM would (a handled signal is acted on after the
                                         step, like a real one)
    SIGSTOP                              the process stops itself, holding its run's lock, until
                                         the test sends SIGCONT or SIGKILL
    nan, inf                             the step's loss is reported as NaN / inf, as in a
                                         diverging run

The reliability tests (tests/reliability/) use it to kill, preempt and break runs of the real
commands at a known point. It exists for them only: never set it for real work. Unset, it costs
one environment lookup per epoch.
"""

import os
import signal
from dataclasses import dataclass

from afuse.errors import ConfigError

ENV = "AFUSE_TEST_FAULT"
LOSS_FAULTS = ("nan", "inf")
SIGNAL_FAULTS = ("SIGKILL", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGSTOP")


@dataclass(frozen=True)
class Fault:
    kind: str
    step: int


def injected() -> Fault | None:
    """The fault asked for in $AFUSE_TEST_FAULT, or None."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    kind, _, step = value.partition("@")
    if kind not in (*LOSS_FAULTS, *SIGNAL_FAULTS) or not step.isdigit() or int(step) < 1:
        raise ConfigError(
            f"{ENV}={value!r}: expected <fault>@<step>, fault one of "
            f"{', '.join((*SIGNAL_FAULTS, *LOSS_FAULTS))}, step >= 1 (e.g. SIGKILL@7); it is for tests only"
        )
    return Fault(kind, int(step))


def before_step(fault: Fault | None, step: int, losses: dict) -> None:
    """Fire `fault` if `step` is its step: replace the loss, or signal this process."""
    if fault is None or step != fault.step:
        return
    if fault.kind in LOSS_FAULTS:
        losses["loss"] = float(fault.kind)
    else:
        os.kill(os.getpid(), getattr(signal, fault.kind))
