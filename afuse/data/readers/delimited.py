"""Delimited text formats.

- `tsv`: tab-separated with a header row, no quoting (GLUE's TSVs, SICK, SciTail, the MRPC
  original release, UKP Argument). Headerless files (the BiMPM Quora split) name their columns
  in the task config (`columns:`). Quote characters are ordinary text here: GLUE sentences
  contain `"` and must not be parsed as quoted fields.
- `csv`: comma-separated with a header row and RFC 4180 quoting (CosmosQA's valid.csv: commas
  and line breaks inside quoted fields, CRLF line ends).
"""

import csv
from collections.abc import Sequence
from pathlib import Path

from afuse.data.readers.base import RawDataError, RawRecord, RecordStream, bad, open_text


def read_tsv(path: Path, columns: Sequence[str] | None = None) -> RecordStream:
    with open_text(path) as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = list(columns) if columns else [name.strip() for name in next(rows, [])]
        if not header:
            raise RawDataError(f"{path}: empty file, expected a header row")
        for row in rows:
            if not row:
                continue  # blank line
            if len(row) != len(header):
                yield bad(
                    rows.line_num,
                    f"{len(row)} tab-separated fields, expected {len(header)} ({', '.join(header)})",
                )
                continue
            yield RawRecord(str(rows.line_num), dict(zip(header, row, strict=True)))


def read_csv(path: Path) -> RecordStream:
    with open_text(path) as handle:
        rows = csv.DictReader(handle)
        if not rows.fieldnames:
            raise RawDataError(f"{path}: empty file, expected a header row")
        expected = len(rows.fieldnames)
        for row in rows:
            # DictReader files surplus fields under the key None and fills missing ones with None.
            if None in row or None in row.values():
                found = (
                    expected + len(row.get(None) or [])
                    if None in row
                    else sum(v is not None for v in row.values())
                )
                yield bad(rows.line_num, f"{found} comma-separated fields, expected {expected}")
                continue
            yield RawRecord(str(rows.line_num), dict(row))
