"""A model from the Hub (model source `hub`, as bert-base-uncased) over HTTP: `afuse train-adapter`
in its own process with HF_ENDPOINT pointing at a stand-in for the Hub (tests/fake_hub.py)
serving a small BERT saved with save_pretrained, as a Hub repository holds it.

A cluster's compute nodes often have no internet and a filled Hugging Face cache: a run there
must read the cache at once, not after huggingface_hub's retries of every file (31-62 s before
afuse asked the endpoint once first: afuse/hub_probe.py).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REFUSING = "http://127.0.0.1:9"  # nothing listens on the discard port
RETRIED = "thrown while requesting"  # huggingface_hub's line for each failed, retried request

pytestmark = pytest.mark.slow  # a process per command, each loading torch


@pytest.fixture(scope="module")
def hub(hub_with_small_bert):
    return hub_with_small_bert


def train(tmp_path: Path, raw: Path, endpoint: str, hub_id: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "afuse.cli", "train-adapter", "task=cb", "model=bert-base-uncased"]
    command += [
        f"model.hub_id={hub_id}",
        "data.source=local",
        f"data.raw_dir={raw}",
    ]
    command += ["data.max_train_examples=32", "trainer.max_epochs=1", *args]
    command += [f"paths.runs={tmp_path}/runs", f"paths.data={tmp_path}/data", f"paths.logs={tmp_path}/logs"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_a_hub_model_is_downloaded_then_read_from_the_cache_without_retries(hub, tmp_path, shared_data):
    first = train(tmp_path, shared_data, hub.url, "someone/small-bert")
    assert first.returncode == 0, first.stderr
    assert any(r.endswith("/someone/small-bert/resolve/main/model.safetensors") for r in hub.requests)
    assert "HTTP Request" not in first.stderr  # the client's request log, dozens of lines

    offline = train(tmp_path, shared_data, REFUSING, "someone/small-bert", "force=true")
    assert offline.returncode == 0, offline.stderr
    assert RETRIED not in offline.stderr and "done: test accuracy" in offline.stderr


def test_a_hub_model_that_is_not_cached_fails_at_once_when_the_hub_is_unreachable(tmp_path, shared_data):
    result = train(tmp_path, shared_data, REFUSING, "someone/never-downloaded")
    assert result.returncode == 4, result.stderr
    [error] = [line for line in result.stderr.splitlines() if "error:" in line]
    assert (
        f"cannot load model 'someone/never-downloaded' from the Hugging Face Hub ({REFUSING} unreachable"
        in error
    )
    assert "not in the local cache" in error and "model=minilm" in error
    assert RETRIED not in result.stderr
