"""The order in which a run's tasks or fusion sources are listed names no other run
(afuse.run_identity: MT-A's folder is the tasks in the paper's order, a fusion's hash is over the
sorted sources), so it must not change what the run computes either: listed in any order, the same
run directory gets the same numbers and weights, and a finished run is skipped, not called one
"made with other settings"."""

import hashlib
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from afuse.cli import main as afuse_main
from afuse.run_identity import multitask_dir, stage1_dir, stage2_dir
from afuse.runs import read_metrics

pytestmark = pytest.mark.slow  # small training runs of the tiny model in this process


def afuse(*argv: str) -> None:
    try:
        afuse_main(list(argv))
    except SystemExit as exit_:
        assert exit_.code in (0, None), f"afuse {' '.join(argv)} exited {exit_.code}"


def settings(root: Path, data: Path, raw_dir: Path) -> list[str]:
    return [
        "model=tiny",
        "data.source=local",
        f"data.raw_dir={raw_dir}",
        "data.max_train_examples=24",
        "data.validation_max_examples=16",
        "data.max_test_examples=16",
        "trainer.max_epochs=1",
        "trainer.batch_size=8",
        "trainer.lr=0.01",
        "trainer.num_threads=1",
        f"paths.runs={root}/runs",
        f"paths.data={data}",
        f"paths.logs={root}/logs",
    ]


def outcome(run: Path) -> tuple[dict, dict]:
    """(metrics without timings, sha256 of every weights file) of a finished run."""
    metrics = read_metrics(run)
    for key in ("timing", "finished_at"):
        metrics.pop(key)
    weights = {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in run.rglob("*.safetensors")
    }
    return metrics, weights


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")  # prepared and tokenised once for both tests' runs


def test_mt_a_gives_the_same_run_whatever_the_order_of_its_tasks(tmp_path, data, shared_data):
    first, second = tmp_path / "first", tmp_path / "second"
    afuse("train-multitask", "tasks=[rte,cb]", *settings(first, data, shared_data))
    afuse("train-multitask", "tasks=[cb,rte]", *settings(second, data, shared_data))
    run = multitask_dir(first / "runs", "tiny", "rte-cb", 1)
    again = multitask_dir(second / "runs", "tiny", "rte-cb", 1)
    assert outcome(again) == outcome(run)
    assert OmegaConf.load(again / "config.yaml").tasks == ["rte", "cb"]  # the order the run used
    # Into the first tree: the finished run is the same run, so it is skipped.
    before = (run / "metrics.json").read_bytes()
    afuse("train-multitask", "tasks=[cb,rte]", *settings(first, data, shared_data))
    assert (run / "metrics.json").read_bytes() == before


def test_fusion_gives_the_same_run_whatever_the_order_of_its_sources(tmp_path, data, shared_data):
    first, second = tmp_path / "first", tmp_path / "second"
    for task in ("rte", "cb"):
        afuse("train-adapter", f"task={task}", *settings(first, data, shared_data))
    stage1 = stage1_dir(first / "runs", "tiny", "pfeiffer_rf16", "rte", 1).parents[2]
    (second / "runs").mkdir(parents=True)
    (second / "runs" / "stage1").symlink_to(stage1.parent)
    common = ["target=cb", "fusion.score_dropout=0.1"]
    afuse("fuse", *common, "fusion.sources=[cb,rte]", *settings(first, data, shared_data))
    afuse("fuse", *common, "fusion.sources=[rte,cb]", *settings(second, data, shared_data))
    [variant] = [p.name for p in (first / "runs" / "stage2" / "tiny").iterdir()]
    run, again = (stage2_dir(root / "runs", "tiny", variant, "cb", 1) for root in (first, second))
    assert outcome(again) == outcome(run)
    assert (again / "activations.json").read_text() == (run / "activations.json").read_text()
    before = (run / "metrics.json").read_bytes()
    afuse("fuse", *common, "fusion.sources=[rte,cb]", *settings(first, data, shared_data))
    assert (run / "metrics.json").read_bytes() == before
