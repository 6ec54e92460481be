"""A run's config.yaml is enough to redo it: `afuse <command> --config-dir <run dir> --config-name
config +hydra=default` (README, "Rerunning a run from its record") trains the same numbers and
weights, into another runs tree or in place with force=true."""

from pathlib import Path

import pytest

from afuse.config import register_resolvers
from afuse.run_identity import source_run_dir, stage1_dir, stage2_dir
from afuse.runs import write_config
from tests.commands import afuse_exit_code
from tests.commands.test_source_order import afuse, outcome, settings
from tests.from_conf import compose_config
from tests.synthetic import write_run

pytestmark = pytest.mark.slow  # small training runs of the tiny model in this process


def from_record(command: str, run: Path, *overrides: str) -> None:
    afuse(command, "--config-dir", str(run), "--config-name", "config", "+hydra=default", *overrides)


def test_a_stage1_run_is_redone_from_its_config_yaml(tmp_path, shared_data):
    afuse("train-adapter", "task=cb", *settings(tmp_path / "first", tmp_path / "data", shared_data))
    run = stage1_dir(tmp_path / "first" / "runs", "tiny", "pfeiffer_rf16", "cb", 1)
    from_record("train-adapter", run, f"paths.runs={tmp_path}/again")
    again = stage1_dir(tmp_path / "again", "tiny", "pfeiffer_rf16", "cb", 1)
    assert outcome(again) == outcome(run)
    assert (again / "config.yaml").read_text() == (run / "config.yaml").read_text().replace(
        f"{tmp_path}/first/runs", f"{tmp_path}/again"
    )
    assert list((tmp_path / "first" / "logs").iterdir())  # afuse's log folder, not ./outputs
    assert not (Path.cwd() / "outputs").exists()


def test_a_fusion_run_is_redone_in_place_from_its_config_yaml(tmp_path, shared_data):
    args = settings(tmp_path, tmp_path / "data", shared_data)
    for task in ("rte", "cb"):
        afuse("train-adapter", f"task={task}", *args)
    afuse("fuse", "target=cb", "fusion.sources=[cb,rte]", *args)
    [variant] = [p.name for p in (tmp_path / "runs" / "stage2" / "tiny").iterdir()]
    run = stage2_dir(tmp_path / "runs", "tiny", variant, "cb", 1)
    first = outcome(run)
    from_record("fuse", run, "force=true")
    assert outcome(run) == first
    assert (run / "metrics.previous.json").is_file()  # it did train again


def test_a_run_redone_from_its_record_in_a_moved_tree_is_redone_where_it_is(tmp_path, shared_data):
    """The record's paths.runs names the tree it was made in (relative to the directory it was made
    from, or a cluster's path): redone "in place" from a tree moved or copied since, a Fusion looked
    for its sources there, and any run was trained into that old tree instead of in place."""
    args = settings(tmp_path / "cluster", tmp_path / "data", shared_data)
    for task in ("rte", "cb"):
        afuse("train-adapter", f"task={task}", *args)
    afuse("fuse", "target=cb", "fusion.sources=[cb,rte]", *args)
    moved = tmp_path / "laptop" / "runs"
    moved.parent.mkdir()
    (tmp_path / "cluster" / "runs").rename(moved)
    [variant] = [p.name for p in (moved / "stage2" / "tiny").iterdir()]
    run = stage2_dir(moved, "tiny", variant, "cb", 1)
    first = outcome(run)
    from_record("fuse", run, "force=true")
    assert outcome(run) == first
    assert (run / "metrics.previous.json").is_file()  # it did train again, there
    assert not (tmp_path / "cluster" / "runs").exists()


def test_a_fusion_redone_into_a_tree_without_its_sources_says_how_to_redo_them(tmp_path, capsys):
    # The record's settings are not on the command line: plain train-adapter lines would train
    # the sources on the default model, in folders this Fusion never looks in.
    cfg = compose_config(
        "fuse", ["model=tiny", "target=cb", "fusion.sources=[rte,cb]", f"paths.runs={tmp_path}/first"]
    )
    register_resolvers()  # the task's ${task_spec:...}, resolved in a record as the commands write it
    fusion = tmp_path / "fusion"
    write_config(fusion, cfg)
    rte = write_run(source_run_dir(cfg, "rte"), 0.5)
    write_config(rte, compose_config("train_adapter", ["model=tiny", "task=rte"]))
    again = tmp_path / "again"
    args = ["--config-dir", str(fusion), "--config-name", "config", "+hydra=default"]
    assert afuse_exit_code("fuse", *args, f"paths.runs={again}", f"paths.logs={tmp_path}/logs") == 3
    error = capsys.readouterr().err
    assert f"whose sources are under {tmp_path}/first" in error
    redo_rte = (
        f"afuse train-adapter --config-dir {rte} --config-name config +hydra=default paths.runs={again}"
    )
    assert redo_rte in error
    cb = source_run_dir(cfg, "cb")
    assert "afuse train-adapter model=tiny adapter=pfeiffer adapter.reduction_factor=16" in error
    assert f"# {cb} has no record" in error
