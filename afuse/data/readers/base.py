"""What every raw-format reader yields, and the helpers they share.

A reader turns one raw file into `RawRecord`s: a dict of the file's own fields (column names,
JSON keys) or, for a row it could not parse, the reason. Readers never drop a row silently: an
unparsable row is yielded with `problem` set, so prepare-data can count it and report it.
"""

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


def open_text(path: Path) -> IO[str]:
    """Open a text file for reading: UTF-8, a leading byte-order mark removed (MRPC, SICK have one).

    newline="" keeps the csv module in charge of line endings (SciTail and CosmosQA use CRLF).
    """
    return open(path, encoding="utf-8-sig", newline="")


RecordStream = Iterator[RawRecord]
