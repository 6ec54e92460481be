"""Config helpers: the task registry over conf/task/, resolvers, and validation with clear errors."""

from functools import cache

from omegaconf import DictConfig, OmegaConf, open_dict

from afuse.errors import ConfigError
from afuse.paths import conf_dir

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


def paper_order(tasks) -> list[str]:
    """Tasks in the row order of the paper's tables, others after them by name."""
    tasks = {str(t) for t in tasks}
    return [t for t in PAPER_TASKS if t in tasks] + sorted(tasks - set(PAPER_TASKS))


def task_names() -> list[str]:
    """Every task with a config in conf/task/, in the paper's order first."""
    present = {p.stem for p in (conf_dir() / "task").glob("*.yaml")}
    return [t for t in PAPER_TASKS if t in present] + sorted(present - set(PAPER_TASKS))


@cache
def _load_task(name: str) -> DictConfig:
    return OmegaConf.load(conf_dir() / "task" / f"{name}.yaml")


def task_config(name: str) -> DictConfig:
    """The config of task `name`; unknown names raise an error that lists the valid ones."""
    name = str(name)
    if name not in task_names():
        raise ConfigError(f"unknown task {name!r}; valid tasks: {' '.join(task_names())}")
    return _load_task(name).copy()


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
