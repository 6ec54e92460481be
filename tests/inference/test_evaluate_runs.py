"""`afuse evaluate run=<dir>`: the rebuilt model of every run kind gives the run's own test
result, and evaluating never changes the run's own files."""

import json
import re

import pandas as pd
import pytest

from afuse.cli import main as afuse_main
from afuse.runs import read_metrics
from tests.inference.conftest import afuse, checksums

KINDS = ["st_a", "houlsby", "head", "full", "fusion", "mt_a"]


@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_reproduces_the_runs_test_result(run_tree, kind):
    run = run_tree.run(kind)
    before = checksums(run)
    task = ["task=cb"] if kind == "mt_a" else []
    afuse("evaluate", f"run={run}", *run_tree.eval_args(*task))
    assert checksums(run) == before  # nothing of the run itself was written

    out = run / "eval" / ("cb_test" if kind == "mt_a" else "test")
    result = json.loads((out / "metrics.json").read_text())
    recorded = read_metrics(run)
    recorded = recorded["tasks"]["cb"]["test"] if kind == "mt_a" else recorded["test"]
    assert result["kind"] == kind and result["task"] == "cb"
    assert result["accuracy"] == recorded["accuracy"]
    assert result["n"] == recorded["n"] == recorded["split_rows"] == 56  # the whole split was scored
    assert result["majority_rate"] == recorded["majority_rate"]
    # The loss depends on every logit: a model rebuilt even slightly wrong would not match it.
    assert result["loss"] == pytest.approx(recorded["loss"], rel=1e-5)
    assert result["recorded_test_accuracy"] == recorded["accuracy"]
    assert result["same_data_as_run"] is True  # the prepared split file the run read, by sha256

    predictions = pd.read_parquet(out / "predictions.parquet")
    assert len(predictions) == 56 and predictions["id"].is_unique
    assert (predictions["gold"] == predictions["predicted"]).mean() == result["accuracy"]
    probabilities = predictions[["prob_entailment", "prob_contradiction", "prob_neutral"]].to_numpy()
    assert probabilities.sum(1) == pytest.approx(1.0, abs=1e-5)
    assert sum(c["support"] for c in result["per_class"].values()) == 56
    assert sum(map(sum, result["confusion_matrix"]["matrix"])) == 56


def test_an_mt_a_runs_tasks_are_evaluated_into_folders_of_their_own(run_tree):
    """Both tasks' test splits defaulted to eval/test/: evaluating rte overwrote cb's results."""
    run = run_tree.run("mt_a")
    for task in ("cb", "rte"):
        afuse("evaluate", f"run={run}", *run_tree.eval_args(f"task={task}"))
    for task in ("cb", "rte"):
        result = json.loads((run / "eval" / f"{task}_test" / "metrics.json").read_text())
        assert result["task"] == task
        assert result["accuracy"] == read_metrics(run)["tasks"][task]["test"]["accuracy"]


def test_fusion_records_activations_over_the_evaluated_rows(run_tree):
    run = run_tree.run("fusion")
    afuse("evaluate", f"run={run}", *run_tree.eval_args("name=fusion-activations"))
    evaluated = json.loads((run / "eval" / "fusion-activations" / "activations.json").read_text())
    trained = json.loads((run / "activations.json").read_text())
    # fusion.sources=[cb,rte], fused in the paper's order
    assert evaluated["sources"] == trained["sources"] == ["rte", "cb"]
    assert evaluated["tokens"] == trained["tokens"]  # the same test rows, every non-padding token
    for row, expected in zip(evaluated["matrix"], trained["matrix"], strict=True):
        assert sum(row) == pytest.approx(1.0)
        assert row == pytest.approx(expected, abs=1e-6)


def test_validation_split_reproduces_the_best_epochs_validation_accuracy(run_tree):
    run = run_tree.run("st_a")
    afuse("evaluate", f"run={run}", "split=validation", *run_tree.eval_args())
    result = json.loads((run / "eval" / "validation" / "metrics.json").read_text())
    recorded = read_metrics(run)["validation"]
    assert result["accuracy"] == recorded["accuracy"] and result["n"] == recorded["n"]
    assert "recorded_test_accuracy" not in result
    assert result["source"]["split"] == "validation" and len(result["source"]["sha256"]) == 64


def test_an_evaluated_file_never_replaces_the_evaluated_split_of_the_same_name(run_tree, tmp_path, capsys):
    """`afuse evaluate` of split=test and of a labelled file test.jsonl both defaulted to test/."""
    run = run_tree.run("st_a")
    labelled = tmp_path / "mine" / "test.jsonl"
    labelled.parent.mkdir()
    labelled.write_text("".join((run_tree.raw_dir / "CB" / "val.jsonl").read_text().splitlines(True)[:8]))
    args = [f"run={run}", *run_tree.eval_args(f"out={tmp_path}/eval")]
    afuse("evaluate", *args)
    split_metrics = (tmp_path / "eval" / "test" / "metrics.json").read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        afuse_main(["evaluate", *args, f"file={labelled}"])
    output = capsys.readouterr()
    assert exit_.value.code == 2
    assert (tmp_path / "eval" / "test" / "metrics.json").read_bytes() == split_metrics
    errors = [line for line in (output.out + output.err).splitlines() if "error:" in line]
    assert len(errors) == 1 and "the test split" in errors[0] and "name=mine_test" in errors[0], errors


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("fusion.safetensors", "fusion.safetensors is missing, so the trained model cannot be rebuilt"),
        ("source run", "the adapters this Fusion run was trained over are not in its runs tree"),
    ],
)
def test_both_rebuilders_of_a_fusion_run_say_which_file_is_missing(run_tree, remove, message, tmp_path):
    # evaluate / predict (load_run) and the Python API (load_run_model) rebuild a Fusion run the
    # same way, with the same one-line message when one of its files is gone.
    import shutil

    from afuse.errors import MissingInputError
    from afuse.inference.rebuild import load_run
    from afuse.run_model import load_run_model

    runs = tmp_path / "runs"
    shutil.copytree(run_tree.runs, runs)
    run = runs / run_tree.run("fusion").relative_to(run_tree.runs)
    if remove == "fusion.safetensors":
        (run / remove).unlink()
    else:
        shutil.rmtree(runs / run_tree.run("st_a").relative_to(run_tree.runs))
    for rebuild in (load_run, load_run_model):
        with pytest.raises(MissingInputError, match=re.escape(message)):
            rebuild(run)


def test_an_mt_a_run_is_scored_with_the_task_settings_it_was_trained_with(run_tree, tmp_path, monkeypatch):
    """An MT-A run's config.yaml named only its tasks: evaluate read their settings from conf/task/
    as they are now, so a task config changed since (max_length) scored other numbers without a word."""
    import shutil

    from afuse import config
    from afuse.inference import rebuild

    run = tmp_path / "mt_a"
    shutil.copytree(run_tree.run("mt_a"), run, ignore=shutil.ignore_patterns("eval"))
    recorded = read_metrics(run)["tasks"]["cb"]["test"]
    trained_with = config.task_config

    def changed_since(name):  # conf/task/cb.yaml edited after the run: shorter inputs
        task = trained_with(name)
        task.max_length = 16
        return task

    monkeypatch.setattr(config, "task_config", changed_since)
    monkeypatch.setattr(rebuild, "task_config", changed_since, raising=False)  # as imported there before
    afuse("evaluate", f"run={run}", *run_tree.eval_args("task=cb"))
    result = json.loads((run / "eval" / "cb_test" / "metrics.json").read_text())
    assert result["loss"] == pytest.approx(recorded["loss"], rel=1e-5)


def test_a_split_prepared_again_from_other_raw_files_is_said_and_recorded(run_tree, tmp_path, capsys):
    """The same command in another paths.data, or after the task's raw files changed, scores other
    rows than the run was tested on: its accuracy then differs from the run's for that reason alone,
    which evaluate used to leave unsaid ("the run recorded <accuracy>")."""
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(run_tree.raw_dir / "CB", raw / "CB")
    dev = (raw / "CB" / "val.jsonl").read_text().splitlines(True)
    (raw / "CB" / "val.jsonl").write_text("".join(dev[:-6]))  # an edited copy of the official dev set
    run = run_tree.run("st_a")
    args = [f"paths.data={tmp_path}/data", f"paths.logs={tmp_path}/logs", "progress_bar=false"]
    afuse("evaluate", f"run={run}", f"data.raw_dir={raw}", f"out={tmp_path}/eval", *args)
    result = json.loads((tmp_path / "eval" / "test" / "metrics.json").read_text())
    assert result["n"] == 50 and result["same_data_as_run"] is False
    output = capsys.readouterr()
    said = [line for line in output.err.splitlines() if "is not the one the run read" in line]
    assert len(said) == 1 and "not comparable with the run's own" in said[0], said
    assert "(the run recorded" in output.out and "on other data)" in output.out

    # The run's own copy of the data again, in a fresh paths.data: the same file, nothing said.
    afuse("evaluate", f"run={run}", f"out={tmp_path}/eval2", *args[1:], f"paths.data={tmp_path}/data2")
    result = json.loads((tmp_path / "eval2" / "test" / "metrics.json").read_text())
    assert result["same_data_as_run"] is True and result["n"] == 56
    assert "is not the one the run read" not in capsys.readouterr().err


def test_a_file_or_a_record_without_its_data_is_not_compared(run_tree, tmp_path):
    run = run_tree.run("st_a")
    scored = tmp_path / "mine.jsonl"
    scored.write_text("".join((run_tree.raw_dir / "CB" / "val.jsonl").read_text().splitlines(True)[:8]))
    afuse("evaluate", f"run={run}", f"file={scored}", *run_tree.eval_args(f"out={tmp_path}/eval"))
    assert json.loads((tmp_path / "eval" / "mine" / "metrics.json").read_text())["same_data_as_run"] is None
