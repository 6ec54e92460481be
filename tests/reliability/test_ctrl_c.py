"""Issue 14, item 2: Ctrl-C (SIGINT) is handled like SLURM's SIGTERM: the step in progress is
finished, a checkpoint written, one line printed, exit 130; the rerun resumes from it and ends
like an uninterrupted run. A second Ctrl-C stops at once, still with one line and exit 130."""

import os
import random
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from afuse.cli import main as afuse_main
from afuse.train.signals import preemption_guard

from .harness import (
    TOTAL_STEPS,
    child_env,
    copy_reference_run,
    finish,
    overrides,
    run_dir,
    start,
    wait_until_stopped,
    write_preset,
)
from .test_finished_runs import snapshot
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


def stopped_process_in_group(group: int, timeout: float = 180) -> int:
    """The pid of a process of `group` stopped by SIGSTOP (the training job of a sweep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "T" and int(fields[2]) == group:
                return int(stat.parent.name)
        time.sleep(0.1)
    raise AssertionError("no process of the sweep stopped in time")


@pytest.mark.slow  # `afuse run` in its own session, its sweep a child of it: Ctrl-C reaches both
def test_ctrl_c_during_afuse_run_lets_the_job_checkpoint(work, reference):
    step = random.randint(1, TOTAL_STEPS - 1)
    preset = write_preset(work, ["cb"], [1])
    args = [a for a in overrides(work, reference.raw_dir) if not a.startswith("task=")]
    env = child_env(f"SIGSTOP@{step}")  # reaches the sweep's job, a grandchild
    driver = subprocess.Popen(
        [sys.executable, "-m", "afuse.cli", "run", *preset, *args],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the test sends the terminal's Ctrl-C to it
    )
    try:
        job = stopped_process_in_group(driver.pid)
        os.killpg(driver.pid, signal.SIGINT)  # to the driver and the job, as a terminal does
        # The job's step takes a while (here: it goes on only in a second); the driver must wait
        # for it to checkpoint, not kill it (subprocess.run would, after 0.25 s).
        time.sleep(1)
        with suppress(ProcessLookupError):  # already killed: the assertions below say so
            os.kill(job, signal.SIGCONT)
        result = finish(driver)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert result.code == 130, result.out
    assert "Traceback" not in result.out
    assert "interrupted (Ctrl-C): checkpoint written" in result.out  # the job, not killed by the driver
    assert (
        result.out.strip().splitlines()[-1]
        == "afuse run: interrupted (Ctrl-C); rerun the same command to resume"
    )
    check_interrupted(run_dir(work), step)


@pytest.mark.slow  # a real SIGINT to a child process
def test_ctrl_c_during_a_forced_rerun_keeps_the_finished_run(work, reference):
    run = copy_reference_run(reference, work)
    before = snapshot(run)
    child = start(
        "train-adapter", [*overrides(work, reference.raw_dir), "force=true"], work, fault="SIGSTOP@5"
    )
    wait_until_stopped(child)
    os.kill(child.pid, signal.SIGINT)
    os.kill(child.pid, signal.SIGCONT)
    result = finish(child)
    assert result.code == 130, result.out
    assert (
        result.out.strip()
        .splitlines()[-1]
        .endswith(
            "interrupted (Ctrl-C): the forced rerun is abandoned and the finished run kept as it was; "
            "rerun with force=true to train it again"
        )
    )
    assert snapshot(run) == before and not (run / "checkpoint").exists()
