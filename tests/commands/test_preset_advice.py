"""`afuse fuse experiment=<preset> target=T` typed by hand, with its sources not trained: the lines
it prints are the preset's own (its groups' settings), not plain lines that train runs the preset
would count as stale."""

import pytest

from tests.commands import afuse_exit_code
from tests.synthetic import write_run

PRESET_ST_A = (
    "afuse train-adapter -m experiment=cpu_small adapter=pfeiffer adapter.reduction_factor=16 trainer.lr=1e-3"
)


@pytest.fixture
def fuse_error(tmp_path, capsys):
    def run(*args: str) -> str:
        common = [f"paths.runs={tmp_path}/runs", f"paths.logs={tmp_path}/logs", "experiment=cpu_small"]
        assert afuse_exit_code("fuse", *common, "target=rte", *args) == 3
        return capsys.readouterr().err

    return run


def _stage1(tmp_path, task: str):
    return tmp_path / "runs" / "stage1" / "minilm" / "pfeiffer_rf16" / task / "seed1"


def test_a_bare_fuse_in_a_preset_names_the_presets_fusion_job_and_its_sources_lines(fuse_error, tmp_path):
    # Without fusion.sources the command fuses the default 16 (argument among them, which cpu_small
    # does not train); the preset fuses its st_a group's 4 tasks with fusion=dynamic trainer.lr=5e-4.
    error = fuse_error()
    assert "This is not the preset's Fusion run for rte" in error
    assert "fusion=dynamic trainer.lr=5e-4 'fusion.sources=[sst2,mrpc,rte,cb]'" in error
    assert f"{PRESET_ST_A} task=sst2,mrpc,rte,cb seed=1 paths.runs={tmp_path}/runs" in error
    assert "task=argument" not in error
    assert f"afuse run experiment=cpu_small paths.runs={tmp_path}/runs" in error


def test_only_the_presets_sources_not_yet_trained_are_listed(fuse_error, tmp_path):
    for task in ("sst2", "mrpc"):
        write_run(_stage1(tmp_path, task), 0.5, kind="st_a")
    error = fuse_error()
    assert f"{PRESET_ST_A} task=rte,cb seed=1" in error


def test_sources_of_ones_own_get_the_presets_lines_where_the_preset_trains_them(fuse_error, tmp_path):
    error = fuse_error("fusion.sources=[rte,cb,boolq]")
    assert "not the preset's Fusion run" not in error  # the researcher chose these sources
    assert f"{PRESET_ST_A} task=rte,cb seed=1" in error
    assert "Not jobs of the preset (boolq):" in error
    plain = [line for line in error.splitlines() if line.endswith("task=boolq")]
    assert plain and all("trainer.lr" not in line and "experiment=cpu_small" in line for line in plain)


def test_without_a_preset_the_plain_train_lines_are_printed(tmp_path, capsys):
    args = [f"paths.runs={tmp_path}/runs", f"paths.logs={tmp_path}/logs", "model=tiny", "target=rte"]
    assert afuse_exit_code("fuse", *args, "fusion.sources=[rte,cb]") == 3
    error = capsys.readouterr().err
    assert (
        f"afuse train-adapter -m paths.runs={tmp_path}/runs paths.logs={tmp_path}/logs model=tiny seed=1 task=rte,cb"
        in error
    )
    assert "the preset" not in error
