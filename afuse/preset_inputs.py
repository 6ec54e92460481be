"""What a preset's jobs read before they train: each task's data, with the settings its jobs use.

A job prepares its task (afuse.data.prepare) with its own composed config: the preset's data.*,
its group's overrides and the command line's data.*. The prepared copy it looks for is the one
whose fingerprint those settings give, tokenised for its task's max_length; a copy made with
other settings is prepared again by the job itself, which on a compute node without internet
fails. So the settings come from each group's composed job config (afuse.experiment.GroupComposer,
as the job's command composes it), not from the preset's top level:

    stage 1 (train-adapter, finetune)  each task, its config as the job's `task=<name>` composes it
    stage 2 (fuse)                     each target (the fused adapters are stage-1 runs, not data)
    train-multitask (MT-A)             each of its tasks, as the command records them
"""

from dataclasses import dataclass

from omegaconf import DictConfig

from afuse.config import recorded_task_config
from afuse.data.prepare import fingerprint
from afuse.experiment import Experiment, Group, GroupComposer


@dataclass(frozen=True)
class TaskInput:
    """One task's data as jobs read it: prepared with `data`, tokenised for `task.max_length`."""

    name: str
    task: DictConfig
    data: DictConfig
    groups: tuple[str, ...]  # the job groups that read it so


class SettingsConflict(Exception):
    """Jobs that read one task with different split settings: paths.data holds one prepared copy
    per task, so they would prepare it again in turn."""

    def __init__(self, task: str, groups: list[str]):
        super().__init__(
            f"the job groups {' and '.join(groups)} prepare {task} with different settings (data.* split "
            f"settings or the task's config); paths.data holds one prepared copy per task, so their jobs "
            "would prepare it again in turn, and fail without internet: give those groups the same data.* "
            "settings, or put one of them in a preset of its own with its own paths.data"
        )


def task_inputs(experiment: Experiment, composer: GroupComposer) -> dict[str, list[TaskInput] | Exception]:
    """Task name -> the distinct ways the preset's jobs read it (in preset order), or the
    SettingsConflict that makes its jobs prepare it again and again."""
    found: dict[str, dict[tuple[str, int], TaskInput]] = {}
    for group in experiment.groups.values():
        for name, task_cfg, data_cfg in _group_inputs(group, composer):
            key = (fingerprint(task_cfg, data_cfg), int(task_cfg.max_length))
            ways = found.setdefault(name, {})
            seen = ways.get(key)
            groups = (*seen.groups, group.name) if seen else (group.name,)
            ways[key] = TaskInput(name, task_cfg, data_cfg, groups)
    result: dict[str, list[TaskInput] | Exception] = {}
    for name, ways in found.items():
        prepared = {prepared_as for prepared_as, _ in ways}
        if len(prepared) > 1:
            result[name] = SettingsConflict(
                name, list(dict.fromkeys(g for w in ways.values() for g in w.groups))
            )
        else:
            result[name] = list(ways.values())  # one prepared copy, a cache per max_length
    return result


def _group_inputs(group: Group, composer: GroupComposer):
    """(task, task config, data config) of each task the group's jobs read, composed as the first
    seed's job composes it (the seed changes no data)."""
    where = f"experiment.stage{group.stage}.{group.name}.overrides"
    seed = f"seed={group.seeds[0]}"
    if group.is_multitask:  # one job over all its tasks; overrides hold its tasks=[...]
        job_cfg = composer.compose(group.command, [*group.overrides, seed], where)
        for name in group.tasks:
            yield name, recorded_task_config(job_cfg, name), job_cfg.data
        return
    for name in group.tasks:
        job_cfg = composer.compose(
            group.command, [*group.overrides, f"{group.sweep_key}={name}", seed], where
        )
        yield name, job_cfg.task, job_cfg.data
