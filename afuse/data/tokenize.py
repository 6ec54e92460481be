"""load_tokenized: a task's splits tokenised for one tokenizer and max length, cached on disk.

    <paths.data>/cache/<task>/<tokenizer>-len<max_length>/{train,validation,test}.parquet  cache.json

cache.json (written last) records the settings the cache was built with (including the sha256
of each prepared split, so re-preparing the task invalidates it) and each cache file's sha256,
so a truncated or altered file is detected and the cache rebuilt with a warning.
"""

import logging
from datetime import UTC, datetime
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from omegaconf import DictConfig
from tqdm.auto import tqdm

from afuse.atomic import atomic_write_json
from afuse.config import example_limit
from afuse.data.prepare import fingerprint, prepare_task, read_manifest
from afuse.data.schema import SPLITS
from afuse.data.store import CACHE_INDEX, cache_dir, damaged_files, locked, read_index, write_parquet
from afuse.data_record import prepared_record
from afuse.errors import AfuseError

log = logging.getLogger(__name__)

TOKENIZE_VERSION = 1  # bump when the tokenised output of the same prepared data changes
CHUNK_ROWS = 1000
PREPARE_TRIES = 3  # preparations in a row that another process may redo with other settings
MODEL_INPUTS = {"input_ids": pa.int32(), "attention_mask": pa.int8(), "token_type_ids": pa.int8()}


class TokenizedSplits(dict):
    """split -> datasets.Dataset, and `prepared`: the record of the prepared copy they were
    tokenised from (afuse.data_record.prepared_record), which a run keeps in its metrics.json."""

    def __init__(self, splits: dict, prepared: dict):
        super().__init__(splits)
        self.prepared = prepared


def load_tokenized(
    task_cfg: DictConfig, data_cfg: DictConfig, paths_cfg: DictConfig, tokenizer, tokenizer_id: str
) -> TokenizedSplits:
    """'train', 'validation', 'test' as datasets with input_ids, attention_mask, [token_type_ids], labels.

    Not padded (see Collator). Multiple choice: each input column holds one sequence per choice.
    The task is prepared first if needed; train is subsampled to data.max_train_examples.
    """
    directory = cache_dir(paths_cfg, task_cfg.name, tokenizer_id, int(task_cfg.max_length))
    for _ in range(PREPARE_TRIES):
        prepared = prepare_task(task_cfg, data_cfg, paths_cfg)
        # The prepared folder stays locked until its files are read: a job with other split
        # settings on the same paths.data (a sweep over them) may prepare the task again as soon
        # as prepare_task returns, and its splits are not this run's.
        with locked(prepared):
            manifest = read_manifest(prepared)
            if manifest is None or manifest.get("fingerprint") != fingerprint(task_cfg, data_cfg):
                continue
            settings = _settings(task_cfg, tokenizer_id, manifest)
            with locked(directory):
                tables = _load_cache(directory, settings, task_cfg.name)
                if tables is None:
                    tables = _build_cache(directory, prepared, task_cfg, tokenizer, settings)
            break
    else:
        raise AfuseError(
            f"{task_cfg.name}: {prepared} was prepared again with other data settings by another process "
            f"{PREPARE_TRIES} times while this one read it; give jobs with other data.* split settings "
            "their own paths.data"
        )
    splits = {split: datasets.Dataset(tables[split]) for split in SPLITS}
    splits["train"] = subsample(splits["train"], data_cfg, task_cfg.name, "train")
    splits["test"] = subsample(splits["test"], data_cfg, task_cfg.name, "test")
    return TokenizedSplits(splits, prepared_record(manifest))


def subsample(
    rows: datasets.Dataset, data_cfg: DictConfig, task: str, split: str = "train", announce: bool = True
) -> datasets.Dataset:
    """data.max_<split>_examples rows, drawn with data.split_seed: the same for every run seed
    (`announce`: log the cut; off where the same cut of the same split was logged already).

    Test subsampling exists for CPU-scale runs over large dev sets (IMDB's is 25,000 reviews);
    the run's metrics record the test size, and the report says when a test set was cut."""
    limit = example_limit(data_cfg, task, split)
    if limit is None or limit >= len(rows):
        return rows
    rng = np.random.default_rng(int(data_cfg.split_seed))
    keep = np.sort(rng.choice(len(rows), size=limit, replace=False))
    if announce:
        log.info(
            "%s: using %d of %d %s rows (data.max_%s_examples, seed %d)",
            task,
            len(keep),
            len(rows),
            split,
            split,
            int(data_cfg.split_seed),
        )
    return rows.select(keep)


def split_rows(rows: datasets.Dataset) -> int:
    """The rows of the split `rows` was drawn from by `subsample` (its own length when it was not
    cut): `select` keeps the split's Arrow table whole and indexes into it. Recorded beside the
    scored count in metrics.json, so the report can say a test set was a sample and of what."""
    table = getattr(rows, "data", None)  # plain rows (the GPU check's synthetic data) have none
    return int(table.num_rows) if table is not None else len(rows)


def _settings(task_cfg: DictConfig, tokenizer_id: str, manifest: dict) -> dict:
    """Everything the cached tokens depend on; any change rebuilds the cache."""
    return {
        "version": TOKENIZE_VERSION,
        "task": task_cfg.name,
        "tokenizer_id": tokenizer_id,
        "max_length": int(task_cfg.max_length),
        "kind": task_cfg.kind,
        "num_choices": task_cfg.get("num_choices"),
        "blank": task_cfg.get("blank"),
        "prepared_sha256": {split: entry["sha256"] for split, entry in manifest["splits"].items()},
    }


def _load_cache(directory: Path, settings: dict, task: str) -> dict[str, pa.Table] | None:
    index = read_index(directory / CACHE_INDEX, "files")
    if index is None:
        if (directory / CACHE_INDEX).exists():
            log.warning(
                "%s: tokenised cache index %s is unreadable; rebuilding the cache",
                task,
                directory / CACHE_INDEX,
            )
        return None
    if index.get("settings") != settings:
        log.info("%s: prepared data or tokenisation settings changed; re-tokenising", task)
        return None
    damaged = damaged_files(directory, index["files"])
    if damaged:
        log.warning(
            "%s: tokenised cache is corrupt: %s missing or not matching its sha256; rebuilding it",
            task,
            ", ".join(str(directory / name) for name in damaged),
        )
        return None
    log.info("%s: reusing tokenised cache %s", task, directory)
    return {split: pq.read_table(directory / entry["file"]) for split, entry in index["files"].items()}


def _build_cache(directory: Path, prepared: Path, task_cfg: DictConfig, tokenizer, settings: dict) -> dict:
    (directory / CACHE_INDEX).unlink(missing_ok=True)  # incomplete until the new index is written
    tables, files = {}, {}
    for split in SPLITS:
        rows = pq.read_table(prepared / f"{split}.parquet").to_pylist()
        tables[split] = tokenize_rows(rows, task_cfg, tokenizer, desc=f"tokenising {task_cfg.name} {split}")
        files[split] = write_parquet(directory / f"{split}.parquet", tables[split])
    created = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write_json(directory / CACHE_INDEX, {"settings": settings, "files": files, "created_at": created})
    log.info(
        "%s: tokenised with %s (max_length %d) into %s",
        task_cfg.name,
        settings["tokenizer_id"],
        settings["max_length"],
        directory,
    )
    return tables


# -- tokenisation ------------------------------------------------------------------------------


def tokenize_rows(rows: list[dict], task_cfg: DictConfig, tokenizer, desc: str = "tokenising") -> pa.Table:
    """Schema rows -> a table of model inputs (lists of token ids) and labels."""
    multiple_choice = task_cfg.kind == "multiple_choice"
    encode = _encode_choices if multiple_choice else _encode_texts
    columns: dict[str, list] = {}
    for start in tqdm(range(0, len(rows), CHUNK_ROWS), desc=desc, unit=" chunks", disable=None):
        chunk = rows[start : start + CHUNK_ROWS]
        for name, values in encode(chunk, task_cfg, tokenizer).items():
            columns.setdefault(name, []).extend(values)
    if not rows:  # an empty split still gets the columns this tokenizer produces
        columns = {name: [] for name in _encode(tokenizer, ["x"], None, 8)}
    arrays = {}
    for name, values in columns.items():
        type_ = pa.list_(MODEL_INPUTS[name])
        arrays[name] = pa.array(values, type=pa.list_(type_) if multiple_choice else type_)
    arrays["labels"] = pa.array([row["label"] for row in rows], type=pa.int64())
    return pa.table(arrays)


def _encode(tokenizer, first: list[str], second: list[str] | None, max_length: int) -> dict[str, list]:
    encoded = tokenizer(first, second, truncation=True, max_length=max_length)
    return {name: encoded[name] for name in MODEL_INPUTS if name in encoded}


def _encode_texts(rows: list[dict], task_cfg: DictConfig, tokenizer) -> dict[str, list]:
    first = [row["text_a"] for row in rows]
    second = [row["text_b"] for row in rows] if task_cfg.kind == "pair" else None
    return _encode(tokenizer, first, second, int(task_cfg.max_length))


def choice_pair(text_a: str, choice: str, blank: str | None) -> tuple[str, str]:
    """(first, second) segment for one choice. With a blank (WinoGrande): the sentence up to the
    blank, then the choice followed by the rest of the sentence."""
    if not blank:
        return text_a, choice
    before, _, after = text_a.partition(blank)
    return before.strip(), f"{choice}{after}".strip()


def _encode_choices(rows: list[dict], task_cfg: DictConfig, tokenizer) -> dict[str, list]:
    blank = task_cfg.get("blank")
    pairs = [choice_pair(row["text_a"], choice, blank) for row in rows for choice in row["choices"]]
    encoded = _encode(tokenizer, [p[0] for p in pairs], [p[1] for p in pairs], int(task_cfg.max_length))
    k = int(task_cfg.num_choices)
    return {name: [values[i : i + k] for i in range(0, len(values), k)] for name, values in encoded.items()}
