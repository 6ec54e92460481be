"""`afuse prepare-data` end to end, as a user runs it (a subprocess of the CLI)."""

import json
import os
import subprocess
import sys

import pytest

from afuse.config import OWN_TASK_HINT, PAPER_TASKS
from afuse.paths import conf_dir

pytestmark = pytest.mark.slow

REPO_ROOT = conf_dir().parent


def afuse(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    environment.pop("HF_HUB_OFFLINE", None)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "afuse.cli", "prepare-data", *args, f"paths.logs={cwd}/logs"],
                          cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)  # fmt: skip


def output_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def test_offline_hub_fails_fast_with_one_line(tmp_path):
    # HF_ENDPOINT points at a port nothing listens on: offline even where CI has a network.
    result = afuse("task=rte", "data.source=hub", cwd=tmp_path, env={"HF_ENDPOINT": "http://127.0.0.1:9"})
    assert result.returncode == 4
    (line,) = output_lines(result)
    assert "afuse prepare-data: error: task rte: cannot load dataset 'nyu-mll/glue' (config rte)" in line
    assert line.endswith("no network? use data.source=local data.raw_dir=<dir>")


def test_unknown_task_lists_the_valid_names(tmp_path):
    result = afuse("task=nope", cwd=tmp_path)
    assert result.returncode == 2
    [line] = (result.stdout + result.stderr).strip().splitlines()
    assert line.startswith("afuse prepare-data: error: unknown task 'nope'; valid: ")
    valid, own = line.split("valid: ")[1].split(" (", 1)
    assert sorted(valid.split()) == sorted(PAPER_TASKS)
    assert own == f"{OWN_TASK_HINT})"


def test_rte_from_the_shared_data_writes_data_and_manifest(tmp_path, shared_data):
    result = afuse("task=rte", "data.source=local", f"data.raw_dir={shared_data}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    prepared = tmp_path / "data" / "prepared" / "rte"  # paths.data defaults to ./data
    manifest = json.loads((prepared / "manifest.json").read_text())
    assert {s: e["rows"] for s, e in manifest["splits"].items()} == {
        "train": 2241,
        "validation": 249,
        "test": 277,
    }
    assert sorted(p.name for p in prepared.glob("*.parquet")) == [
        "test.parquet",
        "train.parquet",
        "validation.parquet",
    ]


def test_multirun_over_tasks(tmp_path, fixture_data):
    result = afuse(
        "-m", "task=rte,cb,argument", "data.source=local", f"data.raw_dir={fixture_data}",
        "data.max_malformed_fraction=1", cwd=tmp_path,  # the fixtures are messy on purpose
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.parent.name for p in (tmp_path / "data/prepared").glob("*/manifest.json")) == [
        "argument",
        "cb",
        "rte",
    ]


def test_missing_raw_data_is_one_line_with_the_path(tmp_path):
    result = afuse("task=cb", "data.source=local", f"data.raw_dir={tmp_path}", cwd=tmp_path)
    assert result.returncode == 3
    (line,) = output_lines(result)
    assert f"missing raw data folder {tmp_path / 'CB'}" in line and "super.gluebenchmark.com" in line
