"""Test settings read from the conf/ files, with only what a test needs overridden: a change to
conf/trainer/default.yaml or conf/model/tiny.yaml reaches the tests instead of a copy of it."""

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from afuse.paths import conf_dir


def compose_config(config_name: str, overrides: list[str], with_hydra: bool = False) -> DictConfig:
    """The config `afuse <command> <overrides>` runs with, composed by Hydra as the CLI does
    (`with_hydra`: with the hydra node, e.g. the search path of a preset kept elsewhere)."""
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose(config_name, overrides=overrides, return_hydra_config=with_hydra)


def conf_file(group: str, option: str) -> DictConfig:
    """conf/<group>/<option>.yaml as it is written."""
    return OmegaConf.load(conf_dir() / group / f"{option}.yaml")


def _with_overrides(cfg: DictConfig, overrides: dict) -> DictConfig:
    # Struct mode, as Hydra composes it: overriding a key the file lacks is a typo, not a setting.
    OmegaConf.set_struct(cfg, True)
    return OmegaConf.merge(cfg, overrides)


def trainer_settings(**overrides) -> DictConfig:
    """conf/trainer/default.yaml (the settings every stage shares) with `overrides`."""
    return _with_overrides(conf_file("trainer", "default"), overrides)


def tiny_bert_settings(**overrides) -> dict:
    """The architecture of model=tiny (conf/model/tiny.yaml's `config`) with `overrides`, as
    keyword arguments of transformers' BertConfig / RobertaConfig."""
    return OmegaConf.to_container(_with_overrides(conf_file("model", "tiny").config, overrides))
