"""A tree of tiny finished runs of every kind, trained once per session, for evaluate / predict."""

import hashlib
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from afuse.cli import main as afuse_main
from afuse.config import task_config
from afuse.modeling import AfuseModel, load_backbone
from afuse.paths import conf_dir
from afuse.run_identity import multitask_dir, stage1_dir


def common(root: Path, raw_dir: Path) -> list[str]:
    """A 2-epoch run of the tiny model on 64 examples, everything under `root`."""
    return [
        "model=tiny",
        "data.source=local",
        f"data.raw_dir={raw_dir}",
        "data.max_train_examples=64",
        "trainer.max_epochs=2",
        "trainer.batch_size=8",
        "trainer.lr=0.01",
        "trainer.num_threads=1",
        "trainer.progress_bar=false",
        f"paths.runs={root}/runs",
        f"paths.data={root}/data",
        f"paths.logs={root}/logs",
        f"paths.results={root}/results",
    ]


def afuse(*args: str) -> None:
    try:
        afuse_main(list(args))
    except SystemExit as exit_:
        if exit_.code:
            pytest.fail(f"afuse {' '.join(args[:2])} exited with {exit_.code}")


class RunTree:
    """Finished tiny runs: ST-A (cb, rte), Houlsby, Head, Full (save_encoder), Fusion, MT-A."""

    def __init__(self, root: Path, raw_dir: Path):
        self.root, self.raw_dir = root, raw_dir
        self.runs = root / "runs"

    def args(self, *extra: str) -> list[str]:
        return [*common(self.root, self.raw_dir), *extra]

    def eval_args(self, *extra: str) -> list[str]:
        """What `afuse evaluate` / `predict` need besides run=: where data and logs go."""
        return [f"paths.data={self.root}/data", f"paths.logs={self.root}/logs", "progress_bar=false", *extra]

    def build(self) -> "RunTree":
        afuse("train-adapter", *self.args("task=cb", "seed=1"))
        afuse("train-adapter", *self.args("task=rte", "seed=1"))
        afuse("train-adapter", *self.args("task=cb", "adapter=houlsby", "seed=1"))
        afuse("finetune", *self.args("task=cb", "mode=head", "seed=1"))
        afuse("finetune", *self.args("task=cb", "mode=full", "save_encoder=true", "seed=1"))
        afuse("fuse", *self.args("target=cb", "fusion.sources=[cb,rte]", "seed=1"))
        afuse("train-multitask", *self.args("tasks=[rte,cb]", "seed=1"))
        return self

    def run(self, kind: str) -> Path:
        if kind == "fusion":
            (found,) = (self.runs / "stage2" / "tiny").glob("dynamic_pfeiffer_rf16_src-*/cb/seed1")
            return found
        if kind == "mt_a":
            return multitask_dir(self.runs, "tiny", "rte-cb", 1)
        variant = {"st_a": "pfeiffer_rf16", "houlsby": "houlsby_rf16", "head": "head", "full": "full"}[kind]
        return stage1_dir(self.runs, "tiny", variant, "cb", 1)


@pytest.fixture(scope="session")
def run_tree(tmp_path_factory, shared_data) -> RunTree:
    return RunTree(tmp_path_factory.mktemp("inference"), shared_data).build()


def checksums(directory: Path, leave_out: tuple[str, ...] = ("eval", "predict")) -> dict[str, str]:
    """sha256 of every file of a run directory, but those evaluate and predict write."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.relative_to(directory).parts[0] not in leave_out
    }


def untrained_head_run(root: Path, task: str) -> Path:
    """A Head run record made without training (a random head on the tiny model): enough to
    predict with, and far cheaper than training on SST-2 or BoolQ."""
    model_cfg = OmegaConf.load(conf_dir() / "model" / "tiny.yaml")
    task_cfg = task_config(task)
    run_dir = stage1_dir(root / "runs", "tiny", "head", task, 1)
    run_dir.mkdir(parents=True)
    encoder, _, _ = load_backbone(model_cfg)
    model = AfuseModel(encoder, family="bert")
    model.add_head(task, task_cfg)
    model.save_head(task, run_dir / "head.safetensors")
    cfg = {"seed": 1, "paths": {"runs": str(root / "runs")}, "model": model_cfg, "task": task_cfg, "data": {}}
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
    (run_dir / "metrics.json").write_text(
        json.dumps({"kind": "head", "task": task, "test": {"accuracy": 0.5}})
    )
    return run_dir
