"""result_check's config.yaml check reads YAML with libyaml (fast, for `afuse status` over many
runs): it must refuse what OmegaConf.load, which the settings check on a rerun uses, refuses."""

import pytest
from omegaconf import DictConfig, OmegaConf

from afuse.result_check import config_damage

TEXTS = {
    "valid": "seed: 1\ntrainer:\n  lr: 1.0e-4\n  max_epochs: 3\n",
    "truncated inside a flow list": "seed: 1\ntask:\n  labels: [entailment, contra",
    "a repeated key": "seed: 1\ntrainer:\n  lr: 0.1\n  lr: 0.2\n",
    "a repeated top-level key": "seed: 1\nseed: 2\n",
    "bad indentation": "seed: 1\n  trainer: 2\n- x\n",
    "not UTF-8": b"seed: 1\ntask: \xff\xfe\n",
    "a list, not a mapping": "- seed\n- 1\n",
    "a tab where YAML forbids one": "seed: 1\n\ttrainer: 2\n",
}


def omegaconf_reads_a_mapping(path) -> bool:
    try:
        return isinstance(OmegaConf.load(path), DictConfig)
    except Exception:
        return False


@pytest.mark.parametrize("name", TEXTS)
def test_the_config_check_agrees_with_omegaconf(name, tmp_path):
    path = tmp_path / "config.yaml"
    text = TEXTS[name]
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    damage = config_damage(path)
    assert (damage is None) == omegaconf_reads_a_mapping(path), damage
    if damage:
        assert damage.startswith("config.yaml: ")


def test_a_missing_config_is_not_damage(tmp_path):
    assert config_damage(tmp_path / "config.yaml") is None
