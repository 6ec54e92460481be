"""`afuse predict ... format=glue|superglue`: submission files for the official unlabelled test
sets in the shared data (every row, the files' own ids, valid labels)."""

import csv
import json

import pandas as pd
import pytest

from afuse.config import task_config
from tests.inference.conftest import afuse, untrained_head_run

CASES = [
    # task, format, test file, submission file, id field
    ("rte", "glue", "RTE/glue/test.tsv", "RTE.tsv", "index"),
    ("mrpc", "glue", "MRPC/test.tsv", "MRPC.tsv", "index"),
    ("sst2", "glue", "SST-2/test.tsv", "SST-2.tsv", "index"),
    ("cb", "superglue", "CB/test.jsonl", "CB.jsonl", "idx"),
    ("boolq", "superglue", "BoolQ/test.jsonl", "BoolQ.jsonl", "idx"),
]


def official_ids(path, id_field: str) -> list[str]:
    if path.suffix == ".tsv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return [row[id_field] for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return [str(json.loads(line)[id_field]) for line in path.read_text().splitlines() if line.strip()]


def submitted(path) -> tuple[list[str], list]:
    if path.suffix == ".tsv":
        lines = path.read_text().splitlines()
        assert lines[0] == "index\tprediction"
        pairs = [line.split("\t") for line in lines[1:]]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(set(r) == {"idx", "label"} for r in records)
    return [str(r["idx"]) for r in records], [r["label"] for r in records]


@pytest.mark.parametrize(("task", "fmt", "test_file", "name", "id_field"), CASES)
def test_submission_file_covers_the_official_test_set(
    tmp_path, shared_data, task, fmt, test_file, name, id_field
):
    run = untrained_head_run(tmp_path, task)
    source = shared_data / test_file
    afuse(
        "predict",
        f"run={run}",
        f"file={source}",
        f"format={fmt}",
        f"paths.logs={tmp_path}/logs",
        "progress_bar=false",
    )
    folder = run / "predict" / source.stem
    ids, labels = submitted(folder / name)
    assert ids == official_ids(source, id_field)  # every row, in the file's order, its own id
    names = list(task_config(task).labels)
    valid = {"0", "1"} if name in ("MRPC.tsv", "SST-2.tsv") else set(names)
    assert set(map(str, labels)) <= valid
    predictions = pd.read_parquet(folder / "predictions.parquet")
    assert len(predictions) == len(ids) and "gold" not in predictions
    assert [names[p] for p in predictions["predicted"]] == predictions["predicted_label"].tolist()
