"""afuse's Hub reader on local copies of the 15 Hub datasets (tests/fixtures/hub, built by
make_hub_fixtures.py in the Hub's own schemas and layouts).

`datasets.load_dataset` is pointed at those files; it then runs for real (reading README
configs, parquet files with their feature types, refusing loading scripts), and so does all of
afuse. The same examples read from the tasks' original files by the local reader must give the
same normalised rows and label ids.
"""

import logging
from pathlib import Path

import datasets
import pytest
from omegaconf import OmegaConf

from afuse.config import PAPER_TASKS
from afuse.data.checks import BrokenDataError
from afuse.data.hub import PARQUET_EXPORT, is_script_refusal, read_hub
from afuse.data.local import read_local
from afuse.data.prepare import prepare_task
from afuse.errors import AfuseError, ConfigError

HUB_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hub"
HUB_TASKS = [task for task in PAPER_TASKS if task != "argument"]  # UKP Argument has no Hub copy
SCRIPT_REPOS = {"siqa", "cosmosqa", "hellaswag", "winogrande", "sick"}


@pytest.mark.parametrize("task", HUB_TASKS)
def test_every_hub_task_has_a_fixture_in_the_hubs_layout(task, task_cfg):
    hub = task_cfg(task).hub
    main = HUB_FIXTURES / "main" / hub.path
    if task in SCRIPT_REPOS:  # the script on main, the export beside it: <config>/<split>/0000.parquet
        assert (main / f"{hub.path.split('/')[1]}.py").is_file()
        export = HUB_FIXTURES / "refs_convert_parquet" / hub.path / (hub.name or "default")
        assert {p.relative_to(export).as_posix() for p in export.rglob("*.parquet")} == {
            f"{split}/0000.parquet" for split in hub.splits.values()
        }
    else:  # parquet files named in the README's `configs:`
        assert f"config_name: {hub.name or 'default'}" in (main / "README.md").read_text()
        assert all((main / (hub.name or "default") / f"{split}-00000-of-00001.parquet").is_file()
                   for split in hub.splits.values())  # fmt: skip


@pytest.mark.parametrize("task", HUB_TASKS)
def test_hub_copy_prepares_and_passes_the_split_checks(task, local_hub, task_cfg, data_cfg, paths_cfg):
    config = task_cfg(task)
    prepared = prepare_task(config, data_cfg(source="hub", max_malformed_fraction=0.0), paths_cfg)
    manifest = OmegaConf.to_container(OmegaConf.load(prepared / "manifest.json"))
    assert manifest["malformed"]["total"] == 0
    call = local_hub.calls[-1]
    if task in SCRIPT_REPOS:
        assert call["revision"] == PARQUET_EXPORT
        assert call["data_dir"] == (config.hub.name or "default")
        assert call["name"] is None
    else:
        assert call == {"path": config.hub.path, "name": config.hub.name, "revision": None, "data_dir": None}


def _key(row) -> tuple:
    return (row["text_a"], row["text_b"], tuple(row["choices"]) if row["choices"] is not None else None)


@pytest.mark.slow  # reads every task's original files in ../shared/data once (about 20 s)
def test_hub_rows_and_label_ids_match_the_local_reader(local_hub, task_cfg, shared_data):
    mismatches = []
    for task in HUB_TASKS:
        config = task_cfg(task)
        hub_rows = [row for frame in read_hub(config).splits.values() for row in frame.to_dict("records")]
        local = {
            _key(row): row["label"]
            for frame in read_local(config, shared_data).splits.values()
            for row in frame.to_dict("records")
        }
        assert hub_rows, task
        for row in hub_rows:
            if local.get(_key(row), "absent") != row["label"]:
                mismatches.append((task, row["text_a"][:40], row["label"], local.get(_key(row), "absent")))
    assert mismatches == []


def test_scitail_keeps_both_classes(local_hub, task_cfg, data_cfg, paths_cfg):
    prepared = prepare_task(task_cfg("scitail"), data_cfg(source="hub"), paths_cfg)
    manifest = OmegaConf.load(prepared / "manifest.json")
    assert dict(manifest.official_splits.train.label_distribution) == {"neutral": 3, "entails": 3}
    assert all(count > 0 for count in manifest.splits.train.label_distribution.values())


def test_scitail_without_its_label_alias_is_refused_before_training(local_hub, task_cfg, data_cfg, paths_cfg):
    config = task_cfg("scitail")
    del config.hub["label_aliases"]
    with pytest.raises(BrokenDataError) as error:
        prepare_task(config, data_cfg(source="hub", max_malformed_fraction=0.01), paths_cfg)
    message = str(error.value)
    assert "\n" not in message
    assert "train has no 'entails' rows (neutral 2, entails 0)" in message
    assert (
        "hub:train: 3 of 6 rows malformed (50.0% > data.max_malformed_fraction=0.01), "
        "first at rows 1, 3, 4: unknown label 'entailment'"
    ) in message
    assert "map to the task's with hub.label_aliases in its task config" in message


def test_plain_int_labels_use_the_task_configs_label_names(local_hub, task_cfg):
    # SICK's export serves plain ints: the card's order entailment (0), neutral (1), contradiction (2).
    config = task_cfg("sick")
    assert isinstance(datasets.load_dataset(config.hub.path, data_dir="default", revision=PARQUET_EXPORT)["train"]
                      .features["label"], datasets.Value)  # fmt: skip
    train = read_hub(config).splits["train"]
    assert sorted(train.label.value_counts().to_dict().items()) == [(0, 3), (1, 3), (2, 3)]
    reversed_names = task_cfg("sick", "hub.label_names=[contradiction,neutral,entailment]")
    assert (read_hub(reversed_names).splits["train"].label.to_numpy() == 2 - train.label.to_numpy()).all()


def test_plain_int_labels_without_names_are_a_config_error(local_hub, task_cfg):
    config = task_cfg("sick")
    config.hub.label_names = None
    with pytest.raises(
        ConfigError,
        match=r"holds plain ints without label names; list the label of each int in hub.label_names",
    ):
        read_hub(config)


# -- script datasets -----------------------------------------------------------------------------


def test_datasets_refuses_a_script_repository_with_the_error_afuse_recognises(local_hub):
    with pytest.raises(RuntimeError) as error:
        datasets.load_dataset("allenai/social_i_qa")
    assert str(error.value) == "Dataset scripts are no longer supported, but found social_i_qa.py"
    assert is_script_refusal(error.value)
    assert not is_script_refusal(RuntimeError("something else"))


@pytest.mark.parametrize("task", ["siqa", "winogrande"])
def test_script_repository_falls_back_to_the_parquet_export_once(task, local_hub, task_cfg, caplog):
    config = task_cfg(task, "hub.revision=null")
    pinned = read_hub(task_cfg(task, f"hub.revision={PARQUET_EXPORT}"))
    local_hub.calls.clear()
    with caplog.at_level(logging.INFO, logger="afuse.data.hub"):
        fallen_back = read_hub(config)
    assert [(c["revision"], c["data_dir"]) for c in local_hub.calls] == [
        (None, None),
        (PARQUET_EXPORT, config.hub.name or "default"),
    ]
    notes = [r.getMessage() for r in caplog.records if PARQUET_EXPORT in r.getMessage()]
    assert len(notes) == 1 and "holds a loading script" in notes[0]
    for split in ("train", "test"):
        assert fallen_back.splits[split].equals(pinned.splits[split])


def test_a_script_repository_without_a_parquet_export_is_one_line(local_hub, task_cfg, tmp_path):
    script_only = tmp_path / "hub" / "main" / "allenai" / "social_i_qa"
    script_only.mkdir(parents=True)
    (script_only / "social_i_qa.py").write_text("# a loading script\n")
    local_hub.root = tmp_path / "hub"
    with pytest.raises(AfuseError) as error:
        read_hub(task_cfg("siqa", "hub.revision=null"))
    assert "\n" not in str(error.value)
    assert str(error.value).startswith(
        "task siqa: cannot read dataset 'allenai/social_i_qa' from the Hub: it holds a loading script and its "
        "parquet export (refs/convert/parquet, default/) could not be read: DatasetNotFoundError: "
    )
    assert str(error.value).endswith(
        "pin a readable copy with hub.path / hub.revision in conf/task/siqa.yaml, "
        "or use data.source=local data.raw_dir=<dir>"
    )


def test_a_wrong_hub_config_name_is_one_line_naming_the_valid_ones(local_hub, task_cfg):
    with pytest.raises(AfuseError) as error:
        read_hub(task_cfg("rte", "hub.name=rtx"))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        "task rte: cannot read dataset 'nyu-mll/glue' (config rtx) from the Hub: ValueError: "
    )
    assert "'rte'" in message and "conf/task/rte.yaml" in message
    assert local_hub.calls == [{"path": "nyu-mll/glue", "name": "rtx", "revision": None, "data_dir": None}]
