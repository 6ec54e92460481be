"""`afuse prepare-data experiment=<preset>` on a node with internet, then `afuse run` of the preset
where the Hub does not answer (a cluster's compute nodes): over HTTP, against a stand-in for the
Hub (tests/fake_hub.py) serving the fixtures' datasets and a small BERT saved as a Hub model repo.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFUSING = "http://127.0.0.1:9"  # nothing listens on the discard port
TRIED_THE_HUB = (
    "unreachable",
    "thrown while requesting",
    "HTTP Request",
    "Hugging Face Hub",
    "re-tokenising",
)

pytestmark = pytest.mark.slow  # a process per command, each loading torch

# Two Hub tasks, ST-A on both, Fusion for one; data and model from the Hub. The preset's data.*
# (split_seed) and a group's data.* override (validation_fraction, the same in both groups: one
# prepared copy per task) change the fingerprint the jobs look for.
PRESET = """# @package _global_
defaults:
  - override /model: bert-base-uncased
model:
  hub_id: someone/small-bert
data:
  source: hub
  split_seed: 7
trainer:
  max_epochs: 1
  batch_size: 4
experiment:
  name: offline_pair
  tasks: [rte, mrpc]
  seeds: [1]
  stage1:
    st_a:
      command: train-adapter
      overrides: [adapter=pfeiffer, adapter.reduction_factor=16, data.validation_fraction=0.2]
  stage2:
    fusion:
      sources: st_a
      targets: [rte]
      overrides: [fusion=dynamic, data.validation_fraction=0.2]
"""


@pytest.fixture(scope="module")
def hub(hub_with_small_bert):
    return hub_with_small_bert


def preset_dir(tmp_path: Path, text: str = PRESET, name: str = "offline_pair") -> Path:
    conf = tmp_path / "conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "experiment" / f"{name}.yaml").write_text(text.replace("offline_pair", name))
    return conf


def afuse(tmp_path: Path, endpoint: str, command: str, *args: str, offline: bool = False, timeout: int = 600):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "AFUSE_DATA_SOURCE"))}
    env |= {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    env |= {"HF_HUB_OFFLINE": "1"} if offline else {}
    env |= {"AFUSE_CACHE_DIR": str(tmp_path / "compose")}
    paths = [f"paths.runs={tmp_path}/runs", f"paths.data={tmp_path}/data", f"paths.logs={tmp_path}/logs"]
    line = [sys.executable, "-m", "afuse.cli", command, *args, *paths]
    return subprocess.run(line, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


def searchpath(conf: Path) -> str:
    return f"hydra.searchpath=[file://{conf}]"


def indexes(tmp_path: Path) -> dict[str, float]:
    """Each prepared copy's manifest and tokenised cache index, by when it was written."""
    data = tmp_path / "data"
    found = [*data.glob("prepared/*/manifest.json"), *data.glob("cache/*/*/cache.json")]
    return {str(p.relative_to(data)): p.stat().st_mtime_ns for p in found}


def task_lines(result: subprocess.CompletedProcess) -> dict[str, str]:
    lines = [line.split("]", 1)[-1].strip() for line in result.stderr.splitlines()]
    return {line.split(":")[0]: line for line in lines if line.split(":")[0] in ("rte", "mrpc", "argument")}


def test_a_prepared_preset_runs_with_the_hub_unreachable(hub, tmp_path):
    conf = preset_dir(tmp_path)
    prepared = afuse(tmp_path, hub.url, "prepare-data", "experiment=offline_pair", searchpath(conf))
    assert prepared.returncode == 0, prepared.stderr
    lines = task_lines(prepared)
    assert set(lines) == {"rte", "mrpc"} and all(": prepared (" in line for line in lines.values()), lines
    assert any(r.endswith("/someone/small-bert/resolve/main/model.safetensors") for r in hub.requests)
    ready = indexes(tmp_path)
    assert len(ready) == 4, ready  # 2 prepared copies, 2 tokenised caches

    again = afuse(tmp_path, hub.url, "prepare-data", "experiment=offline_pair", searchpath(conf))
    assert again.returncode == 0, again.stderr
    assert all(": up to date (" in line for line in task_lines(again).values()), again.stderr
    assert indexes(tmp_path) == ready

    asked = len(hub.requests)
    run = afuse(tmp_path, REFUSING, "run", "experiment=offline_pair", searchpath(conf))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 done" in run.stdout.splitlines()[-1], run.stdout
    output = run.stdout + run.stderr
    assert not [said for said in TRIED_THE_HUB if said in output], output
    assert indexes(tmp_path) == ready  # no job prepared or tokenised again
    assert len(hub.requests) == asked
    metrics = json.loads(next((tmp_path / "runs").rglob("stage2/**/metrics.json")).read_text())
    assert metrics["test"]["accuracy"] >= 0

    # HF_HUB_OFFLINE=1 (README's line for compute nodes): nothing is asked, the cache is read
    job = ("experiment=offline_pair", "task=mrpc", "adapter=pfeiffer", "adapter.reduction_factor=16")
    job += ("data.validation_fraction=0.2", "force=true")  # the st_a group's job, as afuse run launches it
    rerun = afuse(tmp_path, REFUSING, "train-adapter", *job, searchpath(conf), offline=True)
    assert rerun.returncode == 0, rerun.stderr
    assert not [said for said in TRIED_THE_HUB if said in rerun.stderr], rerun.stderr
    assert indexes(tmp_path) == ready


def test_a_task_without_a_hub_copy_says_what_to_do_and_the_rest_is_prepared(hub, tmp_path):
    conf = preset_dir(
        tmp_path, PRESET.replace("[rte, mrpc]", "[rte, argument]").replace("targets: [rte]", "")
    )
    result = afuse(tmp_path, hub.url, "prepare-data", "experiment=offline_pair", searchpath(conf))
    assert result.returncode == 2, result.stderr
    lines = task_lines(result)
    assert ": prepared (" in lines["rte"]
    assert "argument: failed: task argument has no Hugging Face Hub copy" in lines["argument"]
    assert "data.source=local data.raw_dir=<dir>" in lines["argument"]
    assert "leave argument out (experiment.tasks=[rte]" in lines["argument"]
    assert "1 prepared, 1 failed" in result.stderr
    assert "not ready for runs without internet: argument failed" in result.stderr.splitlines()[-1]


def test_the_hub_down_during_preparation_fails_each_at_once_and_writes_nothing(tmp_path):
    conf = preset_dir(tmp_path)
    result = afuse(tmp_path, REFUSING, "prepare-data", "experiment=offline_pair", searchpath(conf))
    assert result.returncode == 4, result.stderr
    lines = task_lines(result)
    assert all(f"failed: task {t}: cannot load dataset" in lines[t] for t in ("rte", "mrpc")), lines
    assert "model bert-base-uncased: failed: cannot load model 'someone/small-bert'" in result.stderr
    assert "thrown while requesting" not in result.stderr  # asked once, no retries
    assert indexes(tmp_path) == {} and not (tmp_path / "data" / "prepared").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["experiment=nope"], "unknown experiment 'nope'; valid: cpu_minilm "),
        (
            ["experiment=cpu_small", "force=true"],
            "force=true re-reads one task's source: give it with task=<name>",
        ),
        ([], "no task given: add task=<name> (one task), or experiment=<preset> (every task its jobs read"),
    ],
)
def test_a_wrong_preset_line_is_one_line_naming_what_to_give(args, said, tmp_path):
    result = afuse(tmp_path, REFUSING, "prepare-data", *args)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert said in line, line


def test_afuse_run_with_prepare_data_readies_the_preset_as_its_jobs_read_it(hub, tmp_path):
    """run.prepare_data=true launched `prepare-data -m task=rte,mrpc` with the preset's top-level
    data.* only: the groups' data.validation_fraction=0.2 gave their jobs another fingerprint,
    so each job prepared its task again, and nothing was tokenised or downloaded first."""
    conf = preset_dir(tmp_path)
    run = afuse(
        tmp_path, hub.url, "run", "experiment=offline_pair", "run.prepare_data=true", searchpath(conf)
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 done" in run.stdout.splitlines()[-1], run.stdout
    ready = indexes(tmp_path)
    assert len(ready) == 4, ready  # one prepared copy and one tokenised cache per task, made once
    job_logs = "".join(
        p.read_text() for p in (tmp_path / "logs").rglob("*.log") if "prepare_data" not in str(p)
    )
    assert "prepared data in" in job_logs and "is up to date; reusing it" in job_logs
    assert "prepared train" not in job_logs  # no job prepared its task itself
