"""Synthetic run directories that follow docs/contracts.md (metrics.json, activations.json)."""

import json
import socket
from pathlib import Path

from afuse.runs import record_failure

HOST = socket.gethostname()


def write_run(run_dir: Path, accuracy: float | None, **extra) -> Path:
    """A finished run (metrics.json, contract fields) with test accuracy `accuracy` (a fraction);
    accuracy None leaves an incomplete run directory."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if accuracy is None:
        (run_dir / "config.yaml").write_text("seed: 1\n")
        return run_dir
    metrics = {
        "afuse_version": "0.1.0",
        "test": {"accuracy": accuracy, "n": 100, "majority_rate": 0.5},
        "validation": {"accuracy": accuracy, "n": 50, "majority_rate": 0.5},
        "best_epoch": 1,
        "epochs_run": 2,
        "stopped_early": False,
        **extra,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir


def write_multitask_run(run_dir: Path, accuracies: dict[str, float]) -> Path:
    tasks = {
        t: {"test": {"accuracy": a, "n": 100}, "validation": {"accuracy": a, "n": 50}}
        for t, a in accuracies.items()
    }
    return write_run(run_dir, 0.5, kind="mt_a", tasks=tasks)


def write_activations(run_dir: Path, sources: list[str], matrix: list[list[float]]) -> None:
    data = {
        "target": run_dir.parent.name,
        "split": "test",
        "tokens": 1000,
        "sources": sources,
        "matrix": matrix,
    }
    (run_dir / "activations.json").write_text(json.dumps(data))


def write_adapter(run_dir, value: float) -> str:
    """A stage-1 run's adapter weights file; returns its sha256 (what a Fusion run records)."""
    import hashlib

    import numpy as np
    from safetensors.numpy import save_file

    path = run_dir / "adapter.safetensors"
    save_file({"w": np.full((2, 2), value, dtype=np.float32)}, str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def finished_fusion(experiment, tmp_path, target="cb", record_digests=True):
    """cpu_small's Fusion job for `target`, finished over freshly written stage-1 adapters, with
    the config.yaml `afuse fuse` writes for it."""
    from omegaconf import open_dict

    from afuse.config import specialise_data
    from afuse.runs import write_config
    from tests.from_conf import compose_config

    group = experiment.groups["fusion_st_a"]
    job = next(job for job in group.jobs if job.task == target)
    digests = {}
    for task, source in zip(group.sources, job.needs, strict=True):
        digests[task] = write_adapter(write_run(source, 0.6), 0.1)
    extra = {"source_sha256": digests} if record_digests else {}
    write_run(job.run_dir, 0.7, sources=list(group.sources), **extra)
    cfg = compose_config(
        "fuse",
        ["experiment=cpu_small", *group.overrides, f"target={target}", f"seed={job.seed}",
         f"paths.runs={tmp_path}/runs", f"paths.results={tmp_path}/results"],
    )  # fmt: skip
    with open_dict(cfg):
        cfg.pop("hydra", None)
    specialise_data(cfg, target)
    write_config(job.run_dir, cfg)
    return job


def lock(run_dir, pid, host=HOST):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / ".lock").write_text(json.dumps({"pid": pid, "host": host}))


def fail(run_dir, error="RuntimeError: CUDA out of memory\nTraceback (most recent call last): ..."):
    run_dir.mkdir(parents=True, exist_ok=True)
    record_failure(run_dir, RuntimeError(error))  # the writer of failed.json the training commands use


def saved_config(run_dir, tmp_path, *overrides):
    """config.yaml as `afuse train-adapter experiment=cpu_small ... task=rte` writes it."""
    from omegaconf import open_dict

    from afuse.config import specialise_data
    from afuse.runs import write_config
    from tests.from_conf import compose_config

    cfg = compose_config(
        "train_adapter",
        ["experiment=cpu_small", "adapter=pfeiffer", "adapter.reduction_factor=16", "trainer.lr=1e-3",
         "task=rte", "seed=1", f"paths.runs={tmp_path}/runs", f"paths.results={tmp_path}/results", *overrides],
    )  # fmt: skip
    with open_dict(cfg):
        cfg.pop("hydra", None)
    specialise_data(cfg, "rte")
    write_config(run_dir, cfg)
