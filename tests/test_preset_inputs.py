"""afuse.preset_inputs: the tasks a preset's jobs read, each with the settings its jobs compose."""

from omegaconf import OmegaConf

from afuse.config import task_config
from afuse.data.prepare import fingerprint
from afuse.experiment import GroupComposer, load_experiment
from afuse.preset_inputs import SettingsConflict, task_inputs
from tests.from_conf import compose_config
from tests.test_experiment import custom_experiment, preset_config


def inputs_of(cfg):
    return task_inputs(load_experiment(cfg), GroupComposer(cfg))


def test_every_task_of_paper_table1_is_read_one_way():
    tasks = ["rte", "hellaswag", "argument"]  # 3 of its 16: composing each group's job per task takes time
    cfg = preset_config("paper_table1", "status", f"experiment.tasks=[{','.join(tasks)}]")
    inputs = inputs_of(cfg)
    assert list(inputs) == tasks
    assert all(not isinstance(ways, Exception) and len(ways) == 1 for ways in inputs.values()), inputs
    # every group reads every task: the stage-1 groups, MT-A's one job, the Fusion targets
    groups = set(load_experiment(cfg).groups)
    assert all(set(ways[0].groups) == groups for ways in inputs.values())
    assert all(ways[0].task.max_length == task_config(name).max_length for name, ways in inputs.items())


def test_a_group_data_override_is_the_fingerprint_its_jobs_look_for():
    spec = {
        "tasks": ["rte"],
        "seeds": [1],
        "stage1": {"st_a": {"command": "train-adapter", "overrides": ["data.validation_fraction=0.3"]}},
        "stage2": {"fusion": {"sources": "st_a", "overrides": ["data.validation_fraction=0.3"]}},
    }
    [way] = inputs_of(custom_experiment(spec))["rte"]
    job = compose_config("train_adapter", ["task=rte", "data.validation_fraction=0.3"])
    assert way.data.validation_fraction == 0.3
    assert fingerprint(way.task, way.data) == fingerprint(job.task, job.data)
    assert way.groups == ("st_a", "fusion")


def test_groups_that_prepare_a_task_differently_are_a_conflict_for_that_task_only():
    spec = {
        "tasks": ["rte", "mrpc"],
        "seeds": [1],
        "stage1": {
            "st_a": {"command": "train-adapter", "overrides": ["data.split_seed=3"]},
            "head": {"command": "finetune", "tasks": ["rte"], "overrides": ["mode=head"]},
        },
    }
    inputs = inputs_of(custom_experiment(spec))
    assert isinstance(inputs["rte"], SettingsConflict)
    assert "st_a and head prepare rte with different settings" in str(inputs["rte"])
    assert OmegaConf.select(inputs["mrpc"][0].data, "split_seed") == 3
