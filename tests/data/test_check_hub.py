"""experiments/check_hub.py: one line per task comparing a Hub copy with the task config's numbers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.check_hub import differences, hub_tasks, main

REPO = Path(__file__).resolve().parents[2]


def test_it_checks_the_15_hub_tasks_and_each_records_its_split_sizes():
    from afuse.config import task_config

    tasks = hub_tasks()
    assert len(tasks) == 15 and "argument" not in tasks
    for task in tasks:
        expected = task_config(task).hub.expected
        assert set(expected) == {"train", "test"} and all(expected[s].rows > 0 for s in expected), task


def test_differences_name_rows_and_labels():
    manifest = {"official_splits": {"train": {"rows": 10, "label_distribution": {"a": 6, "b": 4}}}}
    assert differences(manifest, {"train": {"rows": 10, "labels": {"a": 6, "b": 4}}}) == []
    assert differences(manifest, {"train": {"rows": 10}}) == []
    assert differences(
        manifest, {"train": {"rows": 11, "labels": {"a": 5, "b": 5}}, "test": {"rows": 3}}
    ) == [
        "train 10 rows, expected 11",
        "train labels {'a': 6, 'b': 4}, expected {'a': 5, 'b': 5}",
        "no official test split",
    ]


def test_small_hub_copies_are_reported_as_mismatches(local_hub, tmp_path, capsys):
    # The fixtures hold a few rows of each split: every recorded size must be reported as different.
    code = main(["rte", "siqa", "--data", str(tmp_path / "data")])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0].startswith(
        "rte         MISMATCH  train 6 rows, expected 2490; train labels {'entailment': 3, "
    )
    assert lines[1].startswith("siqa        MISMATCH  train 6 rows, expected 33410")
    assert len(lines) == 2


@pytest.mark.slow  # a child process
def test_offline_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", PYTHONPATH=str(REPO))  # nothing listens on the discard port
    result = subprocess.run(
        [sys.executable, str(REPO / "experiments" / "check_hub.py"), "--data", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 4
    assert (result.stdout + result.stderr).strip() == (
        "check_hub: cannot reach the Hugging Face Hub at http://127.0.0.1:9; nothing was checked: "
        "run it on a machine with internet (HF_ENDPOINT=<url> for a mirror)"
    )
