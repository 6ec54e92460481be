"""Files under paths.data: where prepared data and tokenised caches live, written atomically.

    <paths.data>/prepared/<task>/{train,validation,test}.parquet  manifest.json
    <paths.data>/cache/<task>/<tokenizer>-len<max_length>/{train,validation,test}.parquet  cache.json

The JSON index (manifest.json, cache.json) is written last and records each parquet file's
sha256: its presence means the set is complete, and a checksum mismatch means a file was
truncated or altered after it was written.
"""

import hashlib
import json
import logging
import re
import time
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout
from omegaconf import DictConfig

from afuse.atomic import atomic_write
from afuse.data.source_read import sha256_file
from afuse.errors import AfuseError

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 3600  # another process preparing the same task (a sweep) finishes first


def prepared_dir(paths_cfg: DictConfig, task: str) -> Path:
    return Path(paths_cfg.data) / "prepared" / task


CACHE_INDEX = "cache.json"  # a tokenised cache's index, written last (afuse.data.tokenize)


def cache_dir(paths_cfg: DictConfig, task: str, tokenizer_id: str, max_length: int) -> Path:
    return Path(paths_cfg.data) / "cache" / task / f"{slug(tokenizer_id)}-len{max_length}"


def slug(text: str) -> str:
    """A folder name for a tokenizer id or path: readable part plus a hash (ids may differ only in /)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[-48:]
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@contextmanager
def locked(directory: Path):
    """One writer per directory at a time (parallel sweep jobs share paths.data). Waiting for
    another process is said on the console; a lock held past LOCK_TIMEOUT_S is an AfuseError.

    A step that fails (raw files missing, a bad setting) takes back the folders the lock made if
    they hold nothing but it: a command that fails on its input leaves no empty data/prepared/
    behind (in the folder it was started from, say)."""
    made = [folder for folder in (directory, *directory.parents) if not folder.exists()]  # deepest first
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / ".lock")
    _acquire(lock, directory)
    try:
        yield
    except BaseException:
        _remove_unused(made, directory / ".lock")
        raise
    finally:
        lock.release()


def _acquire(lock: FileLock, directory: Path) -> None:
    try:
        _acquire_made(lock, directory)
    except Timeout:
        log.info(
            "%s: another process holds it; waiting for it (up to %d min)", directory, LOCK_TIMEOUT_S // 60
        )
        try:
            _acquire_made(lock, directory, LOCK_TIMEOUT_S)
        except Timeout:
            raise AfuseError(
                f"{directory} stayed locked by another process for {LOCK_TIMEOUT_S / 60:g} min (a stopped or "
                "stuck afuse job preparing the same data?); stop that process, or set paths.data to another "
                "directory"
            ) from None


def _acquire_made(lock: FileLock, directory: Path, timeout: float = 0) -> None:
    """The lock, making its folder again if the holder we waited for failed and removed it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            lock.acquire(timeout=max(deadline - time.monotonic(), 0))
            return
        except FileNotFoundError:
            directory.mkdir(parents=True, exist_ok=True)


def _remove_unused(made: list[Path], lock_file: Path) -> None:
    """Remove the folders in `made` (deepest first) that hold nothing, the lock file aside. The lock
    file goes while still held: a waiting process then finds it gone and makes a new one."""
    if not made or any(path.name != lock_file.name for path in made[0].iterdir()):
        return
    lock_file.unlink(missing_ok=True)
    for folder in made:
        try:
            folder.rmdir()
        except OSError:  # not empty (another process made a folder in it since): it stays
            return


def write_parquet(path: Path, table: pa.Table) -> dict:
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))
    return {"file": path.name, "rows": table.num_rows, "sha256": sha256_file(path)}


def read_index(path: Path, files_key: str) -> dict | None:
    """The JSON index at `path`, or None if it is missing or damaged: not valid JSON, or not an
    object whose `files_key` lists files (name and sha256) as `damaged_files` reads them."""
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    files = index.get(files_key) if isinstance(index, dict) else None
    if not isinstance(files, dict) or not all(
        isinstance(entry, dict) and isinstance(entry.get("file"), str) and "sha256" in entry
        for entry in files.values()
    ):
        return None
    return index


def damaged_files(directory: Path, files: dict[str, dict]) -> list[str]:
    """Names of files listed in an index that are missing or whose sha256 differs."""
    damaged = []
    for entry in files.values():
        path = directory / entry["file"]
        if not path.is_file() or sha256_file(path) != entry["sha256"]:
            damaged.append(entry["file"])
    return damaged
