"""Issue 14, item 2: Ctrl-C (SIGINT) is handled like SLURM's SIGTERM: the step in progress is
finished, a checkpoint written, one line printed, exit 130; the rerun resumes from it and ends
like an uninterrupted run. A second Ctrl-C stops at once, still with one line and exit 130."""

import os
import random
import signal

import pytest

from afuse.cli import main as afuse_main
from afuse.train.signals import preemption_guard

from .harness import TOTAL_STEPS, finish, overrides, run_dir, start, wait_until_stopped
from .test_preemption import check_interrupted, check_resumed


@pytest.mark.slow  # a real SIGINT, sent to a child process as a terminal would
def test_ctrl_c_finishes_the_step_checkpoints_and_the_rerun_resumes(work, reference, afuse_inproc):
    # The child stops itself just before step `step` (SIGSTOP: a known point); the test then
    # sends SIGINT from outside and lets it go on.
    step = random.randint(1, TOTAL_STEPS - 1)
    child = start("train-adapter", overrides(work, reference.raw_dir), work, fault=f"SIGSTOP@{step}")
    wait_until_stopped(child)
    os.kill(child.pid, signal.SIGINT)
    os.kill(child.pid, signal.SIGCONT)
    result = finish(child)

    assert result.code == 128 + signal.SIGINT == 130, f"Ctrl-C before step {step}:\n{result.out}"
    assert "Traceback" not in result.out and "KeyboardInterrupt" not in result.out
    [line] = [line for line in result.out.splitlines() if "interrupted (Ctrl-C)" in line]
    assert "checkpoint written; rerun the same command to resume" in line
    check_interrupted(run_dir(work), step)
    check_resumed(work, reference, afuse_inproc, step)


def test_a_second_ctrl_c_does_not_wait_for_the_step():
    with preemption_guard() as guard:
        os.kill(os.getpid(), signal.SIGINT)  # the first: recorded, the loop checkpoints after the step
        assert guard.requested and guard.preempted().interrupted
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # the second: at once
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored afterwards


def test_ctrl_c_outside_training_is_one_line_and_exit_130(work, reference, monkeypatch, capsys):
    """E.g. during data preparation, or the second Ctrl-C: no traceback either."""

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr("afuse.data.load_tokenized", interrupted, raising=False)
    monkeypatch.setattr("afuse.train.single_task.load_tokenized", interrupted)
    with pytest.raises(SystemExit) as exit_:
        afuse_main(["train-adapter", *overrides(work, reference.raw_dir)])
    assert exit_.value.code == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        err.strip().splitlines()[-1]
        == "afuse train-adapter: interrupted (Ctrl-C); rerun the same command to resume"
    )
