"""Issue 14, items 5, 6, 17 and 18: sweeps and what they print.

5. `afuse run` exits non-zero when any step fails (here its report), its last line naming it;
6. `afuse status`'s "To launch" lines carry the user's overrides, as `afuse run dry_run=true`;
17. the console lines of parallel multirun jobs say which job they come from;
18. evaluation passes show a progress bar.
"""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from afuse.runs import is_complete

from .harness import child_env, copy_reference_run, overrides, run_afuse, run_dir, write_preset


@pytest.mark.slow  # `afuse run` starts the report as a child process
def test_afuse_run_fails_when_its_report_fails_and_says_so_last(work, reference, afuse_inproc):
    run = copy_reference_run(reference, work)  # the preset's one job is finished
    (work / "blocker").write_text("a file where the results folder should go")
    preset = write_preset(work, ["cb"], [1])
    result = afuse_inproc("run", *preset, f"paths.runs={work}/runs", f"paths.results={work}/blocker/results")
    assert result.code == 1, result.out
    assert "[report] report: exited with status 7" in result.out
    last = result.out.strip().splitlines()[-1]
    assert (
        "afuse run: error: reliability: failed: report (exit 7). `afuse status experiment=reliability "
        in last
    )
    assert last.endswith("` says which jobs and why; `afuse run` again resumes"), last
    # the status line finds this preset (kept outside the repository) and its runs, as given to run
    status = last.split("`")[1].split()
    assert f"paths.runs={work}/runs" in status and f"'{preset[0]}'" in status, last
    assert is_complete(run)  # nothing finished is lost


def test_status_launch_lines_carry_the_user_overrides_like_run_dry_run(work, afuse_inproc):
    preset = write_preset(work, ["cb", "rte"], [1, 2])
    given = [f"paths.runs={work}/runs", "data.max_train_examples=64", "trainer.lr=0.01", "model=tiny"]
    status = afuse_inproc("status", *preset, *given)
    assert status.code == 0, status.out
    [line] = [
        line.strip() for line in status.out.splitlines() if line.strip().startswith("afuse train-adapter")
    ]
    assert all(override in line.split() for override in given), line

    plan = afuse_inproc("run", *preset, *given, "dry_run=true")
    assert plan.code == 0, plan.out
    [planned] = [line for line in plan.out.splitlines() if line.startswith("[stage 1] st_a")]
    planned = planned.split(": ", 1)[1]
    assert planned.startswith(line + " 'hydra.sweep.dir="), (
        line,
        planned,
    )  # the same jobs, the same settings
    assert f"afuse run experiment=reliability {' '.join(given)}" in status.out


@pytest.mark.slow  # a multirun with the joblib launcher: worker processes
def test_parallel_multirun_lines_say_which_job_they_come_from(work, reference):
    args = [
        *(a for a in overrides(work, reference.raw_dir) if not a.startswith("trainer.max_epochs=")),
        "trainer.max_epochs=1",
        "seed=1,2",
        "hydra/launcher=local_parallel",
        "hydra.launcher.n_jobs=2",
    ]
    result = run_afuse("train-adapter", ["-m", *args], work)
    assert result.code == 0, result.out
    for seed in (1, 2):
        lines = [line for line in result.out.splitlines() if line.startswith(f"[cb seed {seed}] ")]
        assert any("epoch 1: validation accuracy" in line for line in lines), result.out
        assert any(re.search(r"done: test accuracy", line) for line in lines), result.out
    job_lines = [line for line in result.out.splitlines() if "validation accuracy" in line]
    assert len(job_lines) == 2 and all(line.startswith("[cb seed ") for line in job_lines)


def test_evaluation_passes_show_a_progress_bar(work, reference, afuse_inproc):
    args = [a for a in overrides(work, reference.raw_dir) if not a.startswith("trainer.max_epochs=")]
    result = afuse_inproc("train-adapter", *args, "trainer.max_epochs=1", "trainer.progress_bar=true")
    assert result.code == 0, result.out
    # A bar per pass, over its batches (25 validation and 56 test rows: one batch of 64 each).
    assert re.search(r"validation: +\d+%\|.*\| \d/1 \[", result.out), result.out
    assert re.search(r"test: +\d+%\|.*\| \d/1 \[", result.out), result.out


def _children(pid: int, state: str | None = None) -> list[int]:
    """The child processes of `pid` (in `state`, e.g. T for stopped)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and state in (None, fields[0]):
                children.append(int(stat.parent.name))
    return children


@contextmanager
def _stopped_parallel_sweep(work: Path, reference) -> Iterator[tuple[subprocess.Popen, Path]]:
    """A parallel sweep of 4 jobs on 2 workers, both stopped (SIGSTOP, their own) at step 3 of
    their first job; the sweep leads its own process group, killed whatever the test's end."""
    args = [*overrides(work, reference.raw_dir), "seed=1,2,3,4", "hydra/launcher=local_parallel"]
    log = work / "sweep.out"
    with log.open("w") as out:
        sweep = subprocess.Popen(
            [sys.executable, "-m", "afuse.cli", "train-adapter", "-m", *args, "hydra.launcher.n_jobs=2"],
            cwd=work,
            env=child_env("SIGSTOP@3"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while len(_children(sweep.pid, "T")) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_children(sweep.pid, "T")) == 2, log.read_text()
        yield sweep, log
    finally:
        with suppress(ProcessLookupError):
            os.killpg(sweep.pid, signal.SIGKILL)
    # The stopped jobs kept their work; the queued ones never started.
    assert all((run_dir(work, seed) / "checkpoint").is_dir() for seed in (1, 2))
    assert not any((run_dir(work, seed) / "config.yaml").exists() for seed in (3, 4))


def _await_group_end(pgid: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while _group_alive(pgid):  # workers, and loky's resource trackers once they are gone
        assert time.monotonic() < deadline, "the sweep's processes outlived it:\n" + _group(pgid)
        time.sleep(0.2)


@pytest.mark.slow  # a multirun with the joblib launcher: worker processes
def test_a_parallel_sweeps_workers_start_no_queued_job_after_a_sigterm_and_exit(work, reference):
    # SIGTERM to the whole sweep, as SLURM or `kill -TERM -<pgid>` sends it, while both workers
    # train (each stopped itself at its step 3). The sweep process dies; each worker checkpoints
    # its job. A loky worker outlives its job and would be handed the next queued one: it must
    # start none, and with its sweep process gone it must exit rather than idle for loky's
    # 5-minute timeout.
    with _stopped_parallel_sweep(work, reference) as (sweep, _):
        os.killpg(sweep.pid, signal.SIGTERM)
        os.killpg(sweep.pid, signal.SIGCONT)
        sweep.wait(timeout=60)
        _await_group_end(sweep.pid)


@pytest.mark.slow  # a multirun with the joblib launcher: worker processes
def test_stopped_workers_exit_when_their_sweep_process_dies_after_their_jobs_stopped(work, reference):
    # The same SIGTERM may reach the sweep process late, or it may take a while to die (its
    # threads exit one by one before its children are handed on): its workers' jobs stop while
    # it is still there. Held stopped here until both have checkpointed, then killed: the idle
    # workers must notice and exit, not wait for loky's 5-minute timeout.
    with _stopped_parallel_sweep(work, reference) as (sweep, log):
        os.kill(sweep.pid, signal.SIGSTOP)
        for worker in _children(sweep.pid, "T"):
            os.kill(worker, signal.SIGTERM)
            os.kill(worker, signal.SIGCONT)
        deadline = time.monotonic() + 60
        while log.read_text().count("checkpoint written, stopping for requeue") < 2:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        time.sleep(1)  # both have looked for their sweep process, found it, and wait for a job
        assert _group_alive(sweep.pid) and "this worker exits" not in log.read_text(), log.read_text()
        os.kill(sweep.pid, signal.SIGKILL)
        sweep.wait(timeout=60)
        _await_group_end(sweep.pid)
    assert log.read_text().count("the sweep process is gone: this worker exits") == 2, log.read_text()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _group(pgid: int) -> str:
    return subprocess.run(
        ["ps", "-o", "pid,ppid,stat,etime,cmd", "-g", str(pgid)], capture_output=True, text=True
    ).stdout
