"""Adapters by Hub id over HTTP: afuse.hub_adapters.hub_adapter_dir in its own process, with
HF_ENDPOINT pointing at a stand-in for the Hub (tests/fake_hub.py) serving an AdapterHub-format
repository. test_hub_adapters.py covers what afuse does with the files; this, the download."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_hub import FakeHub

REPO = Path(__file__).resolve().parents[2]
ADAPTERHUB = REPO / "tests" / "fixtures" / "adapterhub" / "bert"
REFUSING = "http://127.0.0.1:9"
ASK = "from afuse.hub_adapters import hub_adapter_dir; import sys; print(hub_adapter_dir(sys.argv[1]))"

pytestmark = pytest.mark.slow  # a process per call


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    repo = models / "main" / "AdapterHub" / "tiny-pf-rte"
    repo.mkdir(parents=True)
    for folder in ("st", "head_linear"):
        for file in (ADAPTERHUB / folder).iterdir():
            shutil.copy(file, repo / file.name)
    (repo / "pytorch_model.bin").write_bytes(b"a whole model: not an adapter's file")
    served = FakeHub(REPO / "tests" / "fixtures" / "hub", models)
    yield served
    served.close()


def ask(tmp_path: Path, endpoint: str, repo_id: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", ASK, repo_id]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_only_the_adapters_files_are_downloaded_then_read_offline_from_the_cache(hub, tmp_path):
    first = ask(tmp_path, hub.url, "AdapterHub/tiny-pf-rte")
    assert first.returncode == 0, first.stderr
    folder = Path(first.stdout.strip())
    assert {p.name for p in folder.iterdir()} == {
        "adapter_config.json",
        "pytorch_adapter.bin",  # as AdapterHub's own repositories hold it
        "head_config.json",
        "model_head.safetensors",
    }
    assert not any(r.endswith("pytorch_model.bin") for r in hub.requests)

    again = ask(tmp_path, REFUSING, "AdapterHub/tiny-pf-rte")
    assert again.returncode == 0, again.stderr
    assert Path(again.stdout.strip()) == folder and "thrown while requesting" not in again.stderr


@pytest.mark.parametrize(
    ("endpoint", "error"),
    [
        (
            "hub",
            "afuse.errors.ConfigError: 'AdapterHub/none' is neither a directory here nor an adapter repository",
        ),
        (
            REFUSING,
            "afuse.errors.OfflineError: 'AdapterHub/none' is not a directory here, and as a Hugging Face Hub",
        ),
    ],
)
def test_an_unknown_adapter_id_is_one_error(endpoint, error, hub, tmp_path):
    result = ask(tmp_path, hub.url if endpoint == "hub" else endpoint, "AdapterHub/none")
    assert result.returncode == 1 and result.stderr.strip().splitlines()[-1].startswith(error), result.stderr
    assert "thrown while requesting" not in result.stderr
