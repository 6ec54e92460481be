"""Fault injection for the reliability tests: make a real training run fail on purpose at a step.

    AFUSE_TEST_FAULT=<fault>@<step>      e.g. SIGKILL@7, SIGTERM@3, SIGUSR1@5, nan@9

Just before optimizer step <step> (1-based, counted over the whole run, as in the logs):

    SIGKILL, SIGTERM, SIGUSR1, SIGUSR2   the process sends itself that signal, as the OOM killer
                                         or SLURM would (a handled signal is acted on after the
                                         step, like a real one)
    SIGSTOP                              the process stops itself, holding its run's lock, until
                                         the test sends SIGCONT or SIGKILL
    nan, inf                             the step's loss is reported as NaN / inf, as in a
                                         diverging run

The fault is a hook of the training loop (afuse/train/step_hooks.py): `fault_hook` makes one.
In this process the tests register it directly (conftest.afuse_inproc); a child process, and
every process it starts (`afuse run`'s sweeps), registers the one named in $AFUSE_TEST_FAULT at
start-up, through fault_site/sitecustomize.py on its PYTHONPATH (harness.child_env).
"""

import os
import signal

from afuse.train import step_hooks

ENV = "AFUSE_TEST_FAULT"
LOSS_FAULTS = ("nan", "inf")
SIGNAL_FAULTS = ("SIGKILL", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGSTOP")


def fault_hook(spec: str) -> step_hooks.StepHook:
    """The step hook that fires the fault `spec` (<fault>@<step>) at its step."""
    kind, _, at = spec.strip().partition("@")
    if kind not in (*LOSS_FAULTS, *SIGNAL_FAULTS) or not at.isdigit() or int(at) < 1:
        raise ValueError(
            f"{ENV}={spec!r}: expected <fault>@<step>, fault one of "
            f"{', '.join((*SIGNAL_FAULTS, *LOSS_FAULTS))}, step >= 1 (e.g. SIGKILL@7)"
        )

    def before_step(step: int, losses: dict) -> None:
        if step != int(at):
            return
        if kind in LOSS_FAULTS:
            losses["loss"] = float(kind)
        else:
            os.kill(os.getpid(), getattr(signal, kind))

    return before_step


def install_from_env() -> None:
    """Register the fault named in $AFUSE_TEST_FAULT, if any, for this process."""
    spec = os.environ.get(ENV, "").strip()
    if spec:
        step_hooks.BEFORE_STEP.append(fault_hook(spec))
