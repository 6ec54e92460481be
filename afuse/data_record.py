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

Cheap by design: one small JSON file per task, read once per command while it is unchanged; no
parquet, no tokenising (`data_sha256`, the hash of the tokenised rows, would need both). Raw files
edited but not yet prepared again are not seen: the next training command prepares them.
"""

import functools
import json
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
        return prepared_record(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
