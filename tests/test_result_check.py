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


FINISHED_CONFIG = "seed: 1\ntask:\n  name: cb\nmodel:\n  name: tiny\n"


@pytest.mark.parametrize(
    ("metrics", "config", "said"),
    [
        ('{"test": {"accuracy": 0.5', FINISHED_CONFIG, "metrics.json: not readable JSON"),
        ('{"test": {"accuracy": 0.5}}', "seed: 1\ntask: [cb", "config.yaml: not readable YAML"),
        ('{"test": {"accuracy": 0.5}}', "seed: 1\nforce: false\npaths:\n  data: d\n", "lacks model, task"),
    ],
    ids=["metrics-cut-short", "config-cut-inside-a-value", "config-cut-at-a-line"],
)
def test_evaluate_and_export_refuse_a_finished_run_whose_records_do_not_read(metrics, config, said, tmp_path):
    from afuse.export import export_run
    from afuse.inference.rebuild import read_run
    from afuse.result_check import DamagedResultError

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(metrics)
    (run / "config.yaml").write_text(config)
    for read in (read_run, lambda run: export_run(run, tmp_path / "out")):
        with pytest.raises(DamagedResultError) as refused:
            read(run)
        assert str(run) in str(refused.value) and said in str(refused.value)
        assert "force=true" in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_a_finished_runs_records_are_read(tmp_path):
    from afuse.result_check import read_finished_run

    (tmp_path / "metrics.json").write_text('{"test": {"accuracy": 0.5}}')
    (tmp_path / "config.yaml").write_text(FINISHED_CONFIG)
    cfg, metrics = read_finished_run(tmp_path)
    assert cfg.task.name == "cb" and metrics["test"]["accuracy"] == 0.5


@pytest.mark.parametrize(
    "metrics, damage",
    [
        ({"test": {"accuracy": 0.7}}, None),
        ({"test": {"accuracy": 70.0}}, "metrics.json: test.accuracy 70.0 is not a fraction in [0, 1]"),
        ({"test": {"accuracy": True}}, "metrics.json: no test accuracy (test.accuracy)"),
        # MT-A: the report reads each task's accuracy
        ({"test": {"accuracy": 0.7}, "tasks": {"rte": {"test": {"accuracy": 0.6}}}}, None),
        (
            {"test": {"accuracy": 0.7}, "tasks": {"rte": {"test": {}}}},
            "no test accuracy (tasks.rte.test.accuracy)",
        ),
        (
            {"test": {"accuracy": 0.7}, "tasks": {"rte": {"test": {"accuracy": -0.1}}}},
            "tasks.rte.test.accuracy -0.1",
        ),
    ],
)
def test_a_metrics_file_without_a_fraction_for_each_reported_accuracy_is_damaged(metrics, damage, tmp_path):
    import json

    from afuse.result_check import result_damage

    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    found = result_damage(tmp_path, weights=False)
    assert found == damage if damage is None else damage in found
