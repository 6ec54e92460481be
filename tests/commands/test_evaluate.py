"""`afuse evaluate`'s output folder: metrics.json is its completion mark, so a rerun into the same
folder that stops before its metrics.json must not leave the previous one beside new predictions."""

import json

import pytest

from afuse.commands import evaluate
from tests.commands import afuse_exit_code
from tests.inference.conftest import untrained_head_run


def test_a_rerun_stopped_before_its_metrics_leaves_no_earlier_metrics_beside_new_predictions(
    tmp_path, shared_data, monkeypatch
):
    run = untrained_head_run(tmp_path, "cb")
    rows = [json.loads(line) for line in (shared_data / "CB" / "val.jsonl").read_text().splitlines()]
    scored = tmp_path / "mine.jsonl"
    scored.write_text("".join(json.dumps(r) + "\n" for r in rows[:20]))
    args = ["name=mine", f"paths.logs={tmp_path}/logs", f"paths.data={tmp_path}/data"]
    assert afuse_exit_code("evaluate", f"run={run}", f"file={scored}", *args) == 0
    out = run / "eval" / "mine"
    assert json.loads((out / "metrics.json").read_text())["n"] == 20

    def stopped(path, data):
        raise KeyboardInterrupt  # Ctrl-C (or a kill) after the predictions, before the metrics

    monkeypatch.setattr(evaluate, "atomic_write_json", stopped)
    scored.write_text("".join(json.dumps(r) + "\n" for r in rows[20:]))  # the same file, edited since
    assert afuse_exit_code("evaluate", f"run={run}", f"file={scored}", *args) == 130
    assert not (out / "metrics.json").exists()  # the folder reads as not evaluated


@pytest.mark.parametrize(("command", "rows"), [("evaluate", "val.jsonl"), ("predict", "test.jsonl")])
def test_an_out_under_a_file_is_one_line(command, rows, tmp_path, shared_data, capsys):
    # Both clear an earlier output of theirs first (its metrics.json, its submission file).
    run = untrained_head_run(tmp_path, "cb")
    blocker = tmp_path / "a file"
    blocker.write_text("mine")
    args = [
        f"run={run}",
        f"file={shared_data / 'CB' / rows}",
        f"out={blocker}",
        f"paths.logs={tmp_path}/logs",
    ]
    assert afuse_exit_code(command, *args) == 7
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"cannot write {blocker}" in err
    assert blocker.read_text() == "mine"


@pytest.mark.parametrize(("command", "rows"), [("evaluate", "val.jsonl"), ("predict", "test.jsonl")])
def test_a_run_trained_on_other_torch_or_transformers_versions_is_said_in_one_line(
    command, rows, tmp_path, shared_data, capsys
):
    """Scores then may not reproduce the run's metrics.json to the last digit: say why up front.
    A record without an environment (older runs) or with this process's versions says nothing."""
    import torch

    from afuse.environment import run_environment

    run = untrained_head_run(tmp_path, "cb")
    args = [f"run={run}", f"file={shared_data / 'CB' / rows}", f"paths.logs={tmp_path}/logs"]
    metrics = json.loads((run / "metrics.json").read_text())
    for environment, said in (
        (None, False),
        (run_environment(torch.device("cpu")), False),
        ({**run_environment(torch.device("cpu")), "torch": "2.0.0"}, True),
    ):
        if environment is not None:
            metrics["environment"] = environment
            (run / "metrics.json").write_text(json.dumps(metrics))
        assert afuse_exit_code(command, *args, "name=scored") == 0
        err = capsys.readouterr().err
        line = f"trained on torch 2.0.0 (here {torch.__version__})"
        assert (line in err) is said, err
        if said:
            assert "metrics.json" in err and len([x for x in err.splitlines() if line in x]) == 1
