"""Which stage-1 runs a Fusion run fuses: a source run whose result does not read is refused."""

import pytest

from afuse.errors import AfuseError
from afuse.fusion_sources import resolve_st_a_sources
from afuse.run_identity import source_run_dir
from tests.from_conf import compose_config
from tests.synthetic import write_run


@pytest.fixture
def fuse_cfg(tmp_path):
    cfg = compose_config(
        "fuse", ["model=tiny", "target=cb", "fusion.sources=[cb,rte]", f"paths.runs={tmp_path}"]
    )
    for task in ("cb", "rte"):
        run = write_run(source_run_dir(cfg, task), 0.5, kind="st_a")
        (run / "config.yaml").write_text("seed: 1\n")
    return cfg


def test_finished_source_runs_are_found(fuse_cfg):
    assert [s.name for s in resolve_st_a_sources(fuse_cfg)] == ["cb", "rte"]


@pytest.mark.parametrize(
    ("name", "content"),
    [("metrics.json", '{"test": {"accuracy": 0.5'), ("config.yaml", "seed: 1\ntask: [cb")],
)
def test_a_source_run_whose_result_does_not_read_is_refused_with_its_retrain_command(name, content, fuse_cfg):
    # A damaged run is not done (afuse status; train-adapter refuses to skip it): a Fusion built
    # on it would be a result over a run that afuse itself does not count as finished.
    run = source_run_dir(fuse_cfg, "rte")
    (run / name).write_text(content)
    with pytest.raises(AfuseError) as refused:
        resolve_st_a_sources(fuse_cfg)
    message = str(refused.value)
    assert refused.value.exit_code == 5
    assert f"{run}" in message and name in message
    assert "afuse train-adapter" in message and "task=rte force=true" in message
