"""Issue 8, item 5: a full disk or an unwritable output fails with one line that names the file;
what was there before (finished runs, the last checkpoint) is left intact.

The end-to-end tests put paths.runs on a small tmpfs (mounting needs root; they are skipped
where that is not allowed). The unit tests below them simulate the same errors anywhere.
"""

import errno
import os
import subprocess

import pytest
import torch

from afuse.atomic import atomic_write_json
from afuse.errors import WriteError
from afuse.runs import is_complete, read_metrics
from afuse.train import checkpoint as checkpoints
from afuse.train.checkpoint import LoopState, load_checkpoint, save_checkpoint

from .harness import (
    checkpoint_state,
    copy_reference_run,
    overrides,
    results,
    run_dir,
    status_totals,
    write_preset,
)

PAGE = 4096


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the unit tests below still run")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk, leave_pages: int) -> None:
    """Fill `disk` up, then give `leave_pages` pages back."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * PAGE)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    os.truncate(filler, filler.stat().st_size - leave_pages * PAGE)


def with_runs(args: list[str], runs) -> list[str]:
    return [a for a in args if not a.startswith("paths.runs=")] + [f"paths.runs={runs}"]


def test_a_full_disk_names_the_file_keeps_the_last_checkpoint_and_resumes_once_freed(
    work, reference, afuse_inproc, small_disk
):
    args = with_runs(overrides(work, reference.raw_dir), small_disk / "runs")
    run = run_dir(small_disk)
    assert afuse_inproc("train-adapter", *args, fault="nan@12").code == 6  # an epoch-1 checkpoint
    saved = checkpoint_state(run)
    fill(small_disk, leave_pages=2)  # enough to start the run again, not for its next checkpoint

    full = afuse_inproc("train-adapter", *args)
    assert full.code == 7, full.out
    [line] = full.error_lines()  # one line, no traceback
    assert f"cannot write {run / 'checkpoint.tmp'}/" in line and "No space left on device" in line
    assert "Traceback" not in full.out and "Logging error" not in full.out
    assert checkpoint_state(run) == saved and load_checkpoint(run / "checkpoint")  # still loads
    assert not (run / "checkpoint.tmp").exists() and not is_complete(run)

    (small_disk / "filler").unlink()
    resumed = afuse_inproc("train-adapter", *args)
    assert resumed.code == 0, resumed.out
    assert "epoch 2, step 0 of 8" in resumed.out
    assert results(read_metrics(run)) == results(reference.metrics)


def test_a_read_only_runs_tree_is_read_but_not_written(work, reference, afuse_inproc, small_disk):
    args = with_runs(overrides(work, reference.raw_dir), small_disk / "runs")
    finished = copy_reference_run(reference, small_disk)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)

    skipped = afuse_inproc("train-adapter", *args)  # finished: skipped, nothing to write
    assert skipped.code == 0 and "skipping" in skipped.out, skipped.out
    new = afuse_inproc("train-adapter", *args, "seed=2")
    assert new.code == 7, new.out
    [line] = new.error_lines()
    assert f"cannot write {run_dir(small_disk, seed=2) / '.lock'}: Read-only file system" in line
    status = afuse_inproc("status", *write_preset(work, ["cb"], [1, 2]), *args[-4:])
    totals = status_totals(status.out)
    assert status.code == 0 and (totals["done"], totals["missing"]) == (1, 1), status.out
    assert read_metrics(finished) == reference.metrics


# -- the same errors, simulated (no mount needed) ----------------------------------------------


def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    params = {"w": torch.ones(3)}
    save_checkpoint(tmp_path, LoopState(epoch=1), params, params, {"step": 1})
    written = []

    def disk_full_on_second_file(path, data):
        written.append(path.name)
        if len(written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        path.write_bytes(data)

    monkeypatch.setattr(checkpoints, "_write_synced", disk_full_on_second_file)
    with pytest.raises(WriteError, match=f"cannot write {tmp_path / 'checkpoint.tmp' / 'best.safetensors'}"):
        save_checkpoint(tmp_path, LoopState(epoch=2), params, params, {"step": 2})
    assert load_checkpoint(tmp_path / "checkpoint").state.epoch == 1
    assert not (tmp_path / "checkpoint.tmp").exists()


def test_a_failed_atomic_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    atomic_write_json(target, {"old": True})

    def no_space(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(WriteError, match=f"cannot write {target}: No space left on device"):
        atomic_write_json(target, {"new": True})
    assert read_metrics(tmp_path) == {"old": True}
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind
