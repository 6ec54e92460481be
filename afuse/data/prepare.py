"""prepare_task: read a task's source, carve our splits, write parquet + manifest.json.

Idempotent: a prepared copy is reused while its manifest matches the task config and split
settings, its parquet files match their recorded checksums and (local source) the raw files
match theirs. Otherwise, or with force=True, the task is prepared again.
"""

import logging
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from afuse import __version__
from afuse.atomic import atomic_write_json
from afuse.data.checks import check_prepared
from afuse.data.hub import read_hub
from afuse.data.local import read_local
from afuse.data.normalize import plain
from afuse.data.schema import SPLITS, to_table
from afuse.data.source_read import SourceRead, sha256_file
from afuse.data.splits import carve_splits
from afuse.data.store import damaged_files, digest, locked, prepared_dir, read_index, write_parquet
from afuse.errors import ConfigError, OfflineError
from afuse.validate import DATA_SOURCES

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
PREPARE_VERSION = 2  # bump when the normalised output (or the manifest's shape) of the same input changes
SPLIT_SETTINGS = ("split_seed", "validation_fraction", "validation_max_examples")


def check_source(data_cfg: DictConfig) -> str:
    if data_cfg.source not in DATA_SOURCES:
        raise ConfigError(
            f"data.source={data_cfg.source!r} is not valid; use data.source=hub or data.source=local"
        )
    return data_cfg.source


def fingerprint(task_cfg: DictConfig, data_cfg: DictConfig) -> str:
    """What the prepared data depends on (max_length and training settings do not belong here)."""
    source = check_source(data_cfg)
    return digest(
        {
            "version": PREPARE_VERSION,
            "task": {
                key: plain(task_cfg.get(key)) for key in ("name", "kind", "num_choices", "labels", "blank")
            },
            "source": source,
            # `expected` holds reference numbers for experiments/check_hub.py, not reading rules
            "source_config": {
                k: v for k, v in (plain(task_cfg.get(source)) or {}).items() if k != "expected"
            },
            "split_settings": {key: plain(data_cfg.get(key)) for key in SPLIT_SETTINGS},
        }
    )


def prepare_task(
    task_cfg: DictConfig, data_cfg: DictConfig, paths_cfg: DictConfig, force: bool = False
) -> Path:
    """Write <paths.data>/prepared/<task>/{train,validation,test}.parquet + manifest.json; return the folder."""
    out = prepared_dir(paths_cfg, task_cfg.name)
    expected = fingerprint(task_cfg, data_cfg)
    with locked(out):
        stale = "force=true" if force else _stale_reason(out, expected, task_cfg.name, data_cfg)
        if stale is None:
            check_prepared(read_manifest(out), out, data_cfg.get("max_malformed_fraction"))
            log.info(
                "%s: prepared data in %s is up to date; reusing it (force=true re-reads the source)",
                task_cfg.name,
                out,
            )
            return out
        source = _read_source(out, task_cfg, data_cfg)
        manifest = _write(out, task_cfg, data_cfg, source, expected)
    check_prepared(manifest, out, data_cfg.get("max_malformed_fraction"))
    source.malformed.report(task_cfg.name)  # after the check: rows "left out" of data that is used
    counts = " / ".join(f"{split} {manifest['splits'][split]['rows']}" for split in SPLITS)
    # Why it was (re)prepared goes into this line, not before: an error reading the source
    # should be the only line the user sees.
    log.info(
        "%s: prepared %s rows (%d malformed left out) in %s [%s]",
        task_cfg.name,
        counts,
        manifest["malformed"]["total"],
        out,
        stale,
    )
    return out


def _read_source(out: Path, task_cfg: DictConfig, data_cfg: DictConfig) -> SourceRead:
    if data_cfg.source == "local":
        return read_local(task_cfg, data_cfg.get("raw_dir"))
    try:
        return read_hub(task_cfg)
    except OfflineError as error:
        previous = read_manifest(out)
        if previous and previous.get("source") == "local":  # e.g. train-adapter run without data.source=local
            raise OfflineError(
                f"{error} (a copy prepared from local files is in {out}: add data.source=local)"
            ) from error
        raise


def read_manifest(prepared: Path) -> dict | None:
    return read_index(prepared / MANIFEST, "splits")


# -- reuse -------------------------------------------------------------------------------------


def _stale_reason(out: Path, expected: str, task: str, data_cfg: DictConfig) -> str | None:
    """Why the prepared copy in `out` cannot be reused, or None if it can. Damage is warned about."""
    manifest = read_manifest(out)
    if manifest is None:
        if (out / MANIFEST).exists():
            log.warning("%s: %s is unreadable (damaged?); preparing the task again", task, out / MANIFEST)
            return "manifest damaged"
        return "first preparation"
    if manifest.get("fingerprint") != expected:
        return "task config, data.source or split settings changed"
    damaged = damaged_files(out, manifest["splits"])
    if damaged:
        log.warning(
            "%s: prepared data damaged: %s missing or not matching its recorded sha256; preparing again",
            task,
            ", ".join(str(out / name) for name in damaged),
        )
        return "prepared files damaged"
    changed = _changed_raw_files(manifest, data_cfg, out, task)
    if changed:
        return f"raw files changed: {', '.join(changed)}"
    return None


def _changed_raw_files(manifest: dict, data_cfg: DictConfig, out: Path, task: str) -> list[str]:
    """The raw files the copy in `out` was prepared from that differ now. None of them there (the
    copy was taken to another machine, or the raw data moved): nothing to compare with, so the
    copy, checked by its own sha256, stands, as without data.raw_dir."""
    if data_cfg.source != "local":
        return []
    raw_dir = data_cfg.get("raw_dir")
    found = {}
    for entry in manifest.get("source_files", []):
        if not raw_dir and not Path(entry["path"]).is_absolute():
            continue  # nothing to compare with: the prepared copy stands
        found[entry["path"]] = (
            entry,
            Path(raw_dir or "/").expanduser() / entry["path"],
        )  # absolute: raw_dir ignored
    if found and not any(path.is_file() for _, path in found.values()):
        names = list(found)
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        log.info(
            "%s: no raw files%s (%s); reusing the prepared copy in %s made from them (data.raw_dir= "
            "where they are now compares it with them)",
            task,
            f" under {raw_dir}" if raw_dir else "",
            listed,
            out,
        )
        return []
    return [
        name
        for name, (entry, path) in found.items()
        if not path.is_file() or path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]
    ]


# -- writing -----------------------------------------------------------------------------------


def _raw_dir_recorded(data_cfg: DictConfig) -> str | None:
    raw_dir = data_cfg.get("raw_dir") if data_cfg.source == "local" else None
    return str(Path(raw_dir).expanduser().resolve()) if raw_dir else None  # None: an absolute folder


def _write(out: Path, task_cfg: DictConfig, data_cfg: DictConfig, source: SourceRead, expected: str) -> dict:
    splits, carving = carve_splits(
        source.splits, task_cfg[data_cfg.source].get("carve"), data_cfg, task_cfg.name
    )
    duplicates = int(pd.concat([splits[s]["id"] for s in SPLITS]).duplicated().sum())
    if duplicates:
        log.warning(
            "%s: %d row ids occur more than once (counted in manifest.json)", task_cfg.name, duplicates
        )
    (out / MANIFEST).unlink(
        missing_ok=True
    )  # until the new manifest is written, the folder reads as incomplete
    split_entries = {}
    for split in SPLITS:
        split_entries[split] = write_parquet(out / f"{split}.parquet", to_table(splits[split]))
        split_entries[split]["label_distribution"] = label_distribution(splits[split], task_cfg)
        split_entries[split]["from"] = _split_origin(split, source, carving)
    manifest = {
        "afuse_version": __version__,
        "task": task_cfg.name,
        "display_name": task_cfg.get("display_name", task_cfg.name),
        "kind": task_cfg.kind,
        "num_choices": task_cfg.get("num_choices"),
        "labels": plain(task_cfg.get("labels")),
        "source": data_cfg.source,
        "raw_dir": _raw_dir_recorded(data_cfg),
        "fingerprint": expected,
        "prepared_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "splits": split_entries,
        "official_splits": {
            s: {
                "rows": len(f),
                "from": source.origins[s],
                "label_distribution": label_distribution(f, task_cfg),
            }
            for s, f in source.splits.items()
        },
        "carving": carving,
        "test_is_official": not any(rule["split"] == "test" or rule["from"] == "test" for rule in carving),
        "notes": source.notes,
        "source_files": source.source_files,
        "malformed": source.malformed.to_manifest(),
        "duplicate_ids": duplicates,
    }
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


def label_distribution(frame: pd.DataFrame, task_cfg: DictConfig) -> dict[str, int]:
    if task_cfg.kind == "multiple_choice":
        names = [f"choice {i}" for i in range(task_cfg.num_choices)]
    else:
        names = list(task_cfg.labels)
    counts = frame["label"].value_counts()
    return {name: int(counts.get(i, 0)) for i, name in enumerate(names)}


def _split_origin(split: str, source: SourceRead, carving: list[dict]) -> str:
    """In words: where our split's rows come from, e.g. 'RTE/superglue/train.jsonl less 10% carved into validation'."""
    parts = [source.origins[split]] if split in source.origins else []
    for rule in carving:
        if rule["split"] == split:
            parts.append(
                f"a seeded stratified {rule['fraction']:.0%} of {rule['from']} ({rule['rows']} of {rule['from_rows']} rows)"
            )
        elif rule["from"] == split:
            parts.append(f"less the {rule['rows']} rows carved into {rule['split']}")
    return "; ".join(parts)
