"""prepare-data over the real task data in ../shared/data (or $AFUSE_SHARED_DATA).

Row counts are checked against the source files counted here independently of the readers
(lines, header rows, JSON keys, archive member names), and the split policy against its rules.
"""

import bz2
import json
import logging
import re
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from afuse.config import PAPER_TASKS
from afuse.data.prepare import prepare_task
from afuse.paths import conf_dir

pytestmark = pytest.mark.slow

IMDB_REVIEW = re.compile(r"aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt$")


def lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip())


def tsv_rows(path: Path) -> int:
    return lines(path) - 1  # header


def json_records(path: Path) -> int:
    return len(json.loads(path.read_text()))


def imdb_reviews(path: Path) -> dict[str, int]:
    with tarfile.open(path, mode="r|gz") as archive:
        splits = [m[1] for member in archive if (m := IMDB_REVIEW.match(member.name))]
    return {split: splits.count(split) for split in ("train", "test")}


def source_rows(task: str, root: Path) -> dict[str, int]:
    """Each official split's row count, counted straight from the files."""
    counts = {
        "rte": lambda d: {"train": lines(d / "superglue/train.jsonl"), "test": lines(d / "superglue/val.jsonl")},
        "cb": lambda d: {"train": lines(d / "train.jsonl"), "test": lines(d / "val.jsonl")},
        "mrpc": lambda d: {"train": tsv_rows(d / "msr_paraphrase_train.txt") - lines(d / "dev_ids.tsv"),
                           "test": lines(d / "dev_ids.tsv")},
        "sst2": lambda d: {"train": tsv_rows(d / "train.tsv"), "test": tsv_rows(d / "dev.tsv")},
        "sick": lambda d: {"train": tsv_rows(d / "SICK_train.txt"), "test": tsv_rows(d / "SICK_trial.txt")},
        "csqa": lambda d: {"train": lines(d / "train.jsonl"), "test": lines(d / "valid.jsonl")},
        "siqa": lambda d: {"train": lines(d / "train-labels.lst"), "test": lines(d / "dev-labels.lst")},
        "winogrande": lambda d: {"train": lines(d / "train_l.jsonl"), "test": lines(d / "dev.jsonl")},
        "scitail": lambda d: {"train": tsv_rows(d / "train.tsv"), "test": tsv_rows(d / "dev.tsv")},
        "boolq": lambda d: {"test": lines(d / "val.jsonl")},
        "cosmosqa": lambda d: {"test": lines(d / "valid.jsonl")},  # valid.csv holds the same rows
        "hellaswag": lambda d: {"test": len(bz2.decompress((d / "hellaswag_val_full.txt.bz2").read_bytes())
                                            .decode().splitlines()) // 6},
        "imdb": lambda d: imdb_reviews(d / "aclImdb_labeled.tar.gz"),
        "mnli": lambda d: {"train": json_records(d / "glue_sample/train.json"),
                           "validation": json_records(d / "glue_sample/dev.json"),
                           "test": lines(d / "dev_matched.jsonl")},
        "qqp": lambda d: {"train": json_records(d / "glue_sample/train.json"),
                          "test": json_records(d / "glue_sample/dev.json")},
    }  # fmt: skip
    return counts[task](root / task_folder(task))


def task_folder(task: str) -> str:
    return OmegaConf.load(conf_dir() / "task" / f"{task}.yaml").local.folder


def tasks_present(root: Path) -> list[str]:
    return [task for task in PAPER_TASKS if (root / task_folder(task)).is_dir()]


@pytest.fixture(scope="module")
def prepared(shared_data, task_cfg, data_cfg, tmp_path_factory):
    """Every task whose folder is present, prepared once: {task: prepared folder}.

    With the default malformed-rows limit: the real data must pass the broken-split checks."""
    paths = OmegaConf.create({"data": str(tmp_path_factory.mktemp("shared") / "data")})
    tasks = tasks_present(shared_data)
    assert len(tasks) >= 15, f"expected the 15 task folders of ../shared/data, found {tasks}"
    limit = OmegaConf.load(conf_dir() / "data" / "default.yaml").max_malformed_fraction
    data = data_cfg(shared_data, max_malformed_fraction=limit)
    return {task: prepare_task(task_cfg(task), data, paths) for task in tasks}


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def split_ids(folder: Path, split: str) -> list[str]:
    return pq.read_table(folder / f"{split}.parquet", columns=["id"]).column("id").to_pylist()


def test_official_split_rows_match_the_source_files(prepared, shared_data):
    for task, folder in prepared.items():
        manifest = manifest_of(folder)
        found = {split: entry["rows"] for split, entry in manifest["official_splits"].items()}
        assert found == source_rows(task, shared_data), task
        assert manifest["malformed"]["total"] == 0, (task, manifest["malformed"])


def test_split_policy(prepared, data_cfg):
    settings = data_cfg()
    for task, folder in prepared.items():
        manifest = manifest_of(folder)
        official = {split: entry["rows"] for split, entry in manifest["official_splits"].items()}
        rows = {split: entry["rows"] for split, entry in manifest["splits"].items()}
        carved_from_dev = "train" not in official
        if carved_from_dev:  # BoolQ, CosmosQA, HellaSwag: 70% of the official dev -> train (+ validation)
            assert rows["train"] + rows["validation"] == round(0.7 * official["test"]), task
            assert rows["test"] == official["test"] - round(0.7 * official["test"]), task
        else:  # official dev -> our test, untouched
            assert rows["test"] == official["test"], task
        assert manifest["test_is_official"] is not carved_from_dev
        if "validation" in official:  # MNLI: the publisher's held-out slice of train
            assert rows["validation"] == official["validation"]
        else:
            pool = rows["train"] + rows["validation"]
            expected = min(
                max(1, round(settings.validation_fraction * pool)), settings.validation_max_examples
            )
            assert rows["validation"] == expected, task
        ids = {split: split_ids(folder, split) for split in ("train", "validation", "test")}
        assert sum(len(v) for v in ids.values()) == len(set().union(*ids.values())), f"{task}: splits overlap"


def test_validation_is_stratified(prepared):
    for task, folder in prepared.items():
        if "validation" in manifest_of(folder)["official_splits"]:
            continue  # MNLI's validation is its publisher's, not carved here
        splits = manifest_of(folder)["splits"]
        train, validation = splits["train"], splits["validation"]
        pool = train["rows"] + validation["rows"]
        for label, count in validation["label_distribution"].items():
            share = (train["label_distribution"][label] + count) / pool
            assert abs(count - share * validation["rows"]) <= 1, (task, label)


def test_scitail_mixed_label_spellings_are_counted_as_one(prepared, shared_data):
    raw = [
        line.split("\t")[-1].strip()
        for line in (shared_data / "SciTail/train.tsv").read_text().splitlines()[1:]
    ]
    expected = {"neutral": sum(label in ("0", "neutral") for label in raw),
                "entails": sum(label in ("1", "entails") for label in raw)}  # fmt: skip
    splits = manifest_of(prepared["scitail"])["splits"]
    found = {label: splits["train"]["label_distribution"][label] + splits["validation"]["label_distribution"][label]
             for label in expected}  # fmt: skip
    assert found == expected and expected["entails"] > 8472  # more than the rows spelled "1"


def test_mrpc_test_split_is_exactly_the_glue_dev_set(prepared, shared_data):
    dev_pairs = {
        tuple(line.split("\t")[1:3])
        for line in (shared_data / "MRPC/dev.tsv").read_text(encoding="utf-8-sig").splitlines()[1:]
    }
    test_pairs = {tuple(i.split(":", 1)[1].split("-")) for i in split_ids(prepared["mrpc"], "test")}
    assert test_pairs == dev_pairs and len(dev_pairs) == 408


def test_cosmosqa_csv_and_jsonl_give_the_same_rows(prepared, shared_data, task_cfg, data_cfg, tmp_path):
    from_jsonl = task_cfg("cosmosqa", "local.files.test.path=valid.jsonl", "local.files.test.format=jsonl")
    folder = prepare_task(from_jsonl, data_cfg(shared_data), OmegaConf.create({"data": str(tmp_path)}))
    for split in ("train", "validation", "test"):
        csv_rows = pq.read_table(prepared["cosmosqa"] / f"{split}.parquet").to_pylist()
        jsonl_rows = pq.read_table(folder / f"{split}.parquet").to_pylist()
        strip = lambda rows: [{**row, "id": row["id"].split(":", 1)[1]} for row in rows]  # noqa: E731
        assert strip(csv_rows) == strip(jsonl_rows), split


def test_second_run_reuses_the_prepared_data(prepared, shared_data, task_cfg, data_cfg, caplog):
    paths = OmegaConf.create({"data": str(prepared["rte"].parent.parent)})
    with caplog.at_level(logging.INFO):
        prepare_task(task_cfg("rte"), data_cfg(shared_data), paths)
    assert "up to date; reusing it" in caplog.text
