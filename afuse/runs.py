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
from afuse.sites import FFN

METRICS = "metrics.json"
CONFIG = "config.yaml"

# Config keys that do not change what a run computes: they may differ between a finished run and
# a rerun without making the finished run stale.
NON_RESULT_KEYS = (
    "paths",
    "force",
    "logger",
    "hydra",
    "experiment",
    "trainer.progress_bar",
    "trainer.log_every_steps",
    "trainer.device",
    "trainer.num_threads",
    "trainer.cpu_isa",  # like num_threads: the last bits of floats, not what is computed
    "trainer.checkpoint_every_minutes",  # resuming is exact, so how often it saves changes nothing
    "data.raw_dir",
    "data.source",
    # Where the fusion sits is in the run directory's name (fusion_variant), so it cannot differ
    # within one directory; configs of runs made before the key existed lack it.
    "fusion.sites",
)


def format_rf(reduction_factor: float) -> str:
    rf = float(reduction_factor)
    return str(int(rf)) if rf.is_integer() else str(rf)


def adapter_variant(adapter_cfg: DictConfig) -> str:
    """`pfeiffer_rf16`: the adapter part of stage-1 and stage-2 run paths."""
    return f"{adapter_cfg.variant}_rf{format_rf(adapter_cfg.reduction_factor)}"


def fusion_variant(
    kind: str,
    source_variant: str,
    sources: list[str] | None = None,
    skip_last_layer: bool = False,
    positions: tuple[str, ...] = (FFN,),
) -> str:
    """`dynamic_pfeiffer_rf16`: the stage-2 path component. A source set other than the paper's
    16 tasks adds a short hash of the (sorted) names, so fusions over different adapter sets never
    share a directory; the list itself is in the run's config.yaml and metrics.json. A fusion at
    more positions than after the FFN (Houlsby sources, fusion.sites=all) adds them
    (`_attn-ffn`): runs made before fusion sites existed fused after the FFN only, and keep
    their names."""
    from afuse.config import PAPER_TASKS

    name = f"{kind}_{source_variant}"
    if sources and {str(s) for s in sources} != set(PAPER_TASKS):
        name += f"_src-{short_hash(sorted(str(s) for s in sources), 6)}"
    if skip_last_layer:
        name += "_skiplast"
    if tuple(positions) != (FFN,):
        name += "_" + "-".join(positions)
    return name


def multitask_key(tasks: list[str]) -> str:
    """The MT-A run's directory name: `all16` for the paper's 16 tasks, else the tasks in the
    paper's order joined by '-' (the order they are listed in does not make another run)."""
    from afuse.config import PAPER_TASKS, paper_order

    if sorted(map(str, tasks)) == sorted(PAPER_TASKS):
        return f"all{len(PAPER_TASKS)}"
    return "-".join(paper_order(tasks))


def multitask_dir(runs_root: str | Path, model: str, tasks_key: str, seed: int) -> Path:
    return Path(runs_root) / "stage1" / model / "mt_a" / tasks_key / f"seed{seed}"


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


# --- one run's lifecycle: lock, skip / resume / force, failure record, completion ---------------

LOCK = ".lock"
FAILED = "failed.json"


class RunLock:
    """An exclusive lock on a run directory, held for the life of the process that trains it.

    `flock` is released by the kernel when the holder dies, so a lock left by a killed process
    is simply taken over. The file also names the holder (pid, host) for messages and `status`.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK
        self._handle = None

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self) -> "RunLock":
        import fcntl
        import os
        import socket

        from afuse.atomic import write_error
        from afuse.errors import AfuseError

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered: a failed write (disk full) raises at once, not again when the file closes.
            handle = open(self.path, "a+b", buffering=0)  # noqa: SIM115 - held for the lock's lifetime
        except OSError as exc:  # a read-only or full runs/ tree: say so before any work
            raise write_error(self.path, exc) from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            who = self.holder()
            raise AfuseError(
                f"{self.path.parent} is already running (pid {who.get('pid', '?')}, host {who.get('host', '?')}); "
                "wait for it to finish, or stop that process first"
            ) from None
        except OSError as exc:  # e.g. a filesystem without flock support
            handle.close()
            raise AfuseError(
                f"cannot lock {self.path} ({exc.strerror}): keep paths.runs on a filesystem that supports "
                "flock (local disk, NFS v4, Lustre mounted with -o flock)"
            ) from exc
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        except OSError as exc:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
            raise write_error(self.path, exc) from exc
        self._handle = handle
        return self

    def release(self) -> None:
        import fcntl

        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()  # kept, not unlinked: unlinking a lock file races with a new locker
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def record_failure(run_dir: str | Path, error: BaseException) -> None:
    """failed.json: what `afuse status` shows for a run that stopped with an error.

    Best effort: when the disk is full this write fails too, and that must not hide `error`.
    """
    import logging
    from datetime import UTC, datetime

    record = {
        "error": str(error).splitlines()[0] if str(error) else type(error).__name__,
        "type": type(error).__name__,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        atomic_write_json(Path(run_dir) / FAILED, record)
    except Exception as exc:  # the run's own error is what the user must see
        logging.getLogger(__name__).warning(
            "could not record the failure in %s: %s", Path(run_dir) / FAILED, exc
        )


def check_same_config(run_dir: str | Path, cfg: DictConfig) -> None:
    """Refuse to skip or resume a run made with different result-relevant settings."""
    from afuse.errors import ConfigError

    saved = Path(run_dir) / CONFIG
    if not saved.is_file():
        return
    old = result_config(OmegaConf.load(saved))
    diffs = config_differences(old, result_config(cfg))
    if diffs:
        raise ConfigError(
            f"{run_dir} holds a run made with other settings:\n  "
            + "\n  ".join(diffs[:12])
            + "\nRerun with force=true to replace it, or set paths.runs to another directory."
        )
