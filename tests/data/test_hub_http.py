"""The default data path (data.source=hub) over HTTP: `afuse prepare-data` in its own process with
HF_ENDPOINT pointing at a stand-in for the Hub (fake_hub.py) serving the fixtures' copies of the
Hub datasets. Unlike test_hub_fixtures.py, which hands load_dataset the local folders, every
request a user's run makes goes out: the reachability probe, README and config resolution, the
commit-pinned file downloads, the loading-script refusal and the refs/convert/parquet export.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_hub import FakeHub

REPO = Path(__file__).resolve().parents[2]
HUB_FIXTURES = REPO / "tests" / "fixtures" / "hub"

pytestmark = pytest.mark.slow  # a process per command (about 3 s each)


@pytest.fixture(scope="module")
def hub():
    served = FakeHub(HUB_FIXTURES)
    yield served
    served.close()


def prepare(tmp_path: Path, endpoint: str, *args: str, offline: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "AFUSE_DATA_SOURCE"))}
    env |= {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    env |= {"HF_HUB_OFFLINE": "1"} if offline else {}
    command = [sys.executable, "-m", "afuse.cli", "prepare-data", *args, "data.source=hub"]
    command += [f"paths.data={tmp_path}/data", f"paths.logs={tmp_path}/logs"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def manifest(tmp_path: Path, task: str) -> dict:
    return json.loads((tmp_path / "data" / "prepared" / task / "manifest.json").read_text())


@pytest.mark.parametrize(
    ("task", "fetched"),
    [
        ("rte", "/datasets/nyu-mll/glue/resolve/"),  # a README `configs:` dataset
        ("hellaswag", "/datasets/Rowan/hellaswag/resolve/refs%2Fconvert%2Fparquet/"),  # script -> export
        ("siqa", "/datasets/allenai/social_i_qa/resolve/refs%2Fconvert%2Fparquet/"),  # pinned to the export
    ],
)
def test_a_task_is_prepared_from_the_hub_over_http(task, fetched, hub, tmp_path):
    before = len(hub.requests)
    result = prepare(tmp_path, hub.url, f"task={task}")
    assert result.returncode == 0, result.stderr
    requests = hub.requests[before:]
    assert any(fetched in r for r in requests) and any(r.endswith(".parquet") for r in requests), requests
    assert manifest(tmp_path, task)["source"] == "hub"
    assert (
        sum(split["rows"] for split in manifest(tmp_path, task)["splits"].values()) == 10
    )  # 6 train + 4 dev
    # huggingface_hub's client logs each request at INFO: dozens of console lines per dataset
    assert "HTTP Request" not in result.stderr + result.stdout


def test_a_prepared_hub_task_is_read_again_from_the_cache_offline(hub, tmp_path):
    assert prepare(tmp_path, hub.url, "task=rte").returncode == 0
    again = prepare(tmp_path, hub.url, "task=rte", "force=true", offline=True)
    assert again.returncode == 0, again.stderr
    for never in ("mrpc", "cb"):  # another config of the cached repository; a repository never read
        result = prepare(tmp_path, hub.url, f"task={never}", offline=True)
        assert result.returncode == 4, result.stderr
        [error] = [line for line in result.stderr.splitlines() if "error:" in line]
        assert "HF_HUB_OFFLINE is set and the Hugging Face cache holds no copy of it: " in error, error
        assert "no network?" not in error and "data.source=local" in error


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("task.hub.path=nobody/nothing", "the Hub has no dataset 'nobody/nothing' (config rte) ("),
        ("task.hub.revision=v9", "the Hub has no dataset 'nyu-mll/glue' (config rte) at revision 'v9' ("),
        ("task.hub.name=rtee", "BuilderConfig 'rtee' not found. Available: ['rte',"),
        ("task.hub.splits.test=dev", "has no split 'dev' (it has: train, validation); fix hub.splits"),
    ],
)
def test_a_wrong_hub_setting_is_one_line_naming_it(setting, said, hub, tmp_path):
    result = prepare(tmp_path, hub.url, "task=rte", setting)
    assert result.returncode == 2, result.stderr
    [error] = [line for line in result.stderr.splitlines() if "error:" in line]
    assert said in error and "conf/task/rte.yaml" in error, error


def test_an_unreachable_hub_is_one_line_at_once(tmp_path):
    result = prepare(tmp_path, "http://127.0.0.1:9", "task=rte")
    assert result.returncode == 4
    assert "http://127.0.0.1:9 unreachable" in result.stderr and "data.source=local" in result.stderr
    assert not (tmp_path / "data" / "prepared" / "rte").exists()
