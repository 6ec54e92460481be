"""Which prepared data a run read, and whether the copy under paths.data still holds it.

    prepared_record(manifest)          # one task's entry of metrics.json's `prepared_data`, at training
    changed_data(metrics, data_root)   # ["rte (train, test)"]: tasks whose prepared copy differs now
    recorded_split(metrics, "rte", "test")  # the sha256 of the split file the run read, for evaluate

A finished run is skipped whatever its raw files hold now, so `afuse status` says when the data a
retrain would read are not the run's: metrics.json's `prepared_data` holds, per task, the
fingerprint of the settings its prepared copy was made with (manifest.json's `fingerprint`) and
the sha256 of each prepared split file. The copy under <paths.data>/prepared/<task>/ made with the
same settings but holding other files was prepared again since, from changed raw files: the run
was trained on other data. A copy made with other settings (a preset with other split settings
sharing paths.data), or no copy, says nothing: a retrain would prepare its own.

Raw files edited since the copy was prepared, and not prepared again yet, are the same case one
step earlier (a retrain would prepare them again): the manifest lists the raw files it was made
from (path, bytes, sha256). A raw file of another size, or missing while others are there, has
changed; one written after the preparation (mtime) is hashed to tell. None of them there (the
runs or the data were moved to another machine): nothing to compare with, as for prepare.

Cheap by design: one small JSON file per task, read once per command while it is unchanged, and a
stat per raw file; no parquet, no tokenising (`data_sha256`, the hash of the tokenised rows, would
need both); a raw file is hashed only when written after its preparation, once per command.
"""

import functools
import hashlib
import json
from datetime import datetime
from pathlib import Path

PREPARED_DATA = "prepared_data"  # the metrics.json key


def prepared_record(manifest: dict) -> dict:
    """What a run records of one task's prepared copy (its manifest.json)."""
    return {
        "fingerprint": manifest.get("fingerprint"),
        "sha256": {split: entry["sha256"] for split, entry in manifest["splits"].items()},
    }


def changed_data(metrics: dict, data_root: str | Path) -> list[str]:
    """'<task> (<splits>)' for each task whose prepared copy under `data_root` was made with the
    run's settings but holds other files than the run read; [] when nothing can be compared."""
    recorded = metrics.get(PREPARED_DATA)
    if not isinstance(recorded, dict):
        return []  # runs made before afuse recorded it
    changed = []
    for task in sorted(recorded):
        then = recorded[task]
        now = _current(Path(data_root) / "prepared" / task / "manifest.json")
        if not isinstance(then, dict) or now is None or now["fingerprint"] != then.get("fingerprint"):
            continue
        differ = [
            split for split, sha in (then.get("sha256") or {}).items() if now["sha256"].get(split) != sha
        ]
        if differ:
            changed.append(f"{task} ({', '.join(differ)})")
    return changed


def recorded_split(metrics: dict | None, task: str, split: str) -> str | None:
    """The sha256 of the prepared `split` file of `task` the run read (its metrics.json), or None
    for a record without it (runs made before afuse recorded it, AdapterHub adapters)."""
    recorded = (metrics or {}).get(PREPARED_DATA)
    entry = recorded.get(task) if isinstance(recorded, dict) else None
    sha256 = (entry.get("sha256") or {}).get(split) if isinstance(entry, dict) else None
    return sha256 if isinstance(sha256, str) else None


def changed_data_note(changed: list[str], data_root: str | Path) -> str:
    return (
        f"trained on other data: its prepared splits under {Path(data_root) / 'prepared'}/ were made "
        f"again since, from other raw files: {'; '.join(changed)}"
    )


def data_change_note(metrics: dict, data_root: str | Path) -> str | None:
    """Why the data a retrain would read are not the run's (prepared again since, or raw files
    edited since their preparation), or None when they are, or nothing can be compared."""
    notes = []
    changed = changed_data(metrics, data_root)
    if changed:
        notes.append(changed_data_note(changed, data_root))
    edited = edited_raw_files(metrics, data_root)
    if edited:
        notes.append(
            f"{'and its' if notes else 'trained on other data: its'} task's raw files changed since "
            f"they were prepared: {'; '.join(edited)} (the next training command prepares them again)"
        )
    return " ".join(notes) or None


def edited_raw_files(metrics: dict, data_root: str | Path) -> list[str]:
    """'<task> (<raw file>, ...)' for each task whose prepared copy under `data_root` is the one the
    run read, made from raw files that differ now."""
    recorded = metrics.get(PREPARED_DATA)
    if not isinstance(recorded, dict):
        return []
    edited = []
    for task in sorted(recorded):
        then = recorded[task]
        now = _current(Path(data_root) / "prepared" / task / "manifest.json")
        if not isinstance(then, dict) or now is None or now["sha256"] != then.get("sha256"):
            continue  # another copy: changed_data's case, or nothing to compare
        files = _differing_raw_files(now["raw"])
        if files:
            edited.append(f"{task} ({', '.join(files)})")
    return edited


def _differing_raw_files(raw: dict) -> list[str]:
    """The raw files (as the manifest names them) that differ from what the copy was made from."""
    present = {
        name: path for name, (path, _, _) in raw["files"].items() if path is not None and path.is_file()
    }
    if not present:
        return []  # moved: nothing to compare with
    differing = []
    for name, (path, size, sha256) in raw["files"].items():
        if name not in present:
            differing.append(name)
            continue
        stat = path.stat()
        written_after = raw["prepared_at"] is None or stat.st_mtime >= raw["prepared_at"] - 1
        if stat.st_size != size or (
            written_after and _sha256(str(path), stat.st_size, stat.st_mtime_ns) not in (sha256, None)
        ):
            differing.append(name)
    return differing


@functools.lru_cache(maxsize=256)
def _sha256(path: str, size: int, mtime_ns: int) -> str | None:
    """The file's sha256, or None when it cannot be read (status reads; preparing will say why)."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def _current(path: Path) -> dict | None:
    """The record of the manifest at `path` now, or None if there is none that reads."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _read(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _read(path: str, inode: int, size: int, mtime_ns: int) -> dict | None:
    """Read once per command while the file is unchanged (manifests are replaced whole, by a
    rename: a new inode, size and mtime are the cache key):
    status checks every run of a preset, and its runs share a few tasks' manifests."""
    try:
        manifest = json.loads(Path(path).read_text())
        return {**prepared_record(manifest), "raw": _raw_sources(manifest)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _raw_sources(manifest: dict) -> dict:
    """The local raw files the copy was made from: {name: (path or None, bytes, sha256)}, and when."""
    raw_dir = manifest.get("raw_dir")
    local = manifest.get("source") == "local"  # a Hub copy's files are the Hub's to change
    files = {}
    for entry in (manifest.get("source_files") or []) if local else []:
        name = entry["path"]
        path = Path(name) if Path(name).is_absolute() else Path(raw_dir) / name if raw_dir else None
        files[name] = (path, entry["bytes"], entry["sha256"])
    prepared_at = manifest.get("prepared_at")
    return {
        "files": files,
        "prepared_at": datetime.fromisoformat(prepared_at).timestamp() if prepared_at else None,
    }
