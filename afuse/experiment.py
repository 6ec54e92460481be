"""Experiment presets as concrete jobs: which runs a preset has, where they live, what they wait for.

A preset (conf/experiment/<name>.yaml, `# @package _global_`) sets the model, data and paths of
every command it is passed to, and lists its jobs under the `experiment` key:

    experiment:
      name: cpu_small                  # = the file's name; `experiment=<name>` picks the preset
      description: "..."               # shown at the top of the report
      tasks: [sst2, mrpc, rte, cb]     # default task list of every group
      seeds: [1]                       # default seeds of every group
      stage1:                          # groups of jobs that need only data
        st_a:                          # a group: one command swept over tasks x seeds
          command: train-adapter       # train-adapter | finetune | train-multitask
          overrides: [adapter=pfeiffer, adapter.reduction_factor=16]
        head: {command: finetune, tasks: [mrpc, rte, cb], overrides: [mode=head]}
        # train-multitask is ONE run per seed over all of its `tasks` (the MT-A model)
      stage2:                          # Fusion groups: each job waits for its stage-1 sources
        fusion_st_a:
          sources: st_a                # stage-1 group(s) whose adapters are fused: all their tasks
          targets: [mrpc, rte, cb]     # default: the sources' tasks
          source_seed: null            # seed of the fused adapters; null: the Fusion run's own seed
          overrides: [fusion=dynamic]
      report: {...}                    # the report's layout: afuse/report/layout.py

A group's `overrides` are Hydra overrides given to each of its jobs; they say which variant the
group is (adapter=houlsby, mode=head, fusion=static, adapter.reduction_factor=2); the preset may
also set such values for all its jobs. Each group's config is composed by Hydra from its
command's primary config, the preset and the group's overrides, exactly as its jobs' configs are,
and its jobs' directories come from afuse.run_identity.run_dir, the function the commands call:
a job's directory here is the directory its command writes.
"""

import copy
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict

from afuse.compose_cache import ComposeCache
from afuse.config import PAPER_TASKS, example_limit, paper_order, register_resolvers, task_config, task_names
from afuse.errors import ConfigError
from afuse.given_overrides import hydra_overrides as hydra_overrides_given
from afuse.given_overrides import key as given_key
from afuse.given_overrides import searchpath as given_searchpath
from afuse.given_overrides import starting_with, task_overrides
from afuse.overrides import (
    check_key,
    group_options,
    option_file,
    parse_overrides,
    parse_problem,
    searchpath_dirs,
)
from afuse.paths import conf_dir
from afuse.run_identity import (
    FUSE,
    MT_A,
    TRAIN_ADAPTER,
    TRAIN_MULTITASK,
    multitask_tasks_in_order,
    run_dir,
    run_task,
    source_run_dir,
    variant,
)
from afuse.run_identity import source_seed as fused_adapter_seed  # `source_seed` is a preset key here
from afuse.runs import result_config
from afuse.validate import check_values

STAGE1_COMMANDS = (TRAIN_ADAPTER, "finetune", TRAIN_MULTITASK)
# The keys of a preset's `experiment` node (README: Writing a preset); a misspelt one would be ignored.
PRESET_KEYS = {"name", "description", "tasks", "seeds", "stage1", "stage2", "report"}

# Override keys a group may not set: the sweep, the experiment or the stage-2 wiring sets them.
RESERVED_KEYS = {
    "task": "list the tasks under `tasks`",
    "target": "list the targets under `targets`",
    "seed": "list the seeds under `seeds`",
    "tasks": "list the tasks under `tasks`",
    "experiment": "a group belongs to its preset",
    "model": "a preset has one model: set it in the preset's defaults (override /model: ...)",
    "adapters": "set by the group's `sources`",
    "fusion.sources": "set by the group's `sources`",
    "fusion.source_seed": "set it with the group's `source_seed`",
    # status, run and report find every job under the preset's paths: a group's own would hide its runs
    "paths": "a preset's runs share one tree: set paths.* at the preset's top level",
}


@dataclass(frozen=True)
class Job:
    group: str
    command: str
    stage: int
    task: str  # the task; for fuse the target; for train-multitask the tasks key (e.g. all16)
    seed: int
    run_dir: Path
    needs: tuple[Path, ...] = ()  # run directories that must be complete before this job can run


@dataclass(frozen=True)
class Group:
    name: str
    stage: int
    command: str
    tasks: tuple[str, ...]  # tasks; for fuse the targets; for train-multitask the jointly trained tasks
    seeds: tuple[int, ...]
    overrides: tuple[str, ...]  # given to every job of the group, before the sweep over tasks x seeds
    variant: str  # the variant part of the run path: pfeiffer_rf16, head, mt_a, dynamic_pfeiffer_rf16
    jobs: tuple[Job, ...] = field(repr=False)
    sources: tuple[str, ...] = ()  # fuse: the fused adapters' tasks
    # The result-relevant settings of the group's first job (afuse.runs.result_config), from which
    # job_settings derives each job's: what its command saves in config.yaml.
    settings: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def sweep_key(self) -> str | None:
        """The override that selects the task of one job (MT-A runs cover all their tasks at once)."""
        return {FUSE: "target", "train-multitask": None}.get(self.command, "task")

    @property
    def is_multitask(self) -> bool:
        return self.command == "train-multitask"


@dataclass(frozen=True)
class Experiment:
    name: str
    model: str
    runs_root: Path
    groups: dict[str, Group]  # stage-1 groups first, each stage in preset order
    description: str
    report: dict  # `experiment.report`, read by afuse.report.layout
    # paths.data of the command that loaded it: where a retrain reads its prepared data, compared
    # with what finished runs read (afuse.data_record); None: not compared
    data_root: Path | None = None
    source: Path | None = None  # the preset's file, named in errors about it; None: made in code

    def jobs(self, stage: int | None = None) -> list[Job]:
        return [job for g in self.groups.values() if stage in (None, g.stage) for job in g.jobs]


class GroupComposer:
    """Composes a job group's config with Hydra, as `afuse <command> experiment=<preset> <overrides>`
    would: the command's primary config, the preset, the group's overrides. The caller's config
    (status, run, report) was composed with the same preset and command-line overrides its jobs
    get, so its paths and model are theirs."""

    def __init__(self, cfg: DictConfig, settings: dict[str, list[str]] | None = None):
        """settings: data.* / trainer.* overrides per command config name (train_adapter, fuse,
        ...); default: this command line's, for every group (`afuse run` passes them to every job)."""
        self.cfg = cfg
        self.preset = _requested_preset() or str(cfg.experiment.name)
        self.hydra_overrides = hydra_overrides(cfg)
        self.settings = settings
        if self.preset not in preset_names() and not self.hydra_overrides:
            self.preset = None  # an experiment node made in code (tests), not read from a preset file
        self.cache = ComposeCache(search_dirs(self.hydra_overrides))

    def compose(self, command: str, overrides: list[str], where: str) -> DictConfig:
        config_name = command.replace("-", "_")
        try:
            job_cfg = self._compose(config_name, overrides)
        except HydraException as exc:
            raise ConfigError(f"{where}: {self._explain(config_name, exc)}") from exc
        with open_dict(job_cfg):
            job_cfg.paths, job_cfg.model = self.cfg.paths, self.cfg.model
        return job_cfg

    def _compose(self, config_name: str, overrides: list[str]) -> DictConfig:
        from hydra import compose, initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        preset = [f"experiment={self.preset}"] if self.preset else []
        settings = _settings_overrides() if self.settings is None else self.settings.get(config_name, [])
        overrides = [*preset, *self.hydra_overrides, *overrides, *settings]
        cached = self.cache.get(config_name, overrides)
        if cached is not None:
            return cached
        if GlobalHydra.instance().is_initialized():  # inside a command: Hydra's own search path
            return self.cache.put(config_name, overrides, compose(config_name, overrides=overrides))
        with initialize_config_dir(str(conf_dir()), version_base="1.3"):
            return self.cache.put(config_name, overrides, compose(config_name, overrides=overrides))

    def _explain(self, config_name: str, error: HydraException) -> str:
        """A misspelt key gets the closest real one (Hydra would suggest adding it with `+`)."""
        unknown = re.search(r"Could not override '([^']+)'", str(error))
        if unknown and "defaults list" in str(error):
            command = config_name.replace("_", "-")
            return f"{unknown[1]}: `afuse {command}` has no {unknown[1]} config group, so it cannot be chosen here"
        if unknown:
            try:
                check_key(self._compose(config_name, []), unknown[1])
            except ConfigError as refused:
                return str(refused)
        return _hydra_message(error)


def _settings_overrides() -> list[str]:
    """This command line's data.* and trainer.* overrides: `afuse run` passes them on to every job
    (after the group's own), so a job's settings (job_settings) include them; run directories do
    not depend on them."""
    return starting_with(("data.", "trainer."))


def _hydra_message(error: HydraException) -> str:
    """Hydra's composition error as one line (an unknown option names the valid ones)."""
    text = str(error).split("Config search path:")[0]
    missing = re.search(r"Could not find '([^']+)'.*?Available options in '[^']+':(.*)", text, re.S)
    if missing:
        return f"{missing[1].replace('/', '=', 1)}: no such option; options: {' '.join(missing[2].split())}"
    return " ".join(text.split())


def hydra_overrides(cfg: DictConfig) -> list[str]:
    """The caller's Hydra settings that its jobs get too and that change composition: where a
    preset of the user's own is (hydra.searchpath, from the command line or a composed config)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return given_searchpath()
    searchpath = OmegaConf.select(cfg, "hydra.searchpath")
    return [f"hydra.searchpath=[{','.join(searchpath)}]"] if searchpath else []


def preset_names(searched: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The presets in conf/experiment/ and in the experiment/ folder of each directory of the
    `hydra.searchpath=[...]` overrides in `searched` (a user's own presets)."""
    return group_options("experiment", search_dirs(list(searched)))


def search_dirs(hydra_overrides: list[str]) -> list[Path]:
    """The directories of `hydra.searchpath=[file:///my/conf,...]` overrides."""
    return searchpath_dirs(parse_overrides(list(hydra_overrides)))


def preset_file(name: str, hydra_overrides: list[str]) -> Path | None:
    """The file `experiment=<name>` reads: in conf/experiment/ or a searched folder's experiment/."""
    return option_file("experiment", name, search_dirs(hydra_overrides))


def preset_error(source: Path | None, error: ConfigError) -> ConfigError:
    """A mistake in a preset, named by its file first (a preset made in code has none)."""
    return ConfigError(f"{source}: {error}") if source else error


def load_experiment(cfg: DictConfig, settings: dict[str, list[str]] | None = None) -> Experiment:
    """The jobs of the preset in `cfg` (composed with `experiment=<name>`); `settings`: see
    GroupComposer. A mistake in the preset raises a ConfigError that names its file and key."""
    requested = _requested_preset()
    name = requested or OmegaConf.select(cfg, "experiment.name")
    source = preset_file(str(name), hydra_overrides(cfg)) if name else None
    try:
        return _load_experiment(cfg, settings, requested, source)
    except ConfigError as error:
        raise preset_error(source, error) from error


def _load_experiment(cfg, settings, requested: str | None, source: Path | None) -> Experiment:
    if OmegaConf.select(cfg, "experiment.name") is None:
        if source:  # the file is there, but it lists no jobs under a named `experiment`
            raise ConfigError(
                f"experiment.name is missing; set it to {requested} (a preset's jobs, its report and its "
                "results folder go by that name: README, Writing a preset)"
            )
        # `optional experiment: null` in the primary configs makes Hydra skip an unknown name silently.
        problem = f"unknown experiment preset {requested!r}" if requested else "no experiment preset given"
        raise ConfigError(f"{problem}: pass experiment=<name>, one of: {' '.join(preset_names())}")
    spec = OmegaConf.to_container(cfg.experiment, resolve=True)
    if requested and spec["name"] != requested:  # its jobs' commands would look for `experiment=<name>`
        raise ConfigError(
            f"experiment.name is {spec['name']!r}, but the file is {requested}.yaml; "
            f"set experiment.name: {requested} (or rename the file)"
        )
    _check_keys(spec, PRESET_KEYS, "experiment")
    model, runs_root = str(cfg.model.name), Path(cfg.paths.runs)
    defaults = {"tasks": spec.get("tasks"), "seeds": spec.get("seeds")}
    register_resolvers()  # a fuse group's `task: ${task_spec:...}` resolves into its settings
    composer = GroupComposer(cfg, settings)
    groups: dict[str, Group] = {}
    for name, group_spec in _section(spec, "stage1", "command, tasks, seeds, overrides").items():
        where = f"experiment.stage1.{name}"
        groups[name] = _stage1_group(name, _mapping(group_spec, where), defaults, composer, where)
    for name, group_spec in _section(
        spec, "stage2", "sources, targets, seeds, source_seed, overrides"
    ).items():
        where = f"experiment.stage2.{name}"
        if name in groups:
            raise ConfigError(
                f"{where}: the name {name!r} is already a stage-1 group; group names are unique"
            )
        groups[name] = _stage2_group(name, _mapping(group_spec, where), defaults, groups, composer, where)
    if not groups:
        raise ConfigError(f"experiment {spec['name']}: no jobs; list job groups under experiment.stage1")
    _check_runs_apart(groups)
    composer.cache.save()
    description = str(spec.get("description") or "")
    data_root = Path(cfg.paths.data) if OmegaConf.select(cfg, "paths.data") else None
    report = spec.get("report") or {}
    if not isinstance(report, dict):
        raise ConfigError(
            f"experiment.report: expected a mapping (columns, comparisons, paper_table), got {report!r}"
        )
    return Experiment(str(spec["name"]), model, runs_root, groups, description, report, data_root, source)


def _section(spec: dict, key: str, group_keys: str) -> dict:
    section = spec.get(key) or {}
    if not isinstance(section, dict):
        raise ConfigError(
            f"experiment.{key}: expected a mapping of group name -> its settings ({group_keys}), got {section!r}"
        )
    return section


def _check_runs_apart(groups: dict[str, Group]) -> None:
    """Two groups whose jobs share a run directory would skip or overwrite each other's runs: the
    directory names the model, variant, task and seed, not trainer.* or data.* settings."""
    owners: dict[Path, Group] = {}
    for group in groups.values():
        for job in group.jobs:
            first = owners.setdefault(job.run_dir, group)
            if first is not group:
                raise ConfigError(
                    f"experiment.stage{group.stage}.{group.name}: writes the run directories of "
                    f"experiment.stage{first.stage}.{first.name} ({job.run_dir}); a run directory is named by "
                    f"model, variant ({group.variant}), task and seed, not by trainer.* or data.* settings: "
                    "keep one of the groups, or put the other settings in a preset of their own (its own paths.runs)"
                )


def preset_requested(cfg: DictConfig) -> bool:
    """Whether this command was given experiment=<name> (a known preset or not)."""
    return OmegaConf.select(cfg, "experiment.name") is not None or _requested_preset() is not None


def _requested_preset() -> str | None:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get("experiment") if HydraConfig.initialized() else None


# --- stage 1 ---------------------------------------------------------------------------------


def _stage1_group(name, spec, defaults, composer, where) -> Group:
    command = spec.get("command")
    if command not in STAGE1_COMMANDS:
        given = "missing" if command is None else f"{command!r} is not a stage-1 command"
        raise ConfigError(f"{where}.command: {given}; one of: {' '.join(STAGE1_COMMANDS)}")
    _check_keys(spec, {"command", "tasks", "seeds", "overrides"}, where)
    tasks = _task_list(*_setting(spec, defaults, "tasks", where))
    seeds = _seed_list(*_setting(spec, defaults, "seeds", where))
    lines = tuple(o.input_line for o in _parse_overrides(spec.get("overrides", []), f"{where}.overrides"))
    if command == TRAIN_MULTITASK:  # one run per seed over all of the group's tasks
        lines += (f"tasks=[{','.join(multitask_tasks_in_order(tasks))}]",)  # as the command records them
        job_cfg = composer.compose(command, [*lines, f"seed={seeds[0]}"], f"{where}.overrides")
        key = run_task(job_cfg, command)
        jobs = tuple(Job(name, command, 1, key, seed, run_dir(job_cfg, command, seed=seed)) for seed in seeds)
    else:
        job_cfg = composer.compose(
            command, [*lines, f"task={tasks[0]}", f"seed={seeds[0]}"], f"{where}.overrides"
        )
        jobs = tuple(
            Job(name, command, 1, task, seed, run_dir(job_cfg, command, task, seed))
            for task in tasks
            for seed in seeds
        )
    _check_values(job_cfg, where)
    return Group(
        name, 1, command, tasks, seeds, lines, variant(job_cfg, command), jobs, (), result_config(job_cfg)
    )


# --- stage 2 ---------------------------------------------------------------------------------


def _stage2_group(name, spec, defaults, groups, composer, where) -> Group:
    _check_keys(spec, {"sources", "targets", "seeds", "source_seed", "overrides"}, where)
    sources = _source_groups(spec.get("sources"), groups, f"{where}.sources")
    source_tasks = paper_order({t for g in sources for t in g.tasks})
    targets = _task_list(spec.get("targets", source_tasks), f"{where}.targets")
    seeds = _seed_list(*_setting(spec, defaults, "seeds", where))
    source_seed = spec.get("source_seed")
    if source_seed is not None and not isinstance(source_seed, int):
        raise ConfigError(
            f"{where}.source_seed: {source_seed!r} is not a seed (an integer, or null for the run's own seed)"
        )
    overrides = _parse_overrides(spec.get("overrides", []), f"{where}.overrides")
    adapters = MT_A if sources[0].is_multitask else "st_a"
    # The fuse command finds its sources' run directories from the same adapter settings.
    source_adapter = [line for line in sources[0].overrides if line.split("=")[0].split(".")[0] == "adapter"]
    lines = (f"adapters={adapters}", *source_adapter, *(o.input_line for o in overrides))
    lines += (f"fusion.sources=[{','.join(source_tasks)}]",)
    if source_seed is not None:
        lines += (f"fusion.source_seed={source_seed}",)
    job_cfg = composer.compose(
        FUSE, [*lines, f"target={targets[0]}", f"seed={seeds[0]}"], f"{where}.overrides"
    )
    _check_values(job_cfg, where)
    jobs = tuple(
        Job(
            name,
            FUSE,
            2,
            target,
            seed,
            run_dir(job_cfg, FUSE, target, seed),
            _needs(sources, source_tasks, job_cfg, seed, where),
        )
        for target in targets
        for seed in seeds
    )
    return Group(
        name,
        2,
        FUSE,
        targets,
        seeds,
        lines,
        variant(job_cfg, FUSE),
        jobs,
        tuple(source_tasks),
        result_config(job_cfg),
    )


def job_settings(group: Group, job: Job) -> dict:
    """The result-relevant settings `job`'s command saves in its config.yaml: the group's, with the
    job's seed, task (fuse: target) and per-task data limits (afuse.config.specialise_data)."""
    settings = copy.deepcopy(group.settings)
    settings["seed"] = job.seed
    if group.is_multitask:
        return settings
    settings["task"] = OmegaConf.to_container(task_config(job.task), resolve=True)
    if group.command == FUSE:
        settings["target"] = job.task
    data = settings.get("data", {})
    for split in ("train", "test"):
        data[f"max_{split}_examples"] = example_limit(group.settings.get("data", {}), job.task, split)
    data["per_task"] = {}
    return settings


def _source_groups(names, groups, where) -> list[Group]:
    names = [names] if isinstance(names, str) else names
    if not names:
        raise ConfigError(f"{where}: name the stage-1 group(s) whose adapters are fused, e.g. sources: st_a")
    found = []
    for name in names:
        group = groups.get(name)
        if group is None or group.stage != 1 or group.command == "finetune":
            options = [g.name for g in groups.values() if g.command in ("train-adapter", "train-multitask")]
            raise ConfigError(
                f"{where}: {name!r} is not a stage-1 adapter group; one of: {' '.join(options)}"
            )
        found.append(group)
    if len({g.variant for g in found}) > 1:
        raise ConfigError(
            f"{where}: the groups {names} train different adapters "
            f"({', '.join(sorted({g.variant for g in found}))}); Fusion fuses one kind"
        )
    if found[0].is_multitask and len(found) > 1:
        raise ConfigError(f"{where}: Fusion with MT-A fuses the adapters of one train-multitask group")
    return found


def _needs(
    sources: list[Group], source_tasks, job_cfg: DictConfig, seed: int, where: str
) -> tuple[Path, ...]:
    """The run directories of the adapters a Fusion job fuses: where `afuse fuse` will look for
    them (afuse.run_identity.source_run_dir), each of which must be a job of the source groups."""
    with open_dict(job_cfg):
        job_cfg.seed = seed
    written = {job.run_dir: job for g in sources for job in g.jobs}
    # An MT-A run holds all its adapters: it is the one thing a Fusion-with-MT-A job needs.
    tasks = source_tasks[:1] if sources[0].is_multitask else source_tasks
    needs = []
    for task in tasks:
        wanted = source_run_dir(job_cfg, task)
        if wanted not in written:
            groups = " ".join(g.name for g in sources)
            trained = {(job.task, job.seed) for g in sources for job in g.jobs}
            seed_needed = fused_adapter_seed(job_cfg)
            if sources[0].is_multitask or (task, seed_needed) in trained:
                raise ConfigError(
                    f"{where}: a Fusion run would look for its {task} adapter in {wanted}, but the source "
                    f"group(s) {groups} write it elsewhere; set the adapter the same way in both groups"
                )
            raise ConfigError(
                f"{where}: a Fusion run needs the {task} adapter of seed {seed_needed}, which the source group(s) "
                f"{groups} do not train; add the seed there or set source_seed to a seed they train"
            )
        needs.append(wanted)
    return tuple(needs)


# --- multirun lines --------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepLine:
    """The overrides of one `afuse <command> -m ...` run and the jobs it launches."""

    overrides: tuple[str, ...]
    jobs: tuple[Job, ...]


def sweep_lines(experiment: Experiment, group: Group, jobs: list[Job]) -> list[SweepLine]:
    """The fewest multirun lines that launch exactly `jobs` of `group`: tasks that lack the same
    seeds share a line (task=a,b seed=1,2), in the group's order."""
    wanted = set(jobs)
    seeds_by_task: dict[str, list[int]] = {}
    for job in group.jobs:
        if job in wanted:
            seeds_by_task.setdefault(job.task, []).append(job.seed)
    tasks_by_seeds: dict[tuple[int, ...], list[str]] = {}
    for task, seeds in seeds_by_task.items():
        tasks_by_seeds.setdefault(tuple(seeds), []).append(task)
    lines = []
    for seeds, tasks in tasks_by_seeds.items():
        overrides = [f"experiment={experiment.name}", *group.overrides]
        if group.sweep_key:
            overrides.append(f"{group.sweep_key}={','.join(tasks)}")
        overrides.append(f"seed={','.join(map(str, seeds))}")
        launched = tuple(
            job for job in group.jobs if job in wanted and job.task in tasks and job.seed in seeds
        )
        lines.append(SweepLine(tuple(overrides), launched))
    return lines


def launch_lines(
    experiment: Experiment, group: Group, jobs: list[Job], passed_on: tuple[str, ...] = ()
) -> list[str]:
    """The shell lines that launch `jobs` of `group`, with this command line's `passed_on` overrides."""
    return [
        shell_command(group.command, [*line.overrides, *passed_on])
        for line in sweep_lines(experiment, group, jobs)
    ]


# Hydra settings a preset's jobs need as well: the launcher and its settings, where the preset's
# configs are found, the jobs' environment, and how they log (the logging ones were the driver's
# alone). hydra.sweep.dir is afuse run's to place (afuse/commands/run.py).
FORWARDED_HYDRA = ("hydra/launcher", "hydra.launcher.", "hydra.searchpath", "hydra.verbose")
FORWARDED_HYDRA += ("hydra.output_subdir", "hydra/job_logging", "hydra.job_logging")
FORWARDED_HYDRA += ("hydra/hydra_logging", "hydra.hydra_logging", "hydra.sweep.subdir", "hydra.job.env_set")


def passed_on_overrides(own_keys: tuple[str, ...]) -> tuple[str, ...]:
    """The overrides of this command line that the preset's jobs must get too (model=, data.*,
    paths.*, trainer.*, the launcher): all but the command's own (`own_keys`; "run." is a prefix)."""

    def own(override: str) -> bool:
        given = given_key(override)
        return any(given == k or (k.endswith(".") and given.startswith(k)) for k in own_keys)

    task = [o for o in task_overrides() if not own(o)]
    return (*task, *(o for o in hydra_overrides_given() if o.lstrip("+~").startswith(FORWARDED_HYDRA)))


def shell_command(command: str, overrides: list[str], multirun: bool = True) -> str:
    """The command line a user types (quoted for a POSIX shell)."""
    return " ".join(["afuse", command, *(["-m"] if multirun else []), *map(shlex.quote, overrides)])


# --- validation helpers ----------------------------------------------------------------------


def _check_values(job_cfg: DictConfig, where: str) -> None:
    """The values the group's jobs would refuse when they start (trainer.lr=-1, a reduction factor
    wider than the model): refused here, before any job of the preset runs."""
    try:
        check_values(job_cfg)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from error


def _setting(spec: dict, defaults: dict, key: str, where: str) -> tuple:
    """A group's own `key` and where it was written, else the preset's `experiment.<key>`: an error
    names the key the user wrote."""
    return (spec[key], f"{where}.{key}") if key in spec else (defaults[key], f"experiment.{key}")


def _mapping(spec, where) -> dict:
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{where}: expected a mapping of settings (command, tasks, seeds, overrides), got {spec!r}"
        )
    return spec


def _check_keys(spec: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(allowed))}"
        )


def _task_list(tasks, where) -> tuple[str, ...]:
    if isinstance(tasks, str):
        tasks = [tasks]
    if not tasks:
        raise ConfigError(f"{where}: no tasks; list task names (or set experiment.tasks for every group)")
    valid = set(PAPER_TASKS) | set(task_names())
    for task in tasks:
        if task not in valid:
            raise ConfigError(f"{where}: unknown task {task!r}; valid tasks: {' '.join(paper_order(valid))}")
    if len(set(tasks)) != len(tasks):
        raise ConfigError(f"{where}: a task is listed twice: {tasks}")
    return tuple(tasks)


def _seed_list(seeds, where) -> tuple[int, ...]:
    if isinstance(seeds, int):
        seeds = [seeds]
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        other = "a group's own seeds" if where == "experiment.seeds" else "experiment.seeds for every group"
        raise ConfigError(
            f"{where}: expected a list of integer seeds like [1, 2] (or {other}), got {seeds!r}"
        )
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: a seed is listed twice: {seeds}")
    return tuple(seeds)


def _unreadable_override(line: str, before: str, error: HydraException) -> str:
    """Why Hydra cannot read `line`. A bare value after a key=value entry is most often YAML's
    doing: `[adapter.reduction_factor=2,64]` is the two entries `adapter.reduction_factor=2` and `64`."""
    if "=" not in line and not line.startswith("~") and "=" in before:
        return (
            f"{line!r} is not an override (key=value): YAML splits a [...] list at every comma, so "
            f"'{before},{line}' became two entries; a group takes one value per key (for a sweep, make "
            "one group per value), and a value holding a comma is quoted: 'key=[a,b]'"
        )
    return f"cannot read {line!r}: {parse_problem(error)}"


def _parse_overrides(lines, where) -> list[Override]:
    if isinstance(lines, str) or not isinstance(lines, list):
        raise ConfigError(
            f"{where}: expected a list of Hydra overrides like [adapter=houlsby], got {lines!r}"
        )
    parser, overrides = OverridesParser.create(), []
    for before, line in zip(["", *map(str, lines)], map(str, lines), strict=False):
        try:
            overrides += parser.parse_overrides([line])
        except HydraException as exc:
            raise ConfigError(f"{where}: {_unreadable_override(line, before, exc)}") from None
    for override in overrides:
        key = override.key_or_group
        reserved = RESERVED_KEYS.get(key) or (RESERVED_KEYS["paths"] if key.startswith("paths.") else None)
        if reserved:
            raise ConfigError(f"{where}: {override.input_line!r}: {reserved}")
        if override.is_sweep_override():
            raise ConfigError(f"{where}: {override.input_line!r} is a sweep; make one group per value")
    return overrides
