"""HellaSwag as plain text (klosax/hellaswag_text_data), optionally bz2-compressed.

Six lines per item: `activity_label: ctx`, the label (0-3), then the four endings. A trailing
incomplete item or a non-numeric label line is reported as malformed.
"""

import bz2
from pathlib import Path

from afuse.data.readers.base import TEXT_MODE, RawRecord, RecordStream, bad

LINES_PER_ITEM = 6
NUM_ENDINGS = 4


def _open(path: Path):
    if path.suffix == ".bz2":
        return bz2.open(path, "rt", **TEXT_MODE)
    return open(path, **TEXT_MODE)


def read_hellaswag_text(path: Path) -> RecordStream:
    with _open(path) as handle:
        lines = [line.rstrip("\r\n") for line in handle]
    for start in range(0, len(lines), LINES_PER_ITEM):
        block = lines[start : start + LINES_PER_ITEM]
        first_line = start + 1
        if len(block) < LINES_PER_ITEM:
            yield bad(
                first_line, f"incomplete item at the end of the file: {len(block)} of {LINES_PER_ITEM} lines"
            )
            continue
        context, label, *endings = block
        if not label.strip().isdigit():
            yield bad(first_line, f"line {first_line + 1} should hold the label 0-3, found {label[:40]!r}")
            continue
        yield RawRecord(str(first_line), {"ctx": context, "label": label.strip(), "endings": endings})
