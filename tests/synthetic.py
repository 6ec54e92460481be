"""Synthetic run directories that follow docs/contracts.md (metrics.json, activations.json)."""

import json
from pathlib import Path


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
