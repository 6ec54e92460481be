"""What a run directory holds: the artifact contract between stage 1, stage 2 and the report,
and one run's lifecycle files (lock, failure record).

Each run owns one directory derived from its config (not from a timestamp; afuse.run_identity
names it), so stage 2 and the report can find it and a rerun can skip it.

`metrics.json` is written last and atomically: its presence means the run is complete. A
directory without it is incomplete and is resumed (or redone).
"""

import copy
import fcntl
import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from afuse.atomic import atomic_write_json, atomic_write_text, write_error
from afuse.errors import AfuseError, ConfigError

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
    "trainer.cuda_graphs",  # like device: how the GPU runs the same steps
    "trainer.num_threads",
    "trainer.cpu_isa",  # like num_threads: the last bits of floats, not what is computed
    "trainer.checkpoint_every_minutes",  # resuming is exact, so how often it saves changes nothing
    "data.raw_dir",
    "data.source",
    # Where and how a task's Hub copy is fetched (revision, the check_hub.py counts): like
    # data.source, not what a run computes; a local run never reads it. Changed since some
    # committed records were made (results/cpu_minilm: siqa, cosmosqa), which then read as made
    # with other settings.
    "task.hub",
    # Where the fusion sits is in the run directory's name (fusion_variant), so it cannot differ
    # within one directory; configs of runs made before the key existed lack it.
    "fusion.sites",
)


def is_complete(run_dir: str | Path) -> bool:
    return (Path(run_dir) / METRICS).is_file()


def read_metrics(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / METRICS).read_text())


def result_config(cfg: DictConfig | dict) -> dict:
    """The part of a run's config that determines its results (compared on skip)."""
    container = copy.deepcopy(cfg) if isinstance(cfg, dict) else OmegaConf.to_container(cfg, resolve=True)
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


def shared_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """config_differences over the keys both configs hold: a key one side lacks (one a command adds
    while it runs, one added to the configs after an older run) is not a difference."""
    if isinstance(old, dict) and isinstance(new, dict):
        diffs = []
        for key in sorted(set(old) & set(new), key=str):
            diffs += shared_differences(old[key], new[key], f"{prefix}{key}.")
        return diffs
    return config_differences(old, new, prefix)


def same_setting(key: str, value, other) -> bool:
    """Whether two values of one setting are the same; `raw_dir` (data.raw_dir) is one folder
    however it is written (relative, with ~, or absolute as config.yaml records it)."""
    if key.rsplit(".", 1)[-1] == "raw_dir" and value is not None and other is not None:
        return Path(str(value)).expanduser().resolve() == Path(str(other)).expanduser().resolve()
    return value == other


def write_config(run_dir: str | Path, cfg: DictConfig) -> None:
    """config.yaml: the settings resolved, data.raw_dir as an absolute folder. A relative one is
    read from the directory the run was started in, which a later command run from elsewhere
    (evaluate or predict re-preparing its data, a retrain line) would not know."""
    record = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    raw_dir = OmegaConf.select(record, "data.raw_dir")
    if raw_dir is not None:
        record.data.raw_dir = os.path.abspath(os.path.expanduser(str(raw_dir)))
    atomic_write_text(Path(run_dir) / CONFIG, OmegaConf.to_yaml(record))


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

    from afuse.result_check import DamagedResultError, config_damage  # result_check imports this module

    saved = Path(run_dir) / CONFIG
    if not saved.is_file():
        return
    damage = config_damage(saved)
    if damage:  # a finished run's is caught by the skip check; this is an unfinished run's
        raise DamagedResultError(
            f"{saved} does not read ({damage}), so this run's checkpoint cannot be checked against "
            "these settings; restore the file, or rerun with force=true to start the run over"
        )
    old = result_config(OmegaConf.load(saved))
    # Over the keys both hold: a setting added to the configs after the run was made (its default
    # is what older runs did) does not make every older run one of "other settings".
    diffs = shared_differences(old, result_config(cfg))
    if diffs:
        raise ConfigError(
            f"{run_dir} holds a run made with other settings:\n  "
            + "\n  ".join(diffs[:12])
            + "\nRerun with force=true to replace it, or set paths.runs to another directory."
        )
