"""What reading a task's source (Hub or local files) produces, before our splits are carved."""

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from afuse.data.schema import empty_frame

log = logging.getLogger(__name__)


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _in_file_order(row: tuple[str, str]) -> tuple:
    """Line numbers in numeric order (unparsable rows are found before bad labels)."""
    position = row[0]
    return (0, int(position), "") if position.isdigit() else (1, 0, position)


class MalformedLog:
    """Rows that could not be used, per source file: counted, listed in the manifest, logged."""

    def __init__(self) -> None:
        self.by_file: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.rows: dict[str, int] = {}  # file -> rows read from it, malformed ones included

    def seen(self, file: str, rows: int) -> None:
        """`file` held `rows` rows in all: the base of its malformed share."""
        self.rows[file] = rows

    def add(self, file: str, position: str, reason: str) -> None:
        self.by_file[file].append((position, reason))

    @property
    def total(self) -> int:
        return sum(len(rows) for rows in self.by_file.values())

    def to_manifest(self) -> dict:
        return {
            "total": self.total,
            "files": {
                file: {
                    "count": len(rows),
                    "rows": self.rows.get(file),
                    # every malformed row, in file order (the key predates listing them all)
                    "examples": [
                        {"position": pos, "reason": why} for pos, why in sorted(rows, key=_in_file_order)
                    ],
                }
                for file, rows in self.by_file.items()
            },
        }

    def report(self, task: str, listed_in: str | None = "manifest.json") -> None:
        """One warning per file; `listed_in` names where every row is listed (None: nowhere)."""
        listed = f" (listed in {listed_in})" if listed_in else ""
        for file, rows in self.by_file.items():
            position, reason = min(rows, key=_in_file_order)
            log.warning(
                "%s: %d malformed row(s) in %s left out%s; first at %s: %s",
                task,
                len(rows),
                file,
                listed,
                position,
                reason,
            )


@dataclass
class SourceRead:
    """The official splits a source provides, by our split names, and where they came from."""

    splits: dict[str, pd.DataFrame]
    origins: dict[str, str]  # our split -> the file(s) or Hub split it was read from
    source_files: list[dict] = field(default_factory=list)  # [{path, sha256, bytes}]
    malformed: MalformedLog = field(default_factory=MalformedLog)
    notes: list[str] = field(default_factory=list)

    def frame(self, split: str) -> pd.DataFrame:
        return self.splits.get(split, empty_frame())
