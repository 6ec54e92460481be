"""afuse.given_overrides: what the running command line gave, read from Hydra's record of it."""

import pytest
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from afuse import given_overrides as given


@pytest.fixture
def command_line():
    """Stand in for a Hydra app that ran with the given overrides."""

    def set_line(task: list[str], hydra: list[str]) -> None:
        config = {"hydra": {"overrides": {"task": task, "hydra": hydra}}}
        HydraConfig.instance().cfg = OmegaConf.create(config)  # what HydraConfig.get() reads

    yield set_line
    HydraConfig.instance().cfg = None


def test_nothing_is_given_outside_a_hydra_app():
    assert given.task_overrides() == [] and given.searchpath() == [] and given.keys_given() == set()


def test_keys_drop_the_add_and_delete_prefixes():
    assert [given.key(o) for o in ("++data.seed=1", "+trainer.x=2", "~trainer.lr", "task=rte")] == [
        "data.seed",
        "trainer.x",
        "trainer.lr",
        "task",
    ]


def test_a_running_command_lines_overrides_are_read_in_order(command_line):
    command_line(
        ["task=rte", "++data.per_task.rte.max_train_examples=10", "model=tiny", "trainer.lr=1e-3"],
        ["hydra.searchpath=[file:///mine]", "hydra.verbose=true"],
    )
    assert given.keys_given() == {"task", "data.per_task.rte.max_train_examples", "model", "trainer.lr"}
    assert given.starting_with(("data.", "model=")) == [
        "++data.per_task.rte.max_train_examples=10",
        "model=tiny",
    ]
    assert given.searchpath() == ["hydra.searchpath=[file:///mine]"]
