"""Issue 8, item 1: a run killed with SIGKILL resumes from its last checkpoint and ends exactly like
an uninterrupted run; metrics.json is never partial."""

import json
import random
import signal
import subprocess
import sys

import pytest

from afuse.runs import is_complete, read_metrics

from .harness import (
    REPO,
    STEPS_PER_EPOCH,
    TOTAL_STEPS,
    checkpoint_state,
    finish,
    overrides,
    results,
    run_afuse,
    run_dir,
    start,
)

pytestmark = pytest.mark.slow  # a child process per test


def test_sigkill_at_a_random_step_resumes_from_the_last_epoch_checkpoint(work, reference, afuse_inproc):
    # A step after the first epoch, so that there is an epoch checkpoint to resume from.
    step = random.randint(STEPS_PER_EPOCH + 1, TOTAL_STEPS)
    args = overrides(work, reference.raw_dir)
    process = start("train-adapter", args, work, fault=f"SIGKILL@{step}")
    killed = finish(process)
    assert killed.code == -signal.SIGKILL, f"killed at step {step}:\n{killed.out}"

    run = run_dir(work)
    assert not (run / "metrics.json").exists() and not is_complete(run)
    epochs_done = (step - 1) // STEPS_PER_EPOCH
    saved = checkpoint_state(run)
    assert (saved["epoch"], saved["step_in_epoch"]) == (epochs_done, 0), f"killed at step {step}"
    # The dead process's lock file is left behind, naming it; the rerun takes the lock over.
    assert json.loads((run / ".lock").read_text())["pid"] == process.pid

    resumed = afuse_inproc("train-adapter", *args)
    assert resumed.code == 0, resumed.out
    assert f"resuming from {run / 'checkpoint'}: epoch {epochs_done + 1}, step 0 of 8" in resumed.out
    assert results(read_metrics(run)) == results(reference.metrics), f"killed at step {step}"
    assert not (run / "checkpoint").exists()  # removed once metrics.json is written


def test_periodic_checkpoints_lose_at_most_the_step_in_progress(work, reference, afuse_inproc):
    """trainer.checkpoint_every_minutes bounds what a kill without warning loses (0: every step)."""
    step = random.randint(2, TOTAL_STEPS)
    args = overrides(work, reference.raw_dir, "trainer.checkpoint_every_minutes=0")
    killed = run_afuse("train-adapter", args, work, fault=f"SIGKILL@{step}")
    assert killed.code == -signal.SIGKILL, killed.out

    saved = checkpoint_state(run_dir(work))
    assert saved["global_step"] == step - 1, f"killed at step {step}: every finished step is saved"
    epoch, in_epoch = divmod(step - 1, STEPS_PER_EPOCH)
    resumed = afuse_inproc("train-adapter", *args)
    assert resumed.code == 0, resumed.out
    assert f"epoch {epoch + 1}, step {in_epoch} of 8" in resumed.out
    # How often it checkpoints is not a result setting: the uninterrupted run had the default.
    assert results(read_metrics(run_dir(work))) == results(reference.metrics), f"killed at step {step}"


KILLED_WHILE_WRITING = """
import os, pathlib, signal, sys
from afuse import runs

def write_half_then_die(self, data):
    with open(self, "wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        os.fsync(handle.fileno())
    os.kill(os.getpid(), signal.SIGKILL)

pathlib.Path.write_bytes = write_half_then_die
runs.write_metrics(sys.argv[1], {"test": {"accuracy": 0.25}, "padding": "x" * 100000})
"""


@pytest.mark.parametrize("earlier", [False, True], ids=["first-write", "rewrite"])
def test_a_kill_while_metrics_json_is_written_leaves_no_partial_file(tmp_path, earlier):
    run = tmp_path / "run"
    run.mkdir()
    if earlier:  # force=true retraining a finished run: the old result must survive the kill
        (run / "metrics.json").write_text(json.dumps({"test": {"accuracy": 0.75}}))
    child = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_WRITING, str(run)],
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    if earlier:
        assert read_metrics(run) == {"test": {"accuracy": 0.75}}
    else:
        assert not (run / "metrics.json").exists()
    assert list(run.glob(".tmp-metrics.json.*"))  # the half-written file went to a temporary name
