"""afuse/compose_cache.py: a preset's group compositions are reused only while nothing they read changed."""

import hydra
import pytest
from omegaconf import OmegaConf

from afuse.compose_cache import ComposeCache, cache_dir
from afuse.experiment import load_experiment
from tests.from_conf import compose_config

PRESET = """# @package _global_
defaults:
  - override /model: tiny
adapter: {{reduction_factor: {rf}}}
experiment:
  name: cached
  tasks: [rte, cb]
  seeds: [1]
  stage1:
    st_a: {{command: train-adapter}}
  stage2:
    fusion: {{sources: st_a}}
"""


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AFUSE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def preset_experiment(conf, rf: int):
    (conf / "experiment").mkdir(parents=True, exist_ok=True)
    (conf / "experiment" / "cached.yaml").write_text(PRESET.format(rf=rf))
    overrides = ["experiment=cached", "paths.runs=/r", f"hydra.searchpath=[file://{conf}]"]
    cfg = compose_config("status", overrides, with_hydra=True)
    return load_experiment(cfg)


def test_a_stored_composition_equals_hydras_and_skips_it(tmp_path, own_cache, monkeypatch):
    first = preset_experiment(tmp_path / "conf", 8)
    assert list(own_cache.iterdir()) and cache_dir() == own_cache

    def no_hydra(*args, **kwargs):
        raise AssertionError("composed again although nothing changed")

    monkeypatch.setattr(hydra, "compose", no_hydra)
    again = preset_experiment(tmp_path / "conf", 8)
    assert again == first and again.groups["st_a"].variant == "pfeiffer_rf8"


def test_a_changed_preset_file_is_composed_afresh(tmp_path, own_cache):
    assert preset_experiment(tmp_path / "conf", 8).groups["st_a"].variant == "pfeiffer_rf8"
    changed = preset_experiment(tmp_path / "conf", 4)
    assert changed.groups["st_a"].variant == "pfeiffer_rf4"
    assert changed.groups["fusion"].variant.startswith("dynamic_pfeiffer_rf4_")
    assert len(list(own_cache.iterdir())) == 2  # one store per state of the config files


def test_round_trip_keeps_interpolations_missing_values_and_struct(tmp_path, own_cache):
    cfg = compose_config("fuse", ["model=tiny"])
    cache = ComposeCache([])
    cache.put("fuse", ["model=tiny"], cfg)
    cache.save()
    back = ComposeCache([]).get("fuse", ["model=tiny"])
    assert OmegaConf.to_container(back, resolve=False) == OmegaConf.to_container(cfg, resolve=False)
    assert OmegaConf.is_missing(back, "target") and OmegaConf.is_struct(back)
    assert ComposeCache([]).get("fuse", ["model=minilm"]) is None


def test_an_unreadable_store_is_ignored(tmp_path, own_cache):
    preset_experiment(tmp_path / "conf", 8)
    for store in own_cache.iterdir():
        store.write_text("{not json")
    assert preset_experiment(tmp_path / "conf", 8).groups["st_a"].variant == "pfeiffer_rf8"


@pytest.mark.parametrize("entry", ["a string", 42, ["a", "list"], None])
def test_a_stored_entry_that_is_not_a_composition_is_composed_afresh(entry, tmp_path, own_cache):
    import json

    preset_experiment(tmp_path / "conf", 8)
    for store in own_cache.iterdir():
        entries = json.loads(store.read_text())
        store.write_text(json.dumps({key: entry for key in entries}))
    assert preset_experiment(tmp_path / "conf", 8).groups["st_a"].variant == "pfeiffer_rf8"
