"""What `afuse evaluate` and `afuse predict` share: the model, the rows to score, the outputs.

    trained = open_trained(cfg)                          # run=<dir> or adapterhub=<dir> task=<task>
    rows = split_rows(cfg, trained, "test") | file_rows(cfg, trained, labelled=True)
    inference = infer_rows(cfg, trained, rows, "evaluating")  # afuse/inference/batching.py
    frame = predictions_frame(rows, inference, trained)  # predictions.parquet

Outputs go to <run dir>/eval/<name>/ (evaluate) or <run dir>/predict/<name>/ (predict), or under
`out=`; the run's own files are only read. A folder holding outputs of other rows is refused.
"""

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from afuse.atomic import atomic_write
from afuse.data import Collator, load_tokenized
from afuse.data.prepare import read_manifest
from afuse.data.schema import SPLITS
from afuse.data.store import prepared_dir
from afuse.data.tokenize import subsample, tokenize_rows
from afuse.environment import other_versions
from afuse.errors import ConfigError
from afuse.hub_adapters import is_hub_id
from afuse.inference.batching import Inference, infer
from afuse.inference.output_owner import check_owner, owner_of
from afuse.inference.rawfile import FileRows, read_file
from afuse.inference.rebuild import TrainedModel, load_adapterhub, load_run
from afuse.inference.run_settings import adapterhub_model, check_settings, command_line_data
from afuse.train.loop import resolve_device

log = logging.getLogger("afuse")


@dataclass
class Rows:
    """The rows to score: tokenised, with their ids and where they come from."""

    dataset: datasets.Dataset  # input_ids, attention_mask, [token_type_ids], labels (-1: none)
    ids: list
    source: dict  # {"split": ...} or {"file": ..., "format": ..., "fields": ...}, and "sha256"
    counts: dict  # {"read": rows in the source, "used": scored, "malformed": {...}}
    default_name: str


def open_trained(cfg: DictConfig) -> TrainedModel:
    if cfg.get("num_threads"):
        torch.set_num_threads(int(cfg.num_threads))
    task = cfg.task.name if cfg.get("task") is not None else None
    if cfg.run and cfg.adapterhub:
        raise ConfigError("give run=<run dir> or adapterhub=<adapter dir>, not both")
    check_settings(cfg)
    if cfg.run:
        trained = load_run(cfg.run, task)
        with open_dict(trained.cfg):
            for key, value in command_line_data(cfg).items():
                OmegaConf.update(trained.cfg, f"data.{key}", value)
        _warn_other_versions(trained)
        return trained
    if cfg.adapterhub:
        if task is None:
            raise ConfigError("adapterhub=<dir> needs the task its head predicts: add task=<name>")
        if is_hub_id(str(cfg.adapterhub)) and not cfg.out:  # outputs go beside an adapter by default
            raise ConfigError(
                f"adapterhub={cfg.adapterhub} is read from the Hugging Face cache, where afuse writes "
                "nothing: add out=<dir> for the outputs"
            )
        return load_adapterhub(cfg.adapterhub, cfg.task, adapterhub_model(cfg), cfg.data)
    raise ConfigError(
        "no model given: add run=<run dir> (`afuse list runs` lists the finished ones) "
        "or adapterhub=<adapter dir> task=<task>"
    )


def _warn_other_versions(trained: TrainedModel) -> None:
    differ = other_versions(trained.metrics)
    if differ:
        log.warning(
            "%s was trained on %s: its probabilities here may differ from those it gave there (and its "
            "scores from its metrics.json) in the last digits",
            trained.where,
            ", ".join(differ),
        )


def collator(trained: TrainedModel) -> Collator:
    return Collator(trained.tokenizer.pad_token_id, multiple_choice=trained.task.kind == "multiple_choice")


def infer_rows(
    cfg: DictConfig, trained: TrainedModel, rows: "Rows", verb: str, activations: bool = False
) -> Inference:
    """The run's model on cfg.device, over `rows` in length-sorted batches of cfg.batch_size."""
    device = resolve_device(cfg.device)
    trained.model.to(device)
    return infer(
        trained.model,
        rows.dataset,
        collator(trained),
        int(cfg.batch_size),
        device,
        record_activations=activations,
        progress=cfg.progress_bar,
        desc=f"{verb} {trained.task.name}",
    )


# --- rows ------------------------------------------------------------------------------------


def split_rows(cfg: DictConfig, trained: TrainedModel, split: str) -> Rows:
    """The run's own split, tokenised and subsampled exactly as its training command did."""
    if split not in SPLITS:
        raise ConfigError(f"split={split!r} is not a split; valid: {', '.join(SPLITS)}")
    task, data_cfg = trained.task, trained.cfg.data
    splits = load_tokenized(task, data_cfg, cfg.paths, trained.tokenizer, trained.tokenizer_id)
    prepared = prepared_dir(cfg.paths, task.name)
    manifest = read_manifest(prepared)
    ids = datasets.Dataset.from_dict(
        {"id": pq.read_table(prepared / f"{split}.parquet").column("id").to_pylist()}
    )
    if split in ("train", "test"):
        ids = subsample(ids, data_cfg, task.name, split, announce=False)  # the ids of the rows cut above
    source = {
        "split": split,
        "prepared": str(prepared / f"{split}.parquet"),
        "sha256": manifest["splits"][split]["sha256"],
    }
    counts = {"read": manifest["splits"][split]["rows"], "used": len(splits[split]), "malformed": None}
    return Rows(splits[split], ids["id"], source, counts, split)


def file_rows(cfg: DictConfig, trained: TrainedModel, labelled: bool, id_field: str | None = None) -> Rows:
    read: FileRows = read_file(cfg.file.path, trained.task, cfg.file, labelled, id_field)
    table = tokenize_rows(read.rows, trained.task, trained.tokenizer, desc=f"tokenising {read.path.name}")
    source = {"file": str(read.path), "format": read.format, "fields": read.fields, "sha256": read.sha256}
    counts = {"read": read.records, "used": len(read.rows), "malformed": read.malformed_summary()}
    return Rows(datasets.Dataset(table), read.ids, source, counts, read.path.stem)


# --- outputs ---------------------------------------------------------------------------------


def output_dir(cfg: DictConfig, trained: TrainedModel, kind: str, rows: Rows) -> Path:
    """<run dir>/<kind>/<name>/ (or <out>/<name>/); refused if it holds outputs of other rows."""
    default_name = rows.default_name
    if trained.kind == "mt_a":  # one run, several tasks: each task's test split gets its own folder
        default_name = f"{trained.task.name}_{default_name}"
    name = str(cfg.name or default_name)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name) or name in (".", ".."):
        raise ConfigError(f"name={name!r}: use letters, digits, '.', '_' or '-' (it names a folder)")
    root = Path(cfg.out) if cfg.out else trained.where / kind
    check_owner(root / name, outputs_owner(kind, trained, rows))
    return root / name


def outputs_owner(kind: str, trained: TrainedModel, rows: Rows) -> dict:
    """What a folder of `kind` outputs over `rows` holds (afuse/inference/output_owner.py)."""
    return owner_of(kind, trained.where, trained.task.name, rows.source)


def predictions_frame(
    rows: Rows, probabilities: np.ndarray, labels: list[str], labelled: bool
) -> pd.DataFrame:
    predicted = probabilities.argmax(-1) if len(probabilities) else np.zeros(0, dtype=np.int64)
    frame = {"id": [str(i) for i in rows.ids]}
    if labelled:
        frame["gold"] = np.asarray(rows.dataset["labels"], dtype=np.int64)
    frame["predicted"] = predicted.astype(np.int64)
    frame["predicted_label"] = [labels[p] for p in predicted]
    for i, label in enumerate(labels):
        frame[f"prob_{label}"] = probabilities[:, i]
    return pd.DataFrame(frame)


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))
