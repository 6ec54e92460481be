"""Readers for the tasks' original distribution formats, by the `format:` names task configs use."""

from collections.abc import Callable
from pathlib import Path

from afuse.data.readers.base import RawDataError, RawRecord, RecordStream, bad, open_text
from afuse.data.readers.delimited import read_csv, read_tsv
from afuse.data.readers.hellaswag import read_hellaswag_text
from afuse.data.readers.imdb import read_imdb_tar
from afuse.data.readers.json_formats import read_crossfit_jsonl, read_json_records, read_jsonl

# format name -> reader(path, columns) ; `columns` names the fields of headerless TSVs.
READERS: dict[str, Callable[[Path, list[str] | None], RecordStream]] = {
    "jsonl": lambda path, columns: read_jsonl(path),
    "crossfit_jsonl": lambda path, columns: read_crossfit_jsonl(path),
    "json_records": lambda path, columns: read_json_records(path),
    "tsv": read_tsv,
    "csv": lambda path, columns: read_csv(path),
    "hellaswag_text": lambda path, columns: read_hellaswag_text(path),
    "imdb_tar": lambda path, columns: read_imdb_tar(path),
}

__all__ = [
    "READERS",
    "RawDataError",
    "RawRecord",
    "RecordStream",
    "bad",
    "open_text",
    "read_labels_file",
    "with_labels",
]


def read_labels_file(path: Path) -> list[str]:
    """A `.lst` label file: one label per line (SocialIQA, Winogrande)."""
    with open_text(path) as handle:
        return [line.strip() for line in handle if line.strip()]


def with_labels(
    records: list[RawRecord], labels: list[str], label_field: str, labels_path: Path
) -> list[RawRecord]:
    """Attach line i of a label file to record i of its data file.

    The two files are aligned by position only, so a length mismatch makes every label suspect:
    that is an error for the whole file, not a malformed row. A record that carries its own label
    too (Winogrande's `answer`) must agree with the label file; a disagreement marks the row.
    """
    if len(records) != len(labels):
        raise RawDataError(
            f"{labels_path} has {len(labels)} labels but its data file has {len(records)} rows; "
            "the label file must have one line per data row, in the same order"
        )
    joined = []
    for record, label in zip(records, labels, strict=True):
        if record.problem:
            joined.append(record)
            continue
        own = record.fields.get(label_field)
        if own not in (None, "") and str(own).strip() != label:
            joined.append(
                bad(record.position, f"label {own!r} disagrees with {labels_path.name} ({label!r})")
            )
            continue
        joined.append(RawRecord(record.position, {**record.fields, label_field: label}))
    return joined
