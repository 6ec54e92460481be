"""Leaderboard submission files for the official unlabelled test sets.

GLUE (gluebenchmark.com): one TSV per task, a header `index\tprediction`, then one line per test
row with the row's `index` and the predicted label; RTE and MNLI spell labels out, the binary
tasks write 0/1. SuperGLUE (super.gluebenchmark.com): one JSON Lines file per task,
`{"idx": <the row's idx>, "label": <label>}`, labels spelled as in the task's data.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from afuse.atomic import atomic_write_text
from afuse.errors import ConfigError


@dataclass(frozen=True)
class Submission:
    file: str  # the file name the leaderboard expects
    id_field: str  # the test file's field that identifies a row
    numeric: bool  # write the label's index instead of its name


FORMATS: dict[str, dict[str, Submission]] = {
    "glue": {
        "rte": Submission("RTE.tsv", "index", numeric=False),
        "mrpc": Submission("MRPC.tsv", "index", numeric=True),
        "sst2": Submission("SST-2.tsv", "index", numeric=True),
        "qqp": Submission("QQP.tsv", "index", numeric=True),
        "mnli": Submission("MNLI-m.tsv", "index", numeric=False),
    },
    "superglue": {
        "cb": Submission("CB.jsonl", "idx", numeric=False),
        "boolq": Submission("BoolQ.jsonl", "idx", numeric=False),
        "rte": Submission("RTE.jsonl", "idx", numeric=False),
    },
}


def submission_files(task: str) -> list[str]:
    """The names of every submission file `task` can have (one per format covering it)."""
    return [tasks[task].file for tasks in FORMATS.values() if task in tasks]


def submission_for(fmt: str, task: str) -> Submission:
    if fmt not in FORMATS:
        raise ConfigError(
            f"format={fmt!r} is not a submission format; valid: {', '.join(FORMATS)} (or leave it out)"
        )
    if task not in FORMATS[fmt]:
        other = [f for f, tasks in FORMATS.items() if task in tasks]
        hint = f"; {task} is in format={other[0]}" if other else ""
        raise ConfigError(
            f"format={fmt} has no submission file for task {task}; it covers {', '.join(FORMATS[fmt])}{hint}"
        )
    return FORMATS[fmt][task]


def write_submission(
    directory: Path, submission: Submission, ids: list, predicted: list[int], labels: list[str]
) -> Path:
    values = [p if submission.numeric else labels[p] for p in predicted]
    path = Path(directory) / submission.file
    if submission.file.endswith(".tsv"):
        text = "index\tprediction\n" + "".join(f"{i}\t{v}\n" for i, v in zip(ids, values, strict=True))
    else:
        text = "".join(json.dumps({"idx": i, "label": v}) + "\n" for i, v in zip(ids, values, strict=True))
    atomic_write_text(path, text)
    return path
