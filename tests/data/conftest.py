"""Fixtures for the data tests: task configs, data settings pointing at the raw fixtures, tmp paths."""

import shutil
from pathlib import Path

import datasets
import pytest
from omegaconf import DictConfig, OmegaConf

from afuse.data import hub as hub_module
from afuse.paths import conf_dir

FIXTURE_DATA = Path(__file__).resolve().parent.parent / "fixtures" / "data"
HUB_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hub"  # make_hub_fixtures.py


def _task_config(name: str, *overrides: str) -> DictConfig:
    """conf/task/<name>.yaml with dotlist overrides, e.g. "local.files.test=x.jsonl"."""
    config = OmegaConf.load(conf_dir() / "task" / f"{name}.yaml")
    return OmegaConf.merge(config, OmegaConf.from_dotlist(list(overrides)))


def _data_config(raw_dir: Path | str | None = FIXTURE_DATA, **overrides) -> DictConfig:
    config = OmegaConf.load(conf_dir() / "data" / "default.yaml")
    config.source = "local"
    config.raw_dir = None if raw_dir is None else str(raw_dir)
    # The fixtures are messy on purpose (a third of some files' rows are malformed): tests of
    # the readers lift the malformed-rows limit; tests of the limit set it.
    config.max_malformed_fraction = 1.0
    return OmegaConf.merge(config, overrides)


@pytest.fixture(scope="session")
def fixture_data() -> Path:
    return FIXTURE_DATA


@pytest.fixture(scope="session")
def task_cfg():
    return _task_config


@pytest.fixture(scope="session")
def data_cfg():
    """data_cfg(raw_dir=<fixtures>, **overrides): conf/data/default.yaml with data.source=local."""
    return _data_config


@pytest.fixture
def paths_cfg(tmp_path: Path) -> DictConfig:
    return OmegaConf.create({"data": str(tmp_path / "data")})


@pytest.fixture
def raw_copy(tmp_path: Path):
    """raw_copy("RTE", ...) -> a raw_dir holding writable copies of those fixture folders."""

    def copy(*folders: str) -> Path:
        raw_dir = tmp_path / "raw"
        for folder in folders:
            shutil.copytree(FIXTURE_DATA / folder, raw_dir / folder)
        return raw_dir

    return copy


class LocalHub:
    """Where the stand-in Hub reads from (`root`) and the load_dataset calls it saw (`calls`)."""

    def __init__(self, root: Path):
        self.root = root
        self.calls: list[dict] = []


@pytest.fixture
def local_hub(monkeypatch, tmp_path) -> LocalHub:
    """Point load_dataset at tests/fixtures/hub/<revision>/<repo>: the real load_dataset then reads
    those files (README configs, parquet features, loading-script refusal) and afuse runs as is."""
    real_load = datasets.load_dataset
    hub = LocalHub(HUB_FIXTURES)

    def load_dataset(path, name=None, revision=None, data_dir=None, **kwargs):
        hub.calls.append({"path": path, "name": name, "revision": revision, "data_dir": data_dir})
        folder = hub.root / (revision or "main").replace("/", "_") / path
        if not folder.is_dir():
            raise datasets.exceptions.DatasetNotFoundError(f"no fixture {folder}")
        return real_load(str(folder), name, data_dir=data_dir, cache_dir=str(tmp_path / "hf-cache"), **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    # No reachability probe: nothing leaves the machine. (Not HF_HUB_OFFLINE, which also changes
    # what afuse says about a failed download: that the cache has no copy.)
    monkeypatch.setattr(hub_module, "check_hub_reachable", lambda task, hub: None)
    return hub
