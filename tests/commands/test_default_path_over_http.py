"""A researcher with internet, on the defaults: `afuse train-adapter task=rte` with no setting at
all reads RTE from the Hub (data.source=hub) and bert-base-uncased from the Hub. Here the Hub is
a stand-in on localhost (tests/fake_hub.py) serving the fixtures' copies of the datasets and a
small BERT under the id `google-bert/bert-base-uncased`; everything else is afuse as shipped,
each command in its own process, as a log file records it (stderr not a terminal).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_hub import FakeHub, write_small_bert

REPO = Path(__file__).resolve().parents[2]
NOISE = ("HTTP Request", "Generating train split", "Loading weights", "thrown while requesting")

pytestmark = pytest.mark.slow  # a process per command, each loading torch


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    write_small_bert(models, "google-bert/bert-base-uncased")  # conf/model/bert-base-uncased.yaml's id
    served = FakeHub(REPO / "tests" / "fixtures" / "hub", models)
    yield served
    served.close()


def afuse(cwd: Path, endpoint: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "AFUSE_"))}
    env |= {"HF_ENDPOINT": endpoint, "HF_HOME": str(cwd / "hf"), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "afuse.cli", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_stage_1_stage_2_and_the_report_on_the_defaults(hub, tmp_path):
    for args in (["train-adapter", "task=rte"], ["train-adapter", "task=cb"]):
        result = afuse(tmp_path, hub.url, *args)
        assert result.returncode == 0, result.stderr
        assert "done: test accuracy" in result.stderr
        assert not [noise for noise in NOISE if noise in result.stderr], result.stderr
    fused = afuse(tmp_path, hub.url, "fuse", "target=rte", "fusion.sources=[rte,cb]")
    assert fused.returncode == 0, fused.stderr
    assert (tmp_path / "runs" / "stage1" / "bert-base-uncased" / "pfeiffer_rf16" / "rte" / "seed1").is_dir()
    report = afuse(tmp_path, "http://127.0.0.1:9", "report")  # reads the runs only: no Hub needed
    assert report.returncode == 0, report.stderr
    table = (tmp_path / "results" / "runs" / "accuracy.md").read_text()
    assert "| RTE |" in table and "| CB |" in table
