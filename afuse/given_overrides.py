"""What the running command line gave, as Hydra recorded it: its overrides (`task=rte`,
`++data.per_task.rte.max_train_examples=10`) and its Hydra settings (`hydra.searchpath=[...]`).

Printed advice repeats some of them (a train-adapter line under a Fusion's "train them first"),
and checks ask whether a key was given. Outside a Hydra app (a command called from Python, a
test) nothing was given.
"""

from omegaconf import DictConfig

SEARCHPATH = "hydra.searchpath"


def _overrides() -> DictConfig | None:
    from hydra.core.hydra_config import HydraConfig  # Hydra's internals stay off import paths

    return HydraConfig.get().overrides if HydraConfig.initialized() else None


def task_overrides() -> list[str]:
    """The overrides as typed, in order."""
    overrides = _overrides()
    return list(overrides.task) if overrides is not None else []


def hydra_overrides() -> list[str]:
    """The `hydra.*` and `hydra/...` settings as typed."""
    overrides = _overrides()
    return list(overrides.hydra) if overrides is not None else []


def key(override: str) -> str:
    """`++data.seed=1` -> `data.seed`; `~trainer.lr` -> `trainer.lr`."""
    return override.split("=", 1)[0].lstrip("+~")


def keys_given() -> set[str]:
    return {key(override) for override in task_overrides()}


def starting_with(prefixes: tuple[str, ...]) -> list[str]:
    """The overrides whose text, after a `+`/`~` prefix, starts with one of `prefixes` (`data.`,
    `model=`)."""
    return [o for o in task_overrides() if o.lstrip("+~").startswith(prefixes)]


def searchpath() -> list[str]:
    """The given hydra.searchpath (where a researcher's own presets and tasks are): a printed
    command line needs it, or their names are unknown there."""
    return [o for o in hydra_overrides() if o.startswith(SEARCHPATH)]
