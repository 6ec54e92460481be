"""Issue 14, items 1, 4 and 14: a finished run is never lost or taken for finished when it is not.

1. force=true replaces a finished run only once the new one is written: a forced rerun that fails
   (a damaged input, a diverging loss, kill -9) leaves the finished run as it was.
4. a finished run whose result files do not read (truncated metrics.json, damaged weights) is
   neither skipped nor shown as done: the rerun refuses it (exit 5) and `status` says `damaged`,
   with the force=true command that retrains it.
14. `status` prints long notes (an error and its fix) in full.
"""

import json
import shutil
import signal

import pytest

from afuse.run_identity import fusion_variant_name, stage2_dir
from afuse.runs import is_complete, read_metrics
from afuse.train import forced
from afuse.train.forced import HELD, PREVIOUS_METRICS

from .harness import (
    copy_reference_run,
    overrides,
    results,
    run_afuse,
    run_dir,
    status_note,
    status_totals,
    write_preset,
)
from .test_corrupt_files import damage


def snapshot(run) -> dict[str, bytes]:
    """Every result file of a run directory, by name (what must survive a failed forced rerun)."""
    return {
        p.relative_to(run).as_posix(): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name not in (".lock", "failed.json")
    }


def fuse_args(work, reference) -> list[str]:
    stage1 = overrides(work, reference.raw_dir)
    return [
        *(a for a in stage1 if not a.startswith(("task=", "trainer.max_epochs="))),
        "target=cb",
        "fusion.sources=[cb]",
        "trainer.max_epochs=1",
    ]


# -- item 1: force=true ------------------------------------------------------------------------


def test_a_failed_forced_fusion_rerun_keeps_the_finished_fusion_run(work, reference, afuse_inproc):
    """The issue's case: a damaged stage-1 adapter, then `afuse fuse ... force=true`."""
    adapter = copy_reference_run(reference, work) / "adapter.safetensors"
    fuse = fuse_args(work, reference)
    assert afuse_inproc("fuse", *fuse).code == 0
    fused = stage2_dir(
        work / "runs", "tiny", fusion_variant_name("dynamic", "pfeiffer_rf16", ["cb"]), "cb", 1
    )
    before = snapshot(fused)
    damage(adapter)

    forced = afuse_inproc("fuse", *fuse, "force=true")
    assert forced.code == 5, forced.out
    [line] = forced.error_lines()
    assert f"{adapter} is truncated or damaged" in line
    assert snapshot(fused) == before  # the finished fusion run, byte for byte
    assert not (fused / HELD).exists()


def test_a_forced_rerun_that_diverges_keeps_the_finished_run_and_status_says_so(
    work, reference, afuse_inproc
):
    run = copy_reference_run(reference, work)
    before = snapshot(run)
    args = overrides(work, reference.raw_dir)

    forced = afuse_inproc("train-adapter", *args, "force=true", fault="nan@5")
    assert forced.code == 6, forced.out
    assert snapshot(run) == before and not (run / "checkpoint").exists()

    preset = [*write_preset(work, ["cb"], [1]), f"paths.runs={work}/runs"]
    status = afuse_inproc("status", *preset)
    assert status_totals(status.out)["done"] == 1, status.out
    state, note = status_note(status.out, run)
    assert state == "done" and note.startswith("kept; a forced rerun failed: loss became nan"), status.out

    skipped = afuse_inproc("train-adapter", *args)
    assert skipped.code == 0 and "already complete" in skipped.out

    replaced = afuse_inproc("train-adapter", *args, "force=true", "trainer.lr=0.02")
    assert replaced.code == 0, replaced.out
    assert json.loads((run / PREVIOUS_METRICS).read_text()) == reference.metrics
    assert read_metrics(run)["history"] != reference.metrics["history"]  # the new run's result
    assert not (run / HELD).exists() and not (run / "failed.json").exists()


def test_a_forced_rerun_says_which_evaluations_and_predictions_of_the_old_model_it_removes(
    work, reference, afuse_inproc
):
    """eval/ and predict/ scored the replaced model: they went with it, without a word."""
    run = copy_reference_run(reference, work)
    for folder in ("eval/test", "eval/validation", "predict/test"):
        (run / folder).mkdir(parents=True)
        (run / folder / "predictions.parquet").write_bytes(b"old model's")
    args = overrides(work, reference.raw_dir)

    failed = afuse_inproc("train-adapter", *args, "force=true", fault="nan@5")
    assert failed.code == 6 and (run / "eval" / "test" / "predictions.parquet").is_file()
    assert ": removed eval/" not in failed.out, failed.out  # kept with the finished run

    replaced = afuse_inproc("train-adapter", *args, "force=true", "trainer.lr=0.02")
    assert replaced.code == 0, replaced.out
    assert not (run / "eval").exists() and not (run / "predict").exists()
    warned = [line for line in replaced.out.splitlines() if "when the new run is written" in line]
    removed = [line for line in replaced.out.splitlines() if ": removed eval/" in line]
    for lines in (warned, removed):
        assert len(lines) == 1, replaced.out
        assert "eval/ (test, validation)" in lines[0] and "predict/ (test)" in lines[0], lines


@pytest.mark.slow  # a child process killed outright
def test_a_forced_rerun_killed_outright_is_undone_by_the_next_command(work, reference, afuse_inproc):
    run = copy_reference_run(reference, work)
    before = snapshot(run)
    args = overrides(work, reference.raw_dir)
    killed = run_afuse("train-adapter", [*args, "force=true"], work, fault="SIGKILL@10")
    assert killed.code == -signal.SIGKILL, killed.out
    assert not is_complete(run) and (run / HELD).is_dir()  # the finished run, set aside

    rerun = afuse_inproc("train-adapter", *args)
    assert rerun.code == 0, rerun.out
    assert "the finished run is restored" in rerun.out and "already complete" in rerun.out
    assert snapshot(run) == before


@pytest.mark.parametrize("moved", [1, 5])  # of the run's 6 result files, metrics.json last
def test_a_forced_rerun_killed_while_setting_the_finished_run_aside_is_undone(
    moved, work, reference, afuse_inproc, monkeypatch
):
    # Setting a finished run aside is one rename per file: stopped between two of them (kill -9),
    # the run read as finished with files missing, and the next force=true deleted those files.
    run = copy_reference_run(reference, work)
    before = snapshot(run)
    args = overrides(work, reference.raw_dir)
    real, calls = forced._move, []

    def killed(path, target):
        if len(calls) == moved:
            raise KeyboardInterrupt  # in this process: the files stay where they are, like a kill
        calls.append(path.name)
        real(path, target)

    monkeypatch.setattr(forced, "_move", killed)
    assert afuse_inproc("train-adapter", *args, "force=true").code == 130
    monkeypatch.setattr(forced, "_move", real)

    rerun = afuse_inproc("train-adapter", *args)
    assert rerun.code == 0, rerun.out
    assert "already complete" in rerun.out and snapshot(run) == before
    forced_rerun = afuse_inproc("train-adapter", *args, "force=true")
    assert forced_rerun.code == 0, forced_rerun.out
    assert json.loads((run / PREVIOUS_METRICS).read_text()) == reference.metrics
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".")) == sorted(
        [*(name for name in before if "/" not in name), PREVIOUS_METRICS]
    )


# -- item 4: damaged finished runs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("metrics.json", "metrics.json: not readable JSON"),
        ("adapter.safetensors", "adapter.safetensors: Error while deserializing header"),
    ],
)
def test_a_damaged_finished_run_is_neither_skipped_nor_done(name, expected, work, reference, afuse_inproc):
    run = copy_reference_run(reference, work)
    damage(run / name)
    damaged = (run / name).read_bytes()
    args = overrides(work, reference.raw_dir)

    rerun = afuse_inproc("train-adapter", *args)
    assert rerun.code == 5, rerun.out
    [line] = rerun.error_lines()
    assert str(run) in line and expected in line and "force=true" in line
    assert "already complete" not in rerun.out
    assert (run / name).read_bytes() == damaged  # refused, not redone behind the user's back

    preset = [*write_preset(work, ["cb"], [1]), f"paths.runs={work}/runs", "data.max_train_examples=64"]
    status = afuse_inproc("status", *preset)
    assert status_totals(status.out)["damaged"] == 1 and status_totals(status.out)["done"] == 0, status.out
    state, note = status_note(status.out, run)
    assert state == "damaged" and note.startswith(expected), status.out
    command = note.split("retrain it: ", 1)[1]
    assert command.startswith("afuse train-adapter experiment=reliability") and command.endswith("force=true")
    assert "task=cb seed=1" in command and "data.max_train_examples=64" in command

    # What the note says to run (here with the test's own data settings): a finished run again.
    again = afuse_inproc("train-adapter", *args, "force=true")
    assert again.code == 0, again.out
    assert results(read_metrics(run)) == results(reference.metrics)


# -- item 14: long notes in full ----------------------------------------------------------------


def test_status_prints_a_long_error_in_full(work, afuse_inproc):
    preset = [*write_preset(work, ["cb"], [1]), f"paths.runs={work}/runs"]
    run = run_dir(work)
    run.mkdir(parents=True)
    error = "cannot read " + "/very/long/path" * 12 + "/adapter.safetensors: deserializing header: invalid"
    error += "; rerun with force=true"
    (run / "failed.json").write_text(json.dumps({"error": error, "type": "X", "at": "now"}))
    status = afuse_inproc("status", *preset)
    assert status.code == 0, status.out
    assert status_note(status.out, run) == ("failed", error)
    assert max(len(line) for line in status.out.splitlines() if line.startswith("failed ")) < 200


# -- raw files edited after a run finished, before anything prepared them again ----------------


def listed(out: str, run) -> tuple[str, str]:
    """(state, note) of `run` in `afuse list runs` output."""
    row = next(line for line in out.splitlines() if f" {run} " in f"{line} ")
    return row.split()[0], row.split(str(run), 1)[1].strip()


def test_a_run_whose_raw_files_were_edited_since_is_stale_and_not_skipped(work, reference, afuse_inproc):
    """A researcher fixes labels in a task's raw file: status still said done, the report kept the
    run and its own command skipped it, until some other command happened to prepare the task
    again. The raw files are compared with those its prepared copy was made from."""
    raw = work / "raw"
    shutil.copytree(reference.raw_dir / "CB", raw / "CB")
    args = [
        *(
            a
            for a in overrides(work, reference.raw_dir)
            if not a.startswith(("data.raw_dir=", "paths.data="))
        ),
        f"data.raw_dir={raw}",
        f"paths.data={work}/own_data",  # prepared from the copy in raw/, not the shared files
        "trainer.max_epochs=1",
    ]
    run = run_dir(work)
    assert afuse_inproc("train-adapter", *args).code == 0
    runs = ["runs", f"paths.runs={work}/runs", f"paths.data={work}/own_data"]
    assert listed(afuse_inproc("list", *runs).out, run)[0] == "done"

    train = raw / "CB" / "train.jsonl"
    train.chmod(0o644)
    train.write_text(train.read_text().replace('"entailment"', '"neutral"', 3))
    state, note = listed(afuse_inproc("list", *runs).out, run)
    assert state == "stale" and "raw files changed since they were prepared: cb (CB/train.jsonl)" in note, (
        note
    )
    refused = afuse_inproc("train-adapter", *args)
    assert refused.code == 2 and "skipping" not in refused.out, refused.out
    [line] = refused.error_lines()
    assert str(run) in line and "CB/train.jsonl" in line and "force=true" in line
    assert afuse_inproc("train-adapter", *args, "force=true").code == 0
    assert listed(afuse_inproc("list", *runs).out, run)[0] == "done"
