"""Which settings beside `run=<dir>` apply when evaluate and predict rebuild a run, and refusing
the rest: a run is scored with the model, data and task settings it was trained with (its
config.yaml), so a setting that would change them was ignored without a word.

    check_settings(cfg)            # ConfigError (exit 2) naming a setting that would not be used
    command_line_data(cfg)         # the data.* typed on the command line: these do apply
    adapterhub_model(cfg)          # the base model of adapterhub=<dir>

With file=<path> the file's rows are scored as they are: data.* (which say how a task's splits
are read and sampled) are refused. Per setting, with run=:
    data.* on the command line     apply to its splits (data.raw_dir= for data that moved; README)
    model=, model.*                refused unless they are the run's own
    task.*                         refused (task=<name> only picks an MT-A run's task)
    experiment=<preset>            accepted where its model and data settings are the run's own,
                                   refused naming those that differ (trainer.*: training only)
With adapterhub=<dir>, model= is the base model, except for an adapter `afuse export` wrote: the
base export.json records (its encoder/ for MT-A) is used, and another model setting refused.
"""

from omegaconf import DictConfig, OmegaConf

from afuse.config import specialise_data
from afuse.errors import ConfigError
from afuse.export_manifest import exported_base
from afuse.given_overrides import key as given_key
from afuse.given_overrides import task_overrides
from afuse.run_model import read_run
from afuse.runs import same_setting

_FOR_ADAPTERHUB = "(they are for adapterhub=<dir>)"


def command_line_data(cfg: DictConfig) -> dict:
    """The data.* keys set on this command line: they override a run's own data settings."""
    keys = [given_key(o) for o in task_overrides()]
    return {k.removeprefix("data."): OmegaConf.select(cfg, k) for k in keys if k.startswith("data.")}


def check_settings(cfg: DictConfig) -> None:
    """Refuse what the command line or a preset sets that this command would not use."""
    given = task_overrides()
    data_settings = [o for o in given if given_key(o).startswith("data.")]
    if cfg.file.path and data_settings:
        raise ConfigError(
            f"{data_settings[0]}: with file= the file's rows are scored as they are; data.* settings "
            "say how a task's splits are read and sampled (split=), so leave it out"
        )
    if cfg.run:
        _check_run_settings(cfg, given)


def adapterhub_model(cfg: DictConfig) -> DictConfig:
    """The base model for adapterhub=<dir>: model= as given; for an adapter of an afuse export,
    the model its export.json records (its exported encoder where it has one), other settings refused."""
    exported = exported_base(cfg.adapterhub)
    own = exported.model_config() if exported and not exported.is_fusion else None
    if own is None:  # not an afuse export, or one older than its model record without an encoder
        return cfg.model
    name = own["name"]
    on = f"adapterhub={cfg.adapterhub} was exported from a run on model {name} (its export.json)" + (
        ", and is scored on the encoder exported beside it" if exported.encoder else ""
    )
    for override in task_overrides():
        key, _, value = override.lstrip("+~").partition("=")
        if key.split(".")[0] == "model" and (key != "model" or value != name):
            raise ConfigError(f"{override}: {on}, so model settings do not apply to it; leave it out")
    preset = _preset_name()
    if preset and str(cfg.model.name) != name and not any(given_key(o) == "model" for o in task_overrides()):
        raise ConfigError(f"experiment={preset} sets model={cfg.model.name}: {on}; add model={name}")
    return OmegaConf.create(own)


def _check_run_settings(cfg: DictConfig, given: list[str]) -> None:
    """Refuse what the command line or a preset sets that rebuilding `cfg.run` would not use."""
    task_settings = [o for o in given if given_key(o).startswith("task.")]
    if task_settings:
        raise ConfigError(
            f"{task_settings[0]}: a run is scored with the task settings it was trained with (its "
            f"config.yaml), so task.* do not apply to run= {_FOR_ADAPTERHUB}; leave it out"
        )
    model_settings = [o for o in given if given_key(o).split(".")[0] == "model"]
    preset = _preset_name()
    if not model_settings and not preset:
        return  # the common case: the run is read once, by load_run
    own = read_run(cfg.run)[1]
    for override in model_settings:
        key, _, value = override.lstrip("+~").partition("=")
        if key.startswith("model.") or value != str(own.model.name):
            raise ConfigError(
                f"{override}: a run is rebuilt on the model it was trained on ({own.model.name}), so model "
                f"settings do not apply to run= {_FOR_ADAPTERHUB}; leave it out"
            )
    if preset:
        _check_preset(cfg, own, preset, {given_key(o) for o in given})


def _check_preset(cfg: DictConfig, own: DictConfig, name: str, given: set[str]) -> None:
    """A preset's model and data settings where they differ from the run's (data keys typed on the
    command line excepted: those apply); its trainer.* and paths.runs are for training."""
    differences = [] if any(k.split(".")[0] == "model" for k in given) else _model_differences(cfg, own)
    if not cfg.file.path:  # a file's rows are read without the data settings
        differences += _data_differences(cfg, own, given)
    if differences:
        more = f" and {len(differences) - 3} more" if len(differences) > 3 else ""
        raise ConfigError(
            f"experiment={name} sets {', '.join(differences[:3])}{more}: a run is scored with the settings it was "
            f"trained with, so a preset's do not apply to run= {_FOR_ADAPTERHUB}; leave experiment= out "
            "(data.* on the command line do apply)"
        )


def _model_differences(cfg: DictConfig, own: DictConfig) -> list[str]:
    if str(cfg.model.name) != str(own.model.name):
        return [f"model={cfg.model.name} (the run's: {own.model.name})"]
    return [
        f"model.{key}={value} (the run's: {own.model[key]})"
        for key, value in _shared_items(cfg.model, own.model)
    ]


def _data_differences(cfg: DictConfig, own: DictConfig, given: set[str]) -> list[str]:
    if own.get("data") is None:
        return []
    return [
        f"data.{key}={value} (the run's: {own.data[key]})"
        for key, value in _shared_items(_as_saved(cfg.data, own), own.data)
        if f"data.{key}" not in given and not any(g.startswith(f"data.{key}.") for g in given)
    ]


def _as_saved(data: DictConfig, own: DictConfig) -> DictConfig:
    """The preset's data settings as a one-task run saves them: its task's per-task limits resolved
    and per_task emptied (afuse.config.specialise_data), so cpu_small's `per_task: {cb: ...}` is not
    a difference from the very runs it trained. MT-A runs keep per_task as given."""
    task = OmegaConf.select(own, "task.name")
    if task is None or own.get("tasks") is not None:
        return data
    saved = OmegaConf.create({"data": OmegaConf.to_container(data, resolve=True)})
    specialise_data(saved, str(task))
    return saved.data


def _shared_items(ours: DictConfig, theirs: DictConfig) -> list[tuple[str, object]]:
    """(key, our value) of the keys both configs have, where the values differ."""
    mine = OmegaConf.to_container(ours, resolve=True)
    other = OmegaConf.to_container(theirs, resolve=True)
    return [
        (key, value)
        for key, value in mine.items()
        if key in other and not same_setting(key, value, other[key])
    ]


def _preset_name() -> str | None:
    """The experiment= preset this command composed (a preset need not have an experiment block)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    choice = HydraConfig.get().runtime.choices.get("experiment")
    return None if choice in (None, "null") else str(choice)
