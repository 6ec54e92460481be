"""Bad run= / file= / format settings: one line naming what is wrong, a non-zero exit, no traceback."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from afuse.paths import conf_dir
from tests.inference.conftest import untrained_head_run

pytestmark = pytest.mark.slow

REPO_ROOT = conf_dir().parent


def afuse(command: str, *args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "afuse.cli", command, *args, f"paths.logs={cwd}/logs"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def head_run(tmp_path_factory):
    return untrained_head_run(tmp_path_factory.mktemp("errors"), "cb")


def test_bad_settings_fail_with_one_line(head_run, shared_data, tmp_path):
    unfinished = tmp_path / "runs" / "stage1" / "tiny" / "head" / "cb" / "seed2"
    unfinished.mkdir(parents=True)
    (unfinished / "config.yaml").write_text((head_run / "config.yaml").read_text())
    no_encoder = tmp_path / "runs" / "stage1" / "tiny" / "full" / "cb" / "seed1"
    shutil.copytree(head_run, no_encoder)
    (no_encoder / "metrics.json").write_text(json.dumps({"kind": "full", "test": {"accuracy": 0.5}}))
    sst2 = shared_data / "SST-2" / "dev.tsv"
    cases = [
        ("evaluate", [f"run={tmp_path}/nope"], "no such directory"),
        ("evaluate", [f"run={tmp_path}"], "is not a run directory"),
        ("evaluate", [f"run={head_run}/metrics.json"], "is a file, not a run directory; pass the folder that holds it"),
        ("evaluate", [f"run={unfinished}"], "the run is not finished"),
        ("evaluate", [f"run={no_encoder}"], "trained without save_encoder=true"),
        ("evaluate", [], "no model given: add run=<run dir>"),
        ("evaluate", [f"adapterhub={head_run}", "task=cb"], f"adapterhub={head_run} is an afuse run directory: pass it as run={head_run}"),
        ("evaluate", [f"run={head_run}", "split=dev"], "split must be one of test, validation, train or null (got 'dev')"),
        ("evaluate", [f"run={head_run}", f"file={tmp_path}/missing.tsv"], "no such file"),
        ("predict", [f"run={head_run}", f"file={shared_data}/CB"], "is a directory; pass one of its files"),
        ("evaluate", [f"run={head_run}", f"file={sst2}"], "do not match task cb's"),
        ("evaluate", [f"run={head_run}", f"file={sst2}", "file.format=xml"], "file.format='xml' is not a known format"),
        ("evaluate", [f"run={head_run}", f"file={sst2}", "file.header=false"], "file.header=false needs the columns"),
        ("evaluate", [f"run={head_run}", f"file={sst2}", "split=test"], "not both"),
        ("predict", [f"run={head_run}"], "needs the text to label: add file=<path>"),
        ("predict", [f"run={head_run}", f"file={shared_data}/CB/test.jsonl", "format=kaggle"], "format='kaggle' is not a submission format"),
        ("predict", [f"run={head_run}", f"file={shared_data}/CB/test.jsonl", "format=glue"], "cb is in format=superglue"),
        ("evaluate", [f"run={head_run}", "task=rte"], "predicts cb, not rte"),
        ("evaluate", [f"run={head_run}", "batch_size=0"], "batch_size must be an integer >= 1"),
        # model= is for adapterhub=; a run was rebuilt on its own model, the setting ignored without a word
        ("evaluate", [f"run={head_run}", "model=minilm"], "model=minilm: a run is rebuilt on the model it was trained on (tiny)"),
        ("predict", [f"run={head_run}", f"file={shared_data}/CB/test.jsonl", "model.family=roberta"], "model.family=roberta: a run is rebuilt on the model it was trained on (tiny)"),
    ]  # fmt: skip
    for command, args, expected in cases:
        result = afuse(command, *args, cwd=tmp_path)
        output = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
        assert result.returncode != 0, (args, output)
        assert "Traceback" not in result.stderr, (args, result.stderr[-2000:])
        errors = [line for line in output if f"afuse {command}: error:" in line]
        assert len(errors) == 1 and expected in errors[0], (args, output)
