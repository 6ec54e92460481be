"""What every raw-format reader yields, and the helpers they share.

A reader turns one raw file into `RawRecord`s: a dict of the file's own fields (column names,
JSON keys) or, for a row it could not parse, the reason. Readers never drop a row silently: an
unparsable row is yielded with `problem` set, so prepare-data can count it and report it.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from afuse.errors import AfuseError


class RawDataError(AfuseError):
    """A raw file is unusable as a whole (not just one row): wrong shape, misaligned label file."""

    exit_code = 3


@dataclass(frozen=True)
class RawRecord:
    """One row of a raw file. `position` says where it is (a line number, a member name)."""

    position: str
    fields: dict[str, Any] | None
    problem: str | None = None


def bad(position: Any, problem: str) -> RawRecord:
    return RawRecord(str(position), None, problem)


# UTF-8, a leading byte-order mark removed (MRPC, SICK have one). Bytes that are not UTF-8 are
# kept as lone surrogates (U+DC80..U+DCFF) instead of stopping the whole file: the row holding
# them is reported as malformed (`undecodable_as_bad`). newline="" keeps the csv module in
# charge of line endings (SciTail and CosmosQA use CRLF).
TEXT_MODE = {"encoding": "utf-8-sig", "errors": "surrogateescape", "newline": ""}
UNDECODABLE = re.compile("[\udc80-\udcff]+")


def open_text(path: Path) -> IO[str]:
    """Open a raw text file for reading (TEXT_MODE)."""
    return open(path, **TEXT_MODE)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def undecodable(value: Any) -> str | None:
    """Why `value` (a line, a record's fields) is not valid UTF-8, or None if it is."""
    for text in _texts(value):
        found = UNDECODABLE.search(text)
        if found:
            raw = " ".join(f"0x{ord(char) - 0xDC00:02x}" for char in found[0][:4])
            return f"invalid UTF-8 (bytes {raw}); re-save the file as UTF-8"
    return None


def undecodable_as_bad(record: RawRecord) -> RawRecord:
    """A record holding bytes that are not UTF-8 becomes a malformed row."""
    reason = None if record.problem else undecodable(record.fields)
    return bad(record.position, reason) if reason else record


RecordStream = Iterator[RawRecord]
