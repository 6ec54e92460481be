"""`afuse evaluate`'s output folder: metrics.json is its completion mark, so a rerun into the same
folder that stops before its metrics.json must not leave the previous one beside new predictions."""

import json

from afuse.cli import main as afuse_main
from afuse.commands import evaluate
from tests.inference.conftest import untrained_head_run


def run_evaluate(*args: str) -> int:
    try:
        afuse_main(["evaluate", *args])
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


def test_a_rerun_stopped_before_its_metrics_leaves_no_earlier_metrics_beside_new_predictions(
    tmp_path, shared_data, monkeypatch
):
    run = untrained_head_run(tmp_path, "cb")
    rows = [json.loads(line) for line in (shared_data / "CB" / "val.jsonl").read_text().splitlines()]
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows[:20]))
    second.write_text("".join(json.dumps(r) + "\n" for r in rows[20:]))
    args = ["name=mine", f"paths.logs={tmp_path}/logs", f"paths.data={tmp_path}/data"]
    assert run_evaluate(f"run={run}", f"file={first}", *args) == 0
    out = run / "eval" / "mine"
    assert json.loads((out / "metrics.json").read_text())["n"] == 20

    def stopped(path, data):
        raise KeyboardInterrupt  # Ctrl-C (or a kill) after the predictions, before the metrics

    monkeypatch.setattr(evaluate, "atomic_write_json", stopped)
    assert run_evaluate(f"run={run}", f"file={second}", *args) == 130
    assert not (out / "metrics.json").exists()  # the folder reads as not evaluated
