"""Config helpers: the task registry over conf/task/, resolvers, and validation with clear errors."""

import sys
from functools import cache
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from afuse.errors import ConfigError
from afuse.paths import conf_dir
from afuse.task_check import check_task_config

# The paper's 16 tasks, in the row order of its Table 1.
PAPER_TASKS = [
    "mnli",
    "qqp",
    "sst2",
    "winogrande",
    "imdb",
    "hellaswag",
    "siqa",
    "cosmosqa",
    "scitail",
    "argument",
    "csqa",
    "boolq",
    "mrpc",
    "sick",
    "rte",
    "cb",
]


# Said wherever a task name is not found: a researcher's own task is found only where its folder is given.
OWN_TASK_HINT = "a task of your own: add hydra.searchpath=[file:///<dir>] for its <dir>/task/<name>.yaml"


def paper_order(tasks) -> list[str]:
    """Tasks in the row order of the paper's tables, others after them by name."""
    tasks = {str(t) for t in tasks}
    return [t for t in PAPER_TASKS if t in tasks] + sorted(tasks - set(PAPER_TASKS))


def task_names() -> list[str]:
    """Every task with a config in conf/task/ or a user's own task/ folder, the paper's order first."""
    present = set(task_files())
    return [t for t in PAPER_TASKS if t in present] + sorted(present - set(PAPER_TASKS))


def own_conf_dirs() -> list[Path]:
    """Config folders the running command was given besides afuse's own (`hydra.searchpath=[file:///my/conf]`,
    `--config-dir`): a researcher's own tasks and presets live there. Outside a command: none."""
    hydra_config = sys.modules.get("hydra.core.hydra_config")  # not loaded: no command is running
    if hydra_config is None or not hydra_config.HydraConfig.initialized():
        return []
    sources = hydra_config.HydraConfig.get().runtime.config_sources
    own = conf_dir().resolve()
    return [Path(s.path) for s in sources if s.schema == "file" and Path(s.path).resolve() != own]


def task_files() -> dict[str, Path]:
    """Task name -> its config file. A user's task named like one of afuse's would be shadowed by
    afuse's (Hydra reads its own conf/ first), so that is refused rather than trained on silently."""
    files = {p.stem: p for p in (conf_dir() / "task").glob("*.yaml")}
    for folder in own_conf_dirs():
        for path in sorted((folder / "task").glob("*.yaml")):
            if path.stem in files:
                raise ConfigError(
                    f"task config {path} is named {path.stem!r} like {files[path.stem]}, which afuse reads "
                    f"instead; give your task another name (file and name:, e.g. my_{path.stem})"
                )
            files[path.stem] = path
    return files


@cache
def _load_task(path: Path) -> DictConfig:
    task = OmegaConf.load(path)
    check_task_config(task, path)
    return task


def task_config(name: str) -> DictConfig:
    """The config of task `name`; unknown names raise an error that lists the valid ones."""
    name = str(name)
    files = task_files()
    if name not in files:
        raise ConfigError(f"unknown task {name!r}; valid tasks: {' '.join(task_names())} ({OWN_TASK_HINT})")
    return _load_task(files[name]).copy()


def recorded_task_config(cfg: DictConfig, task: str) -> DictConfig:
    """The settings of one of an MT-A run's tasks as it was trained with them (config.yaml's
    task_configs); for a run made before that record, the task's config as it is now."""
    recorded = cfg.get("task_configs")
    if recorded is not None and task in recorded:
        return recorded[task]
    return task_config(task)


def task_file_shown(name: str) -> str:
    """Where task `name` is configured, for messages: conf/task/<name>.yaml, or a user's own file."""
    path = task_files().get(str(name))
    return str(path) if path and path.parent.parent != conf_dir() else f"conf/task/{name}.yaml"


def check_composed_task(task: DictConfig, name: str) -> None:
    """A task composed by Hydra from the task group (task=<name>): the same checks as task_config's."""
    check_task_config(task, task_files()[name])


def require_task(cfg: DictConfig) -> DictConfig:
    """cfg.task, or an error saying how to choose one (the group defaults to null so --help works)."""
    if cfg.get("task") is None:
        raise ConfigError(f"no task given: add task=<name>; valid tasks: {' '.join(task_names())}")
    return cfg.task


def example_limit(data_cfg: DictConfig, task: str, split: str) -> int | None:
    """data.max_<split>_examples, or its per-task value under data.per_task.<task>."""
    key = f"max_{split}_examples"
    per_task = (data_cfg.get("per_task") or {}).get(task) or {}
    name = f"data.per_task.{task}.{key}" if key in per_task else f"data.{key}"
    limit = per_task.get(key, data_cfg.get(key))
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"{name} must be an integer >= 1 or null (got {limit!r}); e.g. {name}=1000")
    return limit


def specialise_data(cfg: DictConfig, task: str) -> None:
    """Resolve data.per_task for a one-task run into data.max_*_examples, so its saved config (and
    the check on rerun) holds only what applies to it, not other tasks' sizes."""
    with open_dict(cfg):
        for split in ("train", "test"):
            cfg.data[f"max_{split}_examples"] = example_limit(cfg.data, task, split)
        cfg.data.per_task = {}


def register_resolvers() -> None:
    """`${task_spec:rte}` in a config expands to conf/task/rte.yaml (used by `afuse fuse target=`);
    `${afuse_groups:train_adapter}` lists the config groups a command reads (its --help)."""
    if not OmegaConf.has_resolver("task_spec"):
        OmegaConf.register_new_resolver("task_spec", task_config)
    if not OmegaConf.has_resolver("afuse_groups"):
        from afuse.overrides import groups_help

        OmegaConf.register_new_resolver("afuse_groups", groups_help)
