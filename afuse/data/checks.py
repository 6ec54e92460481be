"""Refuse prepared data that would train on a silently broken split.

A task's prepared splits are checked from their manifest every time a command uses them (after
preparing and when reusing them), for every source, Hub or local:

- a split with no rows (an empty train file gives an empty train, and an empty validation);
- a train split without one of the task's labels (classification tasks: a one-class training
  set, e.g. Hub labels spelt differently from the task's, "finishes" and learns nothing);
- a source file (or Hub split) with more than `data.max_malformed_fraction` of its rows malformed.

Each is exit 2 with the counts and the first offending rows. The manifest is written anyway, so
`manifest.json` lists every malformed row for the user to inspect.
"""

import math
from pathlib import Path

from afuse.data.schema import SPLITS
from afuse.errors import AfuseError

DEFAULT_MAX_MALFORMED = 0.01
SHOWN_ROWS = 3  # offending rows quoted in the message (all are in manifest.json)
ACCEPTABLE_LOSS = 0.2  # above it a raised limit is not offered: the reading rules are wrong, not rows


class BrokenDataError(AfuseError):
    """Prepared data a run must not train on; the message gives the counts and first offenders."""

    exit_code = 2


def empty_splits(manifest: dict) -> list[str]:
    """Official splits that gave no rows (naming their file), else any of our splits with none."""
    empty_official = [
        f"{split} is empty: {entry['from']} gave 0 usable rows"
        for split, entry in manifest["official_splits"].items()
        if entry["rows"] == 0
    ]
    if empty_official:
        return empty_official
    return [
        f"{split} has 0 rows ({manifest['splits'][split]['from']})"
        for split in SPLITS
        if manifest["splits"][split]["rows"] == 0
    ]


def missing_labels(manifest: dict) -> list[str]:
    if manifest["kind"] == "multiple_choice" or manifest["splits"]["train"]["rows"] == 0:
        return []
    counts = manifest["splits"]["train"]["label_distribution"]
    absent = [label for label, count in counts.items() if count == 0]
    if not absent:
        return []
    shown = ", ".join(f"{label} {count}" for label, count in counts.items())
    return [
        f"train has no {' / '.join(repr(label) for label in absent)} rows ({shown}): "
        "check the source's label spellings against the task's labels"
    ]


def _rows_read(entry: dict) -> int:
    """The rows of a source file (or Hub split) a malformed-rows entry counts against."""
    return entry.get("rows") or entry["count"]


def too_malformed(manifest: dict, max_fraction: float) -> list[str]:
    problems = []
    for file, entry in manifest["malformed"]["files"].items():
        rows = _rows_read(entry)
        if entry["count"] / rows <= max_fraction:
            continue
        first = _first_rows(entry["examples"][:SHOWN_ROWS], "row" if file.startswith("hub:") else "line")
        problems.append(
            f"{file}: {entry['count']} of {rows} rows malformed "
            f"({entry['count'] / rows:.1%} > data.max_malformed_fraction={max_fraction:g}), first at {first}"
        )
    return problems


def _first_rows(examples: list[dict], unit: str) -> str:
    """The first offending rows, those of one reason in one clause ('lines 2, 3, 4: unknown label
    ...'): a misspelt field or label makes every row malformed alike."""
    by_reason: dict[str, list[str]] = {}
    for example in examples:
        by_reason.setdefault(example["reason"], []).append(example["position"])
    clauses = []
    for reason, positions in by_reason.items():
        numbered = all(position.isdigit() for position in positions)
        named = f"{unit}{'s' if len(positions) > 1 else ''} " if numbered else ""
        clauses.append(f"{named}{', '.join(positions)}: {reason}")
    return "; ".join(clauses)


def _label_hint(manifest: dict) -> str:
    """Rows whose label the task does not list: most often the same labels spelt otherwise."""
    shown = [e for entry in manifest["malformed"]["files"].values() for e in entry["examples"][:SHOWN_ROWS]]
    if not any(e["reason"].startswith("unknown label") for e in shown):
        return ""
    return (
        f"; labels spelt otherwise in the files map to the task's with {manifest.get('source', 'local')}"
        ".label_aliases in its task config ({<spelling in the files>: <one of the task's labels>})"
    )


def raised_limit(manifest: dict) -> float | None:
    """The data.max_malformed_fraction that accepts every file's losses (rounded up to a whole
    percent), or None where some file loses so many rows that its reading rules must be wrong."""
    worst = max((e["count"] / _rows_read(e) for e in manifest["malformed"]["files"].values()), default=0.0)
    return math.ceil(worst * 100) / 100 if 0 < worst <= ACCEPTABLE_LOSS else None


def check_prepared(manifest: dict, prepared: Path, max_fraction: float | None) -> None:
    """BrokenDataError if the prepared task in `prepared` would train on broken data."""
    limit = DEFAULT_MAX_MALFORMED if max_fraction is None else float(max_fraction)
    malformed = too_malformed(manifest, limit)
    problems = [*empty_splits(manifest), *missing_labels(manifest), *malformed]
    if problems:
        accept = raised_limit(manifest) if malformed and len(problems) == len(malformed) else None
        fix = "Fix the source and rerun" + (
            f", or accept these losses with data.max_malformed_fraction={accept:g}" if accept else ""
        )
        hint = _label_hint(manifest) if malformed else ""
        raise BrokenDataError(
            f"task {manifest['task']}: not training on broken data: {'; '.join(problems)}{hint}. "
            f"{fix} (every malformed row is listed in {prepared / 'manifest.json'})"
        )
