"""experiments/run_table.py: the README's run rows, read from metrics.json files."""

import json

from experiments.run_table import table


def _metrics(root, rel, **fields):
    run = root / rel
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps(fields))


def test_rows_follow_finishing_order_and_show_the_best_validation_epoch(tmp_path):
    common = {"kind": "st_a", "variant": "pfeiffer_rf16", "train_examples": 3518, "stopped_early": True}
    _metrics(
        tmp_path,
        "stage1/m/pfeiffer_rf16/mrpc/seed2",
        **common,
        task="mrpc",
        seed=2,
        epochs_run=4,
        best_epoch=2,
        timing={"train_s": 552.0, "test_eval_s": 8.0},
        history=[{"accuracy": 0.68}, {"accuracy": 0.7}, {"accuracy": 0.69}],
        validation={"accuracy": 0.7},
        test={"accuracy": 0.745, "n": 408},
        finished_at="2026-11-30T05:17:34+00:00",
    )
    _metrics(
        tmp_path,
        "stage1/m/pfeiffer_rf16/mrpc/seed1",
        **common,
        task="mrpc",
        seed=1,
        epochs_run=3,
        best_epoch=3,
        timing={"train_s": 60.0, "test_eval_s": 0.0},
        history=[],
        validation={"accuracy": 0.5},
        test={"accuracy": 0.5, "n": 2},
        finished_at="2026-11-30T06:00:00+00:00",
    )
    lines = table(tmp_path).splitlines()
    assert lines[2] == (
        "| st_a pfeiffer_rf16 mrpc seed 2 | 3518 | 4 (2) | yes | 9.3 min | 70.00 | 74.50 (408) | 05:17:34 |"
    )
    assert lines[3].startswith(
        "| st_a pfeiffer_rf16 mrpc seed 1 | 3518 | 3 (3) | yes | 1.0 min | 50.00 | 50.00 (2)"
    )
    assert len(lines) == 4
