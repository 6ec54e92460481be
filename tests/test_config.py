"""Config helpers: per-task example limits and their resolution into a run's own config."""

import pytest
from omegaconf import OmegaConf

from afuse.config import example_limit, specialise_data, task_config, task_names
from afuse.errors import ConfigError


def data_cfg(**extra):
    return OmegaConf.create({"max_train_examples": 500, "max_test_examples": None, "per_task": {}, **extra})


def test_per_task_limits_override_the_global_ones():
    cfg = data_cfg(per_task={"mnli": {"max_train_examples": 2000, "max_test_examples": 1000}})
    assert example_limit(cfg, "mnli", "train") == 2000
    assert example_limit(cfg, "mnli", "test") == 1000
    assert example_limit(cfg, "rte", "train") == 500
    assert example_limit(cfg, "rte", "test") is None


def test_a_limit_below_one_names_the_key():
    with pytest.raises(ConfigError, match="data.max_train_examples must be an integer >= 1 or null"):
        example_limit(data_cfg(max_train_examples=0), "rte", "train")


@pytest.mark.parametrize("bad", ["abc", 2.5, -3])
def test_a_per_task_limit_that_is_not_a_count_names_the_key(bad):
    """`+data.per_task.rte.max_test_examples=abc` ended in int()'s ValueError traceback."""
    cfg = data_cfg(per_task={"rte": {"max_test_examples": bad}})
    with pytest.raises(
        ConfigError, match=r"data.per_task.rte.max_test_examples must be an integer >= 1 or null"
    ):
        example_limit(cfg, "rte", "test")


def test_specialise_data_keeps_only_what_applies_to_the_run():
    cfg = OmegaConf.create({"data": data_cfg(per_task={"cb": {"max_train_examples": 100}, "rte": {}})})
    OmegaConf.set_struct(cfg, True)  # as Hydra hands it to a command
    specialise_data(cfg, "cb")
    assert cfg.data.max_train_examples == 100 and cfg.data.max_test_examples is None
    assert cfg.data.per_task == {}


def test_unknown_task_lists_the_sixteen():
    with pytest.raises(ConfigError) as error:
        task_config("nope")
    assert all(name in str(error.value) for name in task_names()) and len(task_names()) == 16
