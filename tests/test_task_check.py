"""A task config's shape (afuse/task_check.py): every shipped task passes, and each mistake a
researcher makes writing their own task is one line naming the key and the file."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from afuse.errors import ConfigError
from afuse.paths import conf_dir
from afuse.task_check import SUMMARY_ROWS, check_task_config

MINE = """
name: mine
kind: pair
num_choices: null
labels: ["no", "yes"]
max_length: 128
hub: null
local:
  folder: Mine
  origin: my own annotation
  format: csv
  fields: {id: pid, text_a: evidence, text_b: claim, label: verdict}
  files: {train: train.csv, test: test.csv}
"""


def mine(*changes: str):
    """The task config above with dotlist changes; `-key.path` deletes a key."""
    task = OmegaConf.create(MINE)
    for change in changes:
        if change.startswith("-"):
            parent, _, key = change[1:].rpartition(".")
            (OmegaConf.select(task, parent) if parent else task).pop(key)
        else:
            task.merge_with_dotlist([change])
    return task


@pytest.mark.parametrize("path", sorted((conf_dir() / "task").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_task_config_passes(path):
    check_task_config(OmegaConf.load(path), path)


def test_a_well_formed_own_task_passes():
    check_task_config(mine(), Path("/my/conf/task/mine.yaml"))


@pytest.mark.parametrize(
    "changes, message",
    [
        (["-kind"], "mine.yaml: kind is missing; valid: single, pair, multiple_choice"),
        (["kind=singel"], "kind: 'singel' is not a task kind; valid: single, pair, multiple_choice"),
        (["-labels"], "kind: pair needs labels, the list of at least two class names"),
        (["labels=[yes]"], "kind: pair needs labels"),
        (["labels=[maybe,MAYBE]"], "labels ['maybe', 'MAYBE'] name a class twice"),
        (["kind=multiple_choice"], "kind: multiple_choice needs num_choices"),
        (["-max_length"], "max_length must be a number of word pieces >= 1 (got None)"),
        (["local=null"], "neither local: (files under data.raw_dir) nor hub:"),
        (["-local.fields.text_b"], "local.fields has no text_b (a pair task reads"),
        (["local.fields=null"], "local.fields has no text_a, text_b, label"),
        (["local.format=xlsx"], "local.format: 'xlsx' is not a format afuse reads; valid: jsonl"),
        (["local.origin=null"], "local.origin is missing: one line saying where the data comes from"),
        (["-local.folder"], "local.folder is missing: the folder of the task's files"),
        (["display_nme=Mine"], "unknown key(s) display_nme (afuse would ignore them)"),
        (["local.label_alias={maybe: yes}"], "local: unknown key(s) label_alias"),
        (["local.fields.txt_b=claim"], "local.fields: unknown key(s) txt_b"),
        (["local.files.train={path: t.csv, fromat: tsv}"], "local.files.train: unknown key(s) fromat"),
        (["local.carve={test: {form: train, fraction: 0.3}}"], "local.carve.test: unknown key(s) form"),
        (["hub={path: a/b, splits: {train: train}, revison: main}"], "hub: unknown key(s) revison"),
        (["-local.files.train"], "local gives no train split; add train: to local.files"),
    ],
)
def test_a_mistake_is_one_line_naming_the_key_and_file(changes, message):
    with pytest.raises(ConfigError, match="^task config /my/conf/task/mine.yaml: ") as refused:
        check_task_config(mine(*changes), Path("/my/conf/task/mine.yaml"))
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_an_unknown_key_names_the_valid_ones_and_the_closest():
    """A misspelt optional key (display_nme, local.label_alias) was silently ignored: the task then
    trained without the setting the researcher wrote."""
    with pytest.raises(ConfigError) as refused:
        check_task_config(mine("local.label_alias={maybe: yes}"), Path("/my/conf/task/mine.yaml"))
    assert "valid: folder, origin, format" in str(refused.value)
    assert str(refused.value).endswith("did you mean label_aliases?")


def test_unquoted_yes_no_labels_are_refused():
    """YAML reads `labels: [no, yes]` as [False, True]: every row's "yes" would be an unknown label."""
    task = OmegaConf.create(MINE.replace('labels: ["no", "yes"]', "labels: [no, yes]"))
    with pytest.raises(ConfigError, match=r"labels \[False, True\] hold YAML booleans .* quote the names"):
        check_task_config(task, Path("/my/conf/task/mine.yaml"))


@pytest.mark.parametrize("name", SUMMARY_ROWS)
def test_a_task_may_not_take_the_name_of_a_summary_row(name):
    """An own task named `mean` had its row of accuracy.csv overwritten by the means over tasks."""
    task = mine()
    task.name = name
    with pytest.raises(ConfigError, match=f"the name '{name}' is a row of the report's accuracy.csv"):
        check_task_config(task, Path(f"/my/conf/task/{name}.yaml"))


def test_the_summary_rows_are_those_the_report_writes():
    import pandas as pd

    from afuse.report import tables
    from afuse.report.layout import Column, Layout

    rows = [("rte", "A", 70.0, 1.0, 2, 2), ("cb", "A", 60.0, 1.0, 2, 2), ("rte", "B", 50.0, 1.0, 2, 2)]
    summary = pd.DataFrame(rows, columns=["task", "column", "mean", "std", "n", "expected"])
    layout = Layout((Column("A", ()), Column("B", ())), None, ())
    written = set(tables.accuracy_numbers(summary, layout).index) - {"rte", "cb"}
    assert written == set(SUMMARY_ROWS)


def test_the_name_must_be_the_file_name():
    """task=mine reads mine.yaml, but runs, data and fusion sources go by `name:`: two names for one
    task would make `fuse target=mine` look for runs no command wrote."""
    with pytest.raises(ConfigError, match=r"name: 'mine' must be the file's name \('other'\)"):
        check_task_config(mine(), Path("/my/conf/task/other.yaml"))


def test_a_file_entry_may_bring_its_own_fields_and_format():
    task = mine(
        "local.format=null",
        "local.fields=null",
        "local.files.train={path: train.tsv, format: tsv, fields: {text_a: a, text_b: b, label: l}}",
        "local.files.test={path: test.tsv, format: tsv, fields: {text_a: a, text_b: b, label: l}}",
    )
    check_task_config(task, Path("/my/conf/task/mine.yaml"))


def test_choice_keys_must_match_num_choices():
    """A fourth key with three answers made a label id no row's choices have."""
    task = mine("kind=multiple_choice", "num_choices=3", "labels=null", "local.fields={choices: options}")
    check_task_config(task, Path("/my/conf/task/mine.yaml"))
    task.local.choice_keys = ["A", "B", "C", "D"]
    with pytest.raises(
        ConfigError, match=r"local.choice_keys \['A', 'B', 'C', 'D'\] has 4 keys for num_choices: 3"
    ):
        check_task_config(task, Path("/my/conf/task/mine.yaml"))


def test_a_hub_only_task_needs_its_fields():
    task = mine("local=null", "hub={path: me/data, splits: {train: train, test: validation}}")
    with pytest.raises(ConfigError, match="hub.fields has no text_a, text_b, label"):
        check_task_config(task, Path("/my/conf/task/mine.yaml"))
