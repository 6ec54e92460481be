"""data.source=hub: the conversion of Hub rows (with a stand-in for load_dataset) and the offline error."""

import time

import datasets
import pyarrow.parquet as pq
import pytest
from huggingface_hub import constants

from afuse.data import hub
from afuse.data.prepare import prepare_task
from afuse.errors import OfflineError


def fake_hub(monkeypatch, splits: dict[str, datasets.Dataset]):
    requested = []

    def load(task, hub_cfg):
        requested.append((hub_cfg.path, hub_cfg.name))
        return datasets.DatasetDict(splits)

    monkeypatch.setattr(hub, "load_hub_splits", load)
    return requested


def test_class_label_names_not_their_ints_decide_our_label_ids(monkeypatch, task_cfg, data_cfg, paths_cfg):
    # A Hub copy whose ClassLabel order is the reverse of the task's labels.
    features = datasets.Features({"sentence1": datasets.Value("string"), "sentence2": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["not_entailment", "entailment"]),
                                  "idx": datasets.Value("int32")})  # fmt: skip
    rows = {
        "sentence1": [f"s{i}" for i in range(10)],
        "sentence2": ["t"] * 10,
        "label": [0, 1] * 5,
        "idx": list(range(10)),
    }
    dev = {"sentence1": ["d"], "sentence2": ["e"], "label": [1], "idx": [0]}
    requested = fake_hub(monkeypatch, {"train": datasets.Dataset.from_dict(rows, features=features),
                                       "validation": datasets.Dataset.from_dict(dev, features=features)})  # fmt: skip
    prepared = prepare_task(task_cfg("rte"), data_cfg(source="hub"), paths_cfg)
    assert requested == [("nyu-mll/glue", "rte")]
    test = pq.read_table(prepared / "test.parquet").to_pylist()
    assert test == [{"id": "validation:0", "text_a": "d", "text_b": "e", "choices": None, "label": 0}]
    train = pq.read_table(prepared / "train.parquet").to_pylist()
    assert all(row["label"] == (0 if int(row["text_a"][1:]) % 2 else 1) for row in train)


def test_multiple_choice_from_the_hub(monkeypatch, task_cfg, data_cfg, paths_cfg):
    def rows(n):
        return {"id": [f"q{i}" for i in range(n)], "question": [f"Q{i}?" for i in range(n)],
                "choices": [{"label": list("ABCDE"), "text": [f"c{i}{j}" for j in range(5)]} for i in range(n)],
                "answerKey": ["C"] * n}  # fmt: skip

    fake_hub(
        monkeypatch,
        {"train": datasets.Dataset.from_dict(rows(10)), "validation": datasets.Dataset.from_dict(rows(2))},
    )
    prepared = prepare_task(task_cfg("csqa"), data_cfg(source="hub"), paths_cfg)
    assert pq.read_table(prepared / "test.parquet").to_pylist()[0] == {
        "id": "validation:q0", "text_a": "Q0?", "text_b": None, "choices": ["c00", "c01", "c02", "c03", "c04"], "label": 2
    }  # fmt: skip


def test_unreachable_hub_fails_at_once_with_one_line(monkeypatch, task_cfg, data_cfg, paths_cfg):
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    started = time.monotonic()
    with pytest.raises(OfflineError) as error:
        prepare_task(task_cfg("sst2"), data_cfg(source="hub"), paths_cfg)
    assert time.monotonic() - started < 10
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        "task sst2: cannot load dataset 'nyu-mll/glue' (config sst2) from the Hugging Face Hub"
    )
    assert message.endswith("no network? use data.source=local data.raw_dir=<dir>")


def test_offline_error_points_at_an_existing_local_copy(monkeypatch, task_cfg, data_cfg, paths_cfg):
    prepare_task(task_cfg("cb"), data_cfg(), paths_cfg)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(
        OfflineError, match=r"a copy prepared from local files is in .*cb: add data.source=local\)$"
    ):
        prepare_task(task_cfg("cb"), data_cfg(source="hub"), paths_cfg)


def test_a_source_without_row_ids_falls_back_to_positions(monkeypatch, task_cfg, data_cfg, paths_cfg):
    rows = {  # two of each label: the validation slice must leave train every label
        "premise": [f"p{i}" for i in range(6)],
        "hypothesis": ["h"] * 6,
        "label": ["entailment", "neutral", "contradiction"] * 2,
    }
    fake_hub(
        monkeypatch,
        {"train": datasets.Dataset.from_dict(rows), "validation": datasets.Dataset.from_dict(rows)},
    )
    prepared = prepare_task(task_cfg("cb"), data_cfg(source="hub"), paths_cfg)  # cb's hub fields name id: idx
    assert pq.read_table(prepared / "test.parquet").column("id").to_pylist() == [
        f"validation:{i}" for i in range(6)
    ]
