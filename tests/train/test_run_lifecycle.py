"""run_stage: what a rerun may do with a run directory that holds no finished run."""

import pytest
from omegaconf import OmegaConf

from afuse.errors import ConfigError
from afuse.train.checkpoint_dirs import CHECKPOINT_DIR
from afuse.train.run_lifecycle import run_stage, setup_torch

METRICS = {"test": {"accuracy": 0.5, "majority_rate": 0.5}}


def config(lr: float):
    return OmegaConf.create({"force": False, "trainer": {"lr": lr}})


def fails():
    raise RuntimeError("broken data")


def test_a_run_that_failed_before_any_checkpoint_takes_new_settings(tmp_path):
    """A run that stopped before its first checkpoint (bad data, a typo) has nothing to resume:
    the corrected command trains, instead of 'holds a run made with other settings ... force=true'."""
    with pytest.raises(RuntimeError):
        run_stage(config(lr=1.0), tmp_path, fails)
    assert run_stage(config(lr=2.0), tmp_path, lambda: dict(METRICS)) is not None
    assert OmegaConf.load(tmp_path / "config.yaml").trainer.lr == 2.0
    assert not (tmp_path / "failed.json").exists()


def test_a_run_with_a_checkpoint_resumes_only_with_its_own_settings(tmp_path):
    with pytest.raises(RuntimeError):
        run_stage(config(lr=1.0), tmp_path, fails)
    (tmp_path / CHECKPOINT_DIR).mkdir()  # as a run stopped after its first epoch leaves it
    with pytest.raises(ConfigError, match="holds a run made with other settings"):
        run_stage(config(lr=2.0), tmp_path, lambda: dict(METRICS))


def test_a_finished_run_from_before_a_new_setting_is_still_skipped(tmp_path):
    """Committed records (results/cpu_minilm) predate data.max_malformed_fraction: the preset's
    own command refused them as made with other settings (None -> 0.01)."""
    assert run_stage(config(lr=1.0), tmp_path, lambda: dict(METRICS)) is not None
    newer = config(lr=1.0)
    newer.data = {"max_malformed_fraction": 0.01}
    assert run_stage(newer, tmp_path, fails) is None  # skipped, not retrained
    newer.trainer.lr = 2.0
    with pytest.raises(ConfigError, match=r"trainer.lr: 1.0 -> 2.0"):
        run_stage(newer, tmp_path, fails)


def test_a_finished_run_whose_prepared_data_changed_since_is_refused_not_skipped(tmp_path):
    """As `afuse status` calls it stale, its own command must not skip it as done: force=true."""
    from afuse.atomic import atomic_write_json
    from afuse.data_record import prepared_record

    manifest = {"fingerprint": "f", "splits": {"train": {"file": "train.parquet", "sha256": "1" * 64}}}
    path = tmp_path / "data" / "prepared" / "rte" / "manifest.json"
    path.parent.mkdir(parents=True)
    atomic_write_json(path, manifest)
    cfg = config(lr=1.0)
    cfg.paths = {"data": str(tmp_path / "data")}
    run = tmp_path / "run"
    assert run_stage(cfg, run, lambda: {**METRICS, "prepared_data": {"rte": prepared_record(manifest)}})
    assert run_stage(cfg, run, fails) is None  # the same data: skipped
    manifest["splits"]["train"]["sha256"] = "2" * 64
    atomic_write_json(path, manifest)
    with pytest.raises(
        ConfigError, match=r"trained on other data: .* raw files: rte \(train\); .*force=true"
    ):
        run_stage(cfg, run, fails)
    cfg.force = True
    assert run_stage(cfg, run, lambda: dict(METRICS)) is not None


@pytest.mark.parametrize("given", [None, 1, 2])
def test_config_yaml_records_the_thread_count_the_run_used(given, tmp_path):
    """The thread count changes a CPU run's numbers in their last bits (reductions split over
    threads), and trainer.num_threads=null means torch's default: the machine's cores, or fewer
    in a parallel sweep's worker. The record must say what ran, so that its config reruns it."""
    import torch

    cfg = OmegaConf.create({"force": False, "trainer": {"num_threads": given, "cpu_isa": None}})
    before = torch.get_num_threads()

    def train() -> dict:
        setup_torch(cfg)
        return dict(METRICS)

    try:
        run_stage(cfg, tmp_path, train)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert used == (given or before)
    assert OmegaConf.load(tmp_path / "config.yaml").trainer.num_threads == used


@pytest.mark.slow  # three small training runs of the tiny model in this process
def test_metrics_json_records_the_data_the_run_read(tmp_path, shared_data):
    """A finished run is skipped whatever the raw files hold now; its record says which data it
    read (the sha256 of its tokenised splits), so a result can be tied to its data."""
    import json
    import shutil

    from afuse.data_record import prepared_record
    from afuse.run_identity import stage1_dir
    from afuse.runs import read_metrics
    from tests.commands.test_source_order import afuse, settings

    raw = tmp_path / "raw"
    shutil.copytree(shared_data / "CB", raw / "CB")

    def data_sha256(name: str) -> str:
        afuse("train-adapter", "task=cb", *settings(tmp_path / name, tmp_path / "data", raw))
        return read_metrics(stage1_dir(tmp_path / name / "runs", "tiny", "pfeiffer_rf16", "cb", 1))[
            "data_sha256"
        ]

    first = data_sha256("first")
    assert data_sha256("same") == first and len(first) == 64
    # and which prepared copy it came from, which `afuse status` compares without tokenising
    manifest = json.loads((tmp_path / "data" / "prepared" / "cb" / "manifest.json").read_text())
    recorded = read_metrics(stage1_dir(tmp_path / "first" / "runs", "tiny", "pfeiffer_rf16", "cb", 1))
    assert recorded["prepared_data"] == {"cb": prepared_record(manifest)}
    rows = (raw / "CB" / "train.jsonl").read_text().splitlines()
    row = json.loads(rows[0])
    row["premise"] = "An edited premise."
    (raw / "CB" / "train.jsonl").write_text("\n".join([json.dumps(row), *rows[1:]]) + "\n")
    assert data_sha256("edited") != first


@pytest.mark.slow  # a small training run of the tiny model in this process
def test_metrics_json_records_the_environment_and_config_yaml_does_not(tmp_path, shared_data):
    """The versions, device and CPU kernels a run used go into metrics.json; config.yaml holds
    only settings, which `afuse status` compares: a new torch must not make finished runs stale."""
    import torch

    from afuse.environment import run_environment
    from afuse.run_identity import stage1_dir
    from afuse.runs import read_metrics
    from tests.commands.test_source_order import afuse, settings

    afuse("train-adapter", "task=cb", *settings(tmp_path, tmp_path / "data", shared_data))
    run = stage1_dir(tmp_path / "runs", "tiny", "pfeiffer_rf16", "cb", 1)
    assert read_metrics(run)["environment"] == run_environment(torch.device("cpu"))
    assert "environment" not in OmegaConf.load(run / "config.yaml")
