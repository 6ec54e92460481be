"""Run directories and the artifact contract between stage 1, stage 2 and the report.

Each run owns one directory derived from its config (not from a timestamp), so stage 2 and the
report can find it and a rerun can skip it:

    <paths.runs>/stage1/<model>/<variant>/<task>/seed<k>/      variant: pfeiffer_rf16, houlsby_rf16, full, head
    <paths.runs>/stage1/<model>/mt_a/<tasks-key>/seed<k>/        MT-A: one run over many tasks
    <paths.runs>/stage2/<model>/<fusion-variant>/<target>/seed<k>/   e.g. dynamic_pfeiffer_rf16

`metrics.json` is written last and atomically: its presence means the run is complete. A
directory without it is incomplete and is resumed (or redone).
"""

import hashlib
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from afuse.atomic import atomic_write_json, atomic_write_text

METRICS = "metrics.json"
CONFIG = "config.yaml"

# Config keys that do not change what a run computes: they may differ between a finished run and
# a rerun without making the finished run stale.
NON_RESULT_KEYS = ("paths", "force", "logger", "hydra", "experiment", "trainer.progress_bar",
                   "trainer.log_every_steps", "trainer.device", "trainer.num_threads", "data.raw_dir",
                   "data.source")


def format_rf(reduction_factor: float) -> str:
    rf = float(reduction_factor)
    return str(int(rf)) if rf.is_integer() else str(rf)


def adapter_variant(adapter_cfg: DictConfig) -> str:
    """`pfeiffer_rf16`: the adapter part of stage-1 and stage-2 run paths."""
    return f"{adapter_cfg.variant}_rf{format_rf(adapter_cfg.reduction_factor)}"


def stage1_dir(runs_root: str | Path, model: str, variant: str, task: str, seed: int) -> Path:
    return Path(runs_root) / "stage1" / model / variant / task / f"seed{seed}"


def stage2_dir(runs_root: str | Path, model: str, fusion_variant: str, target: str, seed: int) -> Path:
    return Path(runs_root) / "stage2" / model / fusion_variant / target / f"seed{seed}"


def short_hash(obj: Any, length: int = 8) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:length]


def is_complete(run_dir: str | Path) -> bool:
    return (Path(run_dir) / METRICS).is_file()


def read_metrics(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / METRICS).read_text())


def result_config(cfg: DictConfig) -> dict:
    """The part of a run's config that determines its results (compared on skip)."""
    container = OmegaConf.to_container(cfg, resolve=True)
    for dotted in NON_RESULT_KEYS:
        *parents, leaf = dotted.split(".")
        node = container
        for part in parents:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(leaf, None)
    return container


def config_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        diffs = []
        for key in sorted(set(old) | set(new), key=str):
            diffs += config_differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return diffs
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]


def write_config(run_dir: str | Path, cfg: DictConfig) -> None:
    atomic_write_text(Path(run_dir) / CONFIG, OmegaConf.to_yaml(cfg, resolve=True))


def write_metrics(run_dir: str | Path, metrics: dict) -> None:
    """Write metrics.json: last, atomically. Its presence marks the run complete."""
    atomic_write_json(Path(run_dir) / METRICS, metrics)
