"""load_tokenized: columns, multiple choice, subsampling, the on-disk cache and its rebuilds."""

import json
import logging

import pytest

from afuse.data import load_tokenized
from afuse.data.tokenize import choice_pair

TOKENIZER_ID = "minilm"


def cache_files(paths_cfg, task):
    return sorted(
        (p.name, p.stat().st_mtime_ns) for p in (paths_cfg.data / "cache" / task).rglob("*.parquet")
    )


@pytest.fixture
def paths(paths_cfg, tmp_path):
    paths_cfg.data = tmp_path / "data"
    return paths_cfg


def test_pair_task_columns_and_text(task_cfg, data_cfg, paths, minilm_tokenizer):
    splits = load_tokenized(task_cfg("rte"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)
    assert {s: len(d) for s, d in splits.items()} == {"train": 4, "validation": 1, "test": 3}
    assert splits["test"].column_names == ["input_ids", "attention_mask", "token_type_ids", "labels"]
    first = splits["test"][0]
    assert (
        minilm_tokenizer.decode(first["input_ids"])
        == "[CLS] premise number 0 about a city. [SEP] hypothesis 0. [SEP]"
    )
    assert first["labels"] == 0 and set(first["token_type_ids"]) == {0, 1}


def test_multiple_choice_pairs_the_context_with_each_choice(task_cfg, data_cfg, paths, minilm_tokenizer):
    example = load_tokenized(task_cfg("csqa"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)["test"][0]
    assert len(example["input_ids"]) == 5
    assert (
        minilm_tokenizer.decode(example["input_ids"][4]) == "[CLS] where is thing 10? [SEP] answer 104 [SEP]"
    )
    assert example["labels"] == 1


def test_winogrande_splits_the_sentence_at_the_blank(task_cfg, data_cfg, paths, minilm_tokenizer):
    example = load_tokenized(task_cfg("winogrande"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)[
        "test"
    ][0]
    assert [minilm_tokenizer.decode(ids) for ids in example["input_ids"]] == [
        "[CLS] ann gave bea a gift 10 because [SEP] ann was kind. [SEP]",
        "[CLS] ann gave bea a gift 10 because [SEP] bea was kind. [SEP]",
    ]
    assert choice_pair("X _ y.", "A", None) == ("X _ y.", "A")


def test_max_length_truncates(task_cfg, data_cfg, paths, minilm_tokenizer):
    splits = load_tokenized(
        task_cfg("rte", "max_length=8"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID
    )
    assert max(len(ids) for ids in splits["train"]["input_ids"]) == 8


def test_max_train_examples_is_the_same_subset_every_time(task_cfg, data_cfg, paths, minilm_tokenizer):
    def train_rows(seed):
        data = data_cfg(max_train_examples=3, split_seed=seed)
        return load_tokenized(task_cfg("boolq"), data, paths, minilm_tokenizer, TOKENIZER_ID)["train"][
            "input_ids"
        ]

    full = load_tokenized(task_cfg("boolq"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)["train"][
        "input_ids"
    ]
    subset = train_rows(42)
    assert len(subset) == 3 and all(row in full for row in subset)
    assert train_rows(42) == subset
    assert any(train_rows(seed) != subset for seed in range(5)), "the subset should depend on data.split_seed"


def test_a_subsampled_test_split_still_knows_its_full_size(task_cfg, data_cfg, paths, minilm_tokenizer):
    # metrics.json records both (test.n, test.split_rows), so the report can say "2 of 3 examples".
    from afuse.data.tokenize import split_rows

    full = load_tokenized(task_cfg("rte"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)["test"]
    cut = load_tokenized(
        task_cfg("rte"), data_cfg(max_test_examples=2), paths, minilm_tokenizer, TOKENIZER_ID
    )
    assert (len(cut["test"]), split_rows(cut["test"])) == (2, len(full)) == (2, 3)
    assert split_rows(full) == 3 and split_rows(cut["validation"]) == len(cut["validation"])


def test_cache_is_reused(task_cfg, data_cfg, paths, minilm_tokenizer, caplog):
    first = load_tokenized(task_cfg("rte"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)
    written = cache_files(paths, "rte")
    with caplog.at_level(logging.INFO):
        again = load_tokenized(task_cfg("rte"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)
    assert "reusing tokenised cache" in caplog.text
    assert cache_files(paths, "rte") == written
    assert again["train"]["input_ids"] == first["train"]["input_ids"]


@pytest.mark.parametrize("damage", ["truncate", "garble_index", "index_not_an_object", "index_without_files"])
def test_corrupt_cache_is_rebuilt_with_a_warning(damage, task_cfg, data_cfg, paths, minilm_tokenizer, caplog):
    first = load_tokenized(task_cfg("rte"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)
    (cache,) = (paths.data / "cache" / "rte").iterdir()
    if damage == "truncate":
        data = (cache / "train.parquet").read_bytes()
        (cache / "train.parquet").write_bytes(data[: len(data) // 3])
    elif damage == "garble_index":
        (cache / "cache.json").write_text('{"settings": ')
    elif damage == "index_not_an_object":
        (cache / "cache.json").write_text("[]")
    else:  # the settings still match, the file list is gone
        index = json.loads((cache / "cache.json").read_text())
        (cache / "cache.json").write_text(json.dumps({"settings": index["settings"], "files": None}))
    with caplog.at_level(logging.WARNING):
        rebuilt = load_tokenized(task_cfg("rte"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)
    assert (
        f"is corrupt: {cache / 'train.parquet'} missing"
        if damage == "truncate"
        else "cache.json is unreadable"
    ) in caplog.text
    assert rebuilt["train"]["input_ids"] == first["train"]["input_ids"]


def test_cache_follows_changes_of_the_prepared_data(
    task_cfg, data_cfg, paths, raw_copy, minilm_tokenizer, caplog
):
    raw_dir = raw_copy("CB")
    load_tokenized(task_cfg("cb"), data_cfg(raw_dir), paths, minilm_tokenizer, TOKENIZER_ID)
    with open(raw_dir / "CB/val.jsonl", "a") as handle:
        handle.write('{"premise": "Fresh premise.", "hypothesis": "Fresh.", "label": "neutral", "idx": 9}\n')
    with caplog.at_level(logging.INFO):
        splits = load_tokenized(task_cfg("cb"), data_cfg(raw_dir), paths, minilm_tokenizer, TOKENIZER_ID)
    assert "re-tokenising" in caplog.text
    assert len(splits["test"]) == 4
    assert minilm_tokenizer.decode(splits["test"][3]["input_ids"]).startswith("[CLS] fresh premise.")


def test_caches_are_kept_apart_per_tokenizer_and_max_length(task_cfg, data_cfg, paths, minilm_tokenizer):
    load_tokenized(task_cfg("cb"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)
    load_tokenized(task_cfg("cb", "max_length=16"), data_cfg(), paths, minilm_tokenizer, TOKENIZER_ID)
    load_tokenized(task_cfg("cb"), data_cfg(), paths, minilm_tokenizer, "org/other-tokenizer")
    folders = sorted(
        p.name.split("-", 1)[0] + "-" + p.name.rsplit("-", 1)[1] for p in (paths.data / "cache/cb").iterdir()
    )
    assert folders == ["minilm-len128", "minilm-len16", "org_other-len128"]


def test_a_preparation_with_other_split_settings_in_between_is_not_tokenised(
    task_cfg, data_cfg, paths, minilm_tokenizer, monkeypatch
):
    # Two jobs with other split settings on one paths.data (a parallel sweep over
    # data.validation_fraction): the other prepares the task again just after this one's
    # preparation returns. This job must not tokenise, and train on, the other's splits.
    from afuse.data import tokenize
    from afuse.data.prepare import prepare_task

    ours, theirs = data_cfg(validation_fraction=0.5), data_cfg()
    expected = {
        split: len(rows)
        for split, rows in load_tokenized(
            task_cfg("rte"), ours, paths, minilm_tokenizer, TOKENIZER_ID
        ).items()
    }
    assert expected["validation"] != len(
        load_tokenized(task_cfg("rte"), theirs, paths, minilm_tokenizer, TOKENIZER_ID)["validation"]
    )
    interleaved = []

    def then_theirs(task, data, paths_cfg, *args, **kwargs):
        out = prepare_task(task, data, paths_cfg, *args, **kwargs)
        if not interleaved:
            interleaved.append(prepare_task(task, theirs, paths_cfg))
        return out

    monkeypatch.setattr(tokenize, "prepare_task", then_theirs)
    got = load_tokenized(task_cfg("rte"), ours, paths, minilm_tokenizer, TOKENIZER_ID)
    assert interleaved and {split: len(rows) for split, rows in got.items()} == expected


def test_evaluating_a_cut_split_says_so_once(task_cfg, data_cfg, paths, minilm_tokenizer, caplog):
    # afuse evaluate reads the split's ids to match the tokenised rows: the same cut, logged once.
    from types import SimpleNamespace

    from afuse.inference.outputs import split_rows

    data = data_cfg(max_test_examples=2)
    trained = SimpleNamespace(
        task=task_cfg("rte"),
        cfg=SimpleNamespace(data=data),
        tokenizer=minilm_tokenizer,
        tokenizer_id=TOKENIZER_ID,
    )
    with caplog.at_level(logging.INFO):
        rows = split_rows(SimpleNamespace(paths=paths), trained, "test")
    assert len(rows.ids) == len(rows.dataset) == 2
    assert caplog.text.count("using 2 of 3 test rows") == 1
