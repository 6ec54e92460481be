"""prepare_task on the raw fixtures: every task config, the manifest, reuse and rebuilds, bad input."""

import hashlib
import json
import logging

import pyarrow.parquet as pq
import pytest

from afuse.config import PAPER_TASKS
from afuse.data.prepare import prepare_task
from afuse.data.readers import RawDataError
from afuse.errors import ConfigError, MissingInputError

# task -> (official rows per split as read, malformed rows, our (train, validation, test) rows);
# derived by hand from tests/fixtures/data/make_fixtures.py.
EXPECTED = {
    "rte": ({"train": 5, "test": 3}, 3, (4, 1, 3)),
    "cb": ({"train": 6, "test": 3}, 0, (5, 1, 3)),
    "mrpc": ({"train": 5, "test": 3}, 1, (4, 1, 3)),
    "sst2": ({"train": 5, "test": 3}, 1, (4, 1, 3)),
    "sick": ({"train": 6, "test": 3}, 0, (5, 1, 3)),
    "csqa": ({"train": 4, "test": 2}, 2, (3, 1, 2)),
    "siqa": ({"train": 5, "test": 2}, 0, (4, 1, 2)),
    "winogrande": ({"train": 4, "test": 3}, 2, (3, 1, 3)),
    "scitail": ({"train": 6, "test": 3}, 1, (5, 1, 3)),
    "boolq": ({"test": 10}, 0, (6, 1, 3)),
    "cosmosqa": ({"test": 6}, 1, (3, 1, 2)),
    "hellaswag": ({"test": 5}, 2, (3, 1, 1)),
    "imdb": ({"train": 4, "test": 2}, 3, (3, 1, 2)),
    "mnli": ({"train": 6, "validation": 3, "test": 3}, 1, (6, 3, 3)),
    "qqp": ({"train": 6, "test": 3}, 0, (5, 1, 3)),
    "argument": ({"train": 5, "test": 2}, 2, (4, 1, 2)),
}


def manifest_of(prepared):
    return json.loads((prepared / "manifest.json").read_text())


def test_every_paper_task_has_a_fixture_expectation():
    assert sorted(EXPECTED) == sorted(PAPER_TASKS)


@pytest.mark.parametrize("task", PAPER_TASKS)
def test_prepare_each_task_from_its_fixture(task, task_cfg, data_cfg, paths_cfg, fixture_data):
    official, malformed, ours = EXPECTED[task]
    prepared = prepare_task(task_cfg(task), data_cfg(), paths_cfg)
    manifest = manifest_of(prepared)
    assert {s: e["rows"] for s, e in manifest["official_splits"].items()} == official
    assert manifest["malformed"]["total"] == malformed
    assert tuple(manifest["splits"][s]["rows"] for s in ("train", "validation", "test")) == ours
    ids = []
    for entry in manifest["splits"].values():
        table = pq.read_table(prepared / entry["file"])
        assert table.num_rows == entry["rows"]
        assert sum(entry["label_distribution"].values()) == entry["rows"]
        assert hashlib.sha256((prepared / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
        ids += table.column("id").to_pylist()
    assert len(ids) == len(set(ids)), "row ids must be unique across splits"
    for source in manifest["source_files"]:
        assert hashlib.sha256((fixture_data / source["path"]).read_bytes()).hexdigest() == source["sha256"]


def test_manifest_records_malformed_rows_and_the_split_policy(task_cfg, data_cfg, paths_cfg, caplog):
    with caplog.at_level(logging.WARNING):
        manifest = manifest_of(prepare_task(task_cfg("rte"), data_cfg(), paths_cfg))
    examples = manifest["malformed"]["files"]["RTE/superglue/train.jsonl"]["examples"]
    assert [(e["position"], e["reason"].split(" (")[0].split(";")[0]) for e in examples] == [
        ("4", "unknown label 'maybe'"), ("5", "invalid JSON"), ("7", "empty text_b")
    ]  # fmt: skip
    assert "3 malformed row(s) in RTE/superglue/train.jsonl" in caplog.text
    assert manifest["splits"]["test"]["from"] == "RTE/superglue/val.jsonl"
    assert manifest["carving"][0]["split"] == "validation" and manifest["test_is_official"] is True


def test_carved_test_split_is_marked(task_cfg, data_cfg, paths_cfg):
    manifest = manifest_of(prepare_task(task_cfg("boolq"), data_cfg(), paths_cfg))
    assert manifest["test_is_official"] is False
    assert manifest["notes"] == [
        "no train split locally: train carved from the official dev set; test is the remaining 30%"
    ]
    assert manifest["splits"]["test"]["from"] == "BoolQ/val.jsonl; less the 7 rows carved into train"


def test_mixed_label_spellings_are_unified(task_cfg, data_cfg, paths_cfg):
    manifest = manifest_of(prepare_task(task_cfg("scitail"), data_cfg(), paths_cfg))
    train_and_validation = {
        label: manifest["splits"]["train"]["label_distribution"][label]
        + manifest["splits"]["validation"]["label_distribution"][label]
        for label in ("neutral", "entails")
    }
    assert train_and_validation == {"neutral": 2, "entails": 4}  # "0"/"neutral" and "1"/"entails"


def test_a_file_read_for_two_splits_counts_its_malformed_rows_once(task_cfg, data_cfg, paths_cfg):
    manifest = manifest_of(prepare_task(task_cfg("mrpc"), data_cfg(), paths_cfg))
    assert manifest["malformed"]["files"]["MRPC/msr_paraphrase_train.txt"]["count"] == 1
    test_ids = pq.read_table(paths_cfg.data + "/prepared/mrpc/test.parquet").column("id").to_pylist()
    assert sorted(test_ids) == ["msr_paraphrase_train.txt:103-203", "msr_paraphrase_train.txt:104-204",
                                "msr_paraphrase_train.txt:108-208"]  # fmt: skip


def test_other_local_formats_can_be_chosen_in_the_config(task_cfg, data_cfg, paths_cfg):
    glue_rte = task_cfg("rte", "local.format=tsv", "local.files.train=glue/train.tsv", "local.files.test=glue/dev.tsv",
                        "local.fields.id=index", "local.fields.text_a=sentence1", "local.fields.text_b=sentence2")  # fmt: skip
    manifest = manifest_of(prepare_task(glue_rte, data_cfg(), paths_cfg))
    assert manifest["official_splits"]["train"]["rows"] == 3 and manifest["malformed"]["total"] == 1


def test_reuse_when_nothing_changed(task_cfg, data_cfg, paths_cfg, caplog):
    prepared = prepare_task(task_cfg("cb"), data_cfg(), paths_cfg)
    first = (prepared / "manifest.json").read_bytes()
    with caplog.at_level(logging.INFO):
        prepare_task(task_cfg("cb"), data_cfg(), paths_cfg)
    assert "up to date; reusing it" in caplog.text
    assert (prepared / "manifest.json").read_bytes() == first


@pytest.mark.parametrize("raw_dir_set", [False, True])
def test_a_task_in_an_absolute_folder_is_reused_and_its_raw_files_checked(
    task_cfg, data_cfg, paths_cfg, raw_copy, caplog, raw_dir_set
):
    # A task of one's own may name its folder absolutely (README "Your own task"): data.raw_dir
    # is then not needed, and wherever it points the raw files are found again for the
    # reuse check (they were looked for under raw_dir and reported changed on every run).
    folder = raw_copy("CB") / "CB"
    cb = task_cfg("cb", f"local.folder={folder}")
    data = data_cfg(folder.parent.parent if raw_dir_set else None)
    prepared = prepare_task(cb, data, paths_cfg)
    assert manifest_of(prepared)["splits"]["test"]["rows"] == 3
    with caplog.at_level(logging.INFO):
        prepare_task(cb, data, paths_cfg)
        assert "up to date; reusing it" in caplog.text
        with open(folder / "val.jsonl", "a") as handle:
            handle.write('{"premise": "New.", "hypothesis": "Row.", "label": "neutral", "idx": 9}\n')
        prepare_task(cb, data, paths_cfg)
        assert f"[raw files changed: {folder}/val.jsonl]" in caplog.text


def test_a_task_under_raw_dir_still_needs_it(task_cfg, data_cfg, paths_cfg):
    with pytest.raises(
        ConfigError, match="data.source=local needs data.raw_dir=<dir>, the folder holding CB/"
    ):
        prepare_task(task_cfg("cb"), data_cfg(None), paths_cfg)


def test_prepared_again_when_settings_raw_files_or_force_change(
    task_cfg, data_cfg, paths_cfg, raw_copy, caplog
):
    raw_dir = raw_copy("CB")
    prepared = prepare_task(task_cfg("cb"), data_cfg(raw_dir), paths_cfg)
    with caplog.at_level(logging.INFO):
        prepare_task(task_cfg("cb"), data_cfg(raw_dir, validation_fraction=0.5), paths_cfg)
        assert "[task config, data.source or split settings changed]" in caplog.text
        assert manifest_of(prepared)["splits"]["validation"]["rows"] == 3
        with open(raw_dir / "CB/val.jsonl", "a") as handle:
            handle.write('{"premise": "New.", "hypothesis": "Row.", "label": "neutral", "idx": 9}\n')
        prepare_task(task_cfg("cb"), data_cfg(raw_dir, validation_fraction=0.5), paths_cfg)
        assert "[raw files changed: CB/val.jsonl]" in caplog.text
        assert manifest_of(prepared)["splits"]["test"]["rows"] == 4
        prepare_task(task_cfg("cb"), data_cfg(raw_dir, validation_fraction=0.5), paths_cfg, force=True)
        assert "[force=true]" in caplog.text


def test_damaged_prepared_data_is_rebuilt_with_a_warning(task_cfg, data_cfg, paths_cfg, caplog):
    prepared = prepare_task(task_cfg("sick"), data_cfg(), paths_cfg)
    good = (prepared / "train.parquet").read_bytes()
    (prepared / "train.parquet").write_bytes(good[: len(good) // 2])
    with caplog.at_level(logging.WARNING):
        prepare_task(task_cfg("sick"), data_cfg(), paths_cfg)
    assert f"prepared data damaged: {prepared / 'train.parquet'} missing or not matching" in caplog.text
    assert (prepared / "train.parquet").read_bytes() == good


@pytest.mark.parametrize("manifest", ["[]", "not-an-object", "no-splits"])
def test_a_manifest_that_is_not_one_is_prepared_again(manifest, task_cfg, data_cfg, paths_cfg, caplog):
    prepared = prepare_task(task_cfg("cb"), data_cfg(), paths_cfg)
    good = manifest_of(prepared)
    text = {
        "[]": "[]",
        "not-an-object": '"manifest"',
        "no-splits": json.dumps({**good, "splits": None}),  # the fingerprint still matches
    }[manifest]
    (prepared / "manifest.json").write_text(text)
    with caplog.at_level(logging.WARNING):
        prepare_task(task_cfg("cb"), data_cfg(), paths_cfg)
    assert "manifest.json is unreadable (damaged?); preparing the task again" in caplog.text
    assert manifest_of(prepared)["splits"] == good["splits"]


def test_prepared_data_is_reused_without_raw_dir(task_cfg, data_cfg, paths_cfg):
    prepare_task(task_cfg("cb"), data_cfg(), paths_cfg)
    prepare_task(task_cfg("cb"), data_cfg(raw_dir=None), paths_cfg)  # e.g. a later train-adapter run


def test_prepared_data_is_reused_where_its_raw_files_are_not(task_cfg, data_cfg, paths_cfg, raw_copy, caplog):
    """A prepared copy taken to another machine, or raw data moved since (the run's recorded
    data.raw_dir): every raw file gone read as 'raw files changed', and the copy was prepared again
    from files that are not there (missing raw data folder), though it is checked by its sha256."""
    raw_dir = raw_copy("CB")
    prepared = prepare_task(task_cfg("cb"), data_cfg(raw_dir), paths_cfg)
    first = (prepared / "manifest.json").read_bytes()
    moved = raw_dir.parent / "moved"
    raw_dir.rename(moved)
    with caplog.at_level(logging.INFO):
        prepare_task(task_cfg("cb"), data_cfg(raw_dir), paths_cfg)
    assert f"cb: no raw files under {raw_dir} (CB/train.jsonl, CB/val.jsonl)" in caplog.text
    assert f"reusing the prepared copy in {prepared}" in caplog.text
    assert (prepared / "manifest.json").read_bytes() == first
    # where some raw files are there, the others are missing from them: prepared again
    (moved / "CB" / "val.jsonl").unlink()
    with pytest.raises(MissingInputError, match="missing raw file"):
        prepare_task(task_cfg("cb"), data_cfg(moved), paths_cfg)


def test_missing_raw_file_names_the_expected_path_and_the_origin(task_cfg, data_cfg, paths_cfg, raw_copy):
    raw_dir = raw_copy("RTE")
    (raw_dir / "RTE/superglue/val.jsonl").unlink()
    with pytest.raises(MissingInputError) as error:
        prepare_task(task_cfg("rte"), data_cfg(raw_dir), paths_cfg)
    message = str(error.value)
    assert f"missing raw file {raw_dir / 'RTE/superglue/val.jsonl'} (local.files.test" in message
    assert "https://super.gluebenchmark.com/tasks" in message and "\n" not in message


def test_missing_task_folder_and_raw_dir(task_cfg, data_cfg, paths_cfg, tmp_path):
    with pytest.raises(MissingInputError, match=f"missing raw data folder {tmp_path / 'CB'} "
                                                r"\(expected in it: train.jsonl, val.jsonl\)"):  # fmt: skip
        prepare_task(task_cfg("cb"), data_cfg(tmp_path), paths_cfg)
    with pytest.raises(ConfigError, match="data.source=local needs data.raw_dir=<dir>"):
        prepare_task(task_cfg("cb"), data_cfg(raw_dir=None), paths_cfg)
    with pytest.raises(
        ConfigError, match="data.source='ftp' is not valid; use data.source=hub or data.source=local"
    ):
        prepare_task(task_cfg("cb"), data_cfg(source="ftp"), paths_cfg)


def test_a_missing_absolute_folder_points_at_local_folder_not_raw_dir(
    task_cfg, data_cfg, paths_cfg, tmp_path
):
    """data.raw_dir does not move an absolute local.folder (a researcher's own task), so the message
    once gave advice that changed nothing."""
    task = task_cfg("cb")
    task.local.folder = str(tmp_path / "elsewhere" / "CB")
    with pytest.raises(MissingInputError) as missing:
        prepare_task(task, data_cfg(tmp_path), paths_cfg)
    assert f"missing raw data folder {tmp_path / 'elsewhere' / 'CB'}" in str(missing.value)
    assert "set local.folder in " in str(missing.value) and "data.raw_dir" not in str(missing.value)


def test_a_label_file_out_of_step_with_its_data_is_an_error(task_cfg, data_cfg, paths_cfg, raw_copy):
    raw_dir = raw_copy("SocialIQA")
    (raw_dir / "SocialIQA/dev-labels.lst").write_text("3\n")
    with pytest.raises(RawDataError, match="dev-labels.lst has 1 labels but its data file has 2 rows"):
        prepare_task(task_cfg("siqa"), data_cfg(raw_dir), paths_cfg)


def test_argument_has_no_hub_source(task_cfg, data_cfg, paths_cfg):
    with pytest.raises(
        ConfigError, match="task argument has no Hugging Face Hub source; .* use data.source=local"
    ):
        prepare_task(task_cfg("argument"), data_cfg(source="hub"), paths_cfg)


def test_a_preparation_that_fails_on_its_input_leaves_nothing_in_paths_data(
    task_cfg, data_cfg, paths_cfg, tmp_path
):
    with pytest.raises(MissingInputError):
        prepare_task(task_cfg("cb"), data_cfg(tmp_path / "nowhere"), paths_cfg)
    assert not (tmp_path / "data").exists()
