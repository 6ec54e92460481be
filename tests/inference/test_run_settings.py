"""Settings beside run= that a run's rebuild would not use are refused, not ignored: a run is scored
with the model, data and task settings it was trained with (data.* on the command line apply)."""

import pytest
from omegaconf import OmegaConf

from tests.commands import afuse_exit_code
from tests.inference.conftest import untrained_head_run

RUN_DATA = {"source": "local", "max_train_examples": 64, "max_test_examples": None, "per_task": {},
            "split_seed": 42, "validation_fraction": 0.1, "validation_max_examples": 2000}  # fmt: skip


@pytest.fixture
def head_run(tmp_path, shared_data):
    """A tiny Head run on CB whose config.yaml records the data settings it was made with."""
    run = untrained_head_run(tmp_path, "cb")
    cfg = OmegaConf.load(run / "config.yaml")
    cfg.data = {**RUN_DATA, "raw_dir": str(shared_data)}
    (run / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
    return run


def preset(tmp_path, name: str, body: str) -> str:
    """A preset of the user's own (README: hydra.searchpath), as an override that finds it."""
    folder = tmp_path / "conf" / "experiment"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(f"# @package _global_\n{body}")
    return f"hydra.searchpath=[file://{tmp_path / 'conf'}]"


def evaluate(run, tmp_path, *args: str) -> int:
    return afuse_exit_code(
        "evaluate", f"run={run}", f"paths.data={tmp_path}/data", f"paths.logs={tmp_path}/logs",
        "progress_bar=false", *args,
    )  # fmt: skip


def error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_preset_on_another_model_is_refused(head_run, tmp_path, capsys):
    # cpu_small's model is MiniLM; the run was trained on the tiny model, which was used all the same.
    assert evaluate(head_run, tmp_path, "experiment=cpu_small") == 2
    line = error_line(capsys)
    assert "experiment=cpu_small" in line and "model=minilm (the run's: tiny)" in line
    assert "leave experiment= out" in line
    assert not (head_run / "eval").exists()


def test_a_preset_with_other_data_settings_is_refused_naming_them(head_run, tmp_path, shared_data, capsys):
    body = f"defaults:\n  - override /model: tiny\ndata:\n  source: local\n  raw_dir: {shared_data}\n"
    searchpath = preset(tmp_path, "mine", body + "  max_test_examples: 20\n  max_train_examples: 64\n")
    assert evaluate(head_run, tmp_path, searchpath, "experiment=mine") == 2
    line = error_line(capsys)
    assert "data.max_test_examples=20 (the run's: None)" in line
    assert "max_train_examples" not in line  # the same as the run's: nothing ignored
    # The same setting typed on the command line applies (README): scored on 20 rows.
    assert evaluate(head_run, tmp_path, searchpath, "experiment=mine", "data.max_test_examples=20") == 0
    metrics = OmegaConf.load(head_run / "eval" / "test" / "metrics.json")
    assert metrics.n == 20


def test_a_preset_that_agrees_with_the_run_is_accepted(head_run, tmp_path, shared_data):
    body = f"defaults:\n  - override /model: tiny\ndata:\n  source: local\n  raw_dir: {shared_data}\n"
    searchpath = preset(tmp_path, "same", body + "  max_train_examples: 64\n")
    assert evaluate(head_run, tmp_path, searchpath, "experiment=same") == 0
    assert OmegaConf.load(head_run / "eval" / "test" / "metrics.json").n == 56


def test_a_presets_per_task_limits_are_compared_as_the_run_saved_them(head_run, tmp_path, shared_data):
    # cpu_small's shape: 400 rows per task, all of CB's (data.per_task). A one-task run saves the
    # limits that applied to its task, with per_task emptied (afuse.config.specialise_data): the
    # preset's raw data block differs from that record, though it trained this very run.
    body = f"defaults:\n  - override /model: tiny\ndata:\n  source: local\n  raw_dir: {shared_data}\n"
    per_task = "  max_train_examples: 400\n  per_task:\n    cb: {max_train_examples: 64}\n"
    searchpath = preset(tmp_path, "per_task", body + per_task)
    assert evaluate(head_run, tmp_path, searchpath, "experiment=per_task") == 0
    # ... and a per-task limit that is not the run's is still refused, named as the run saved it.
    other = "  max_train_examples: 64\n  per_task:\n    cb: {max_train_examples: 32}\n"
    searchpath = preset(tmp_path, "per_task_other", body + other)
    assert evaluate(head_run, tmp_path, searchpath, "experiment=per_task_other") == 2


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_task_settings_are_refused_with_run(command, head_run, tmp_path, shared_data, capsys):
    # task.max_length=16 would change what the run sees; the run's own task settings were used.
    args = [f"run={head_run}", "task=cb", "task.max_length=16", f"paths.logs={tmp_path}/logs"]
    if command == "predict":
        args.append(f"file={shared_data / 'CB' / 'test.jsonl'}")
    assert afuse_exit_code(command, *args) == 2
    line = error_line(capsys)
    assert "task.max_length=16: a run is scored with the task settings it was trained with" in line
    assert "(they are for adapterhub=<dir>)" in line


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_data_settings_are_refused_with_a_file(command, head_run, tmp_path, shared_data, capsys):
    # A file's rows are scored as they are: data.max_test_examples sampled nothing, without a word.
    rows = shared_data / "CB" / ("val.jsonl" if command == "evaluate" else "test.jsonl")
    args = [f"run={head_run}", f"file={rows}", "data.max_test_examples=5", f"paths.logs={tmp_path}/logs"]
    assert afuse_exit_code(command, *args) == 2
    assert "data.max_test_examples=5: with file= the file's rows are scored as they are" in error_line(capsys)


def test_a_presets_data_settings_do_not_matter_for_a_file(head_run, tmp_path, shared_data):
    searchpath = preset(
        tmp_path, "other_data", "defaults:\n  - override /model: tiny\ndata:\n  max_test_examples: 20\n"
    )
    args = [
        f"run={head_run}",
        f"file={shared_data / 'CB' / 'test.jsonl'}",
        searchpath,
        "experiment=other_data",
    ]
    assert afuse_exit_code("predict", *args, f"paths.logs={tmp_path}/logs", "progress_bar=false") == 0
