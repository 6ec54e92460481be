"""Experiment presets -> jobs: counts per stage, run directories, dependencies, multirun lines."""

import copy
from functools import cache
from pathlib import Path

import pytest
from omegaconf import OmegaConf, open_dict

from afuse.config import PAPER_TASKS
from afuse.errors import ConfigError
from afuse.experiment import load_experiment, preset_names, shell_command, sweep_lines
from afuse.run_identity import multitask_key, run_dir, source_run_dir
from tests.from_conf import compose_config

RUNS = "/runs"


@cache  # composing takes a few hundred ms; tests only read the result (custom_experiment copies it)
def preset_config(name: str, command: str = "status", *overrides: str):
    return compose_config(command, [f"experiment={name}", f"paths.runs={RUNS}", *overrides])


def custom_experiment(spec: dict, model: str = "minilm"):
    """A preset's config with its `experiment` node replaced by `spec`."""
    cfg = copy.deepcopy(preset_config("cpu_small"))
    with open_dict(cfg):
        cfg.experiment = OmegaConf.create({"name": "custom", **spec})
        cfg.model.name = model
    return cfg


def counts(experiment) -> dict[int, int]:
    return {stage: len(experiment.jobs(stage)) for stage in (1, 2)}


def test_every_preset_is_listed():
    files = sorted(
        p.stem for p in (Path(__file__).resolve().parents[1] / "conf" / "experiment").glob("*.yaml")
    )
    assert preset_names() == files and {"cpu_small", "paper_table1", "paper_table3", "paper_table4"} <= set(
        files
    )


@pytest.mark.parametrize(
    ("preset", "model", "stage1", "stage2", "groups"),
    [
        # 4 x 16 tasks x 3 seeds (Head, Full, ST-A, Houlsby) + 3 MT-A runs; 2 Fusion x 16 x 3
        ("paper_table1", "bert-base-uncased", 4 * 16 * 3 + 3, 2 * 16 * 3, 7),
        ("paper_table3", "bert-base-uncased", 3 * 16 * 3, 0, 3),
        ("paper_table4", "roberta-base", 6 * 16 * 3, 16 * 3, 7),
        # ST-A on 4 tasks + Head on 3, one seed; Fusion for 3 targets
        ("cpu_small", "minilm", 4 + 3, 3, 3),
        # ST-A: 11 sources x 1 seed + 4 targets x 3 seeds; Fusion for the 4 targets x 3 seeds
        ("cpu_minilm_full", "minilm", 11 + 4 * 3, 4 * 3, 3),
    ],
)
def test_job_counts_per_stage(preset, model, stage1, stage2, groups):
    experiment = load_experiment(preset_config(preset))
    assert experiment.name == preset
    assert experiment.model == model
    assert counts(experiment) == {1: stage1, 2: stage2}
    assert len(experiment.groups) == groups
    assert len({job.run_dir for job in experiment.jobs()}) == stage1 + stage2  # no two jobs share a run


def test_presets_keep_their_runs_apart():
    roots = {load_experiment(preset_config(name)).runs_root for name in preset_names()}
    assert len(roots) == 1  # here every preset is redirected to RUNS ...
    cfg = compose_plain("status", "experiment=paper_table3")
    assert cfg.paths.runs == "runs/paper_table3"  # ... by default each has its own tree


@cache
def compose_plain(command: str, *overrides: str):
    return compose_config(command, list(overrides))


def test_preset_settings_reach_every_training_command():
    for command, extra in [
        ("train-adapter", "task=rte"),
        ("finetune", "task=rte"),
        ("fuse", "target=rte"),
        ("train-multitask", None),
        ("status", None),
        ("report", None),
        ("run", None),
    ]:
        cfg = compose_plain(command.replace("-", "_"), "experiment=cpu_small", *([extra] if extra else []))
        assert cfg.model.name == "minilm", command
        assert cfg.paths.runs == "runs/cpu_small", command
        assert cfg.experiment.name == "cpu_small", command
    cfg = compose_plain("train_adapter", "experiment=cpu_small", "task=rte")
    assert cfg.data.source == "local" and cfg.data.max_train_examples == 400
    assert cfg.trainer.max_epochs == 3 and cfg.trainer.lr == 1.0e-4  # the stage preset's lr is kept


def test_cpu_small_raw_dir_can_be_moved(monkeypatch):
    monkeypatch.setenv("AFUSE_RAW_DIR", "/data/raw")
    cfg = compose_plain("train_adapter", "experiment=cpu_small", "task=rte")
    assert cfg.data.raw_dir == "/data/raw"
    monkeypatch.delenv("AFUSE_RAW_DIR")
    assert compose_plain("train_adapter", "experiment=cpu_small", "task=rte").data.raw_dir == "../shared/data"


def test_paper_table1_run_dirs_follow_the_contract():
    experiment = load_experiment(preset_config("paper_table1"))
    groups = experiment.groups
    root = Path(RUNS)
    assert groups["head"].jobs[0].run_dir == root / "stage1/bert-base-uncased/head/mnli/seed1"
    assert groups["full"].jobs[-1].run_dir == root / "stage1/bert-base-uncased/full/cb/seed3"
    assert groups["st_a"].variant == "pfeiffer_rf16"
    assert groups["st_a_houlsby"].variant == "houlsby_rf16"
    assert [j.run_dir for j in groups["mt_a"].jobs] == [
        root / f"stage1/bert-base-uncased/mt_a/all16/seed{k}" for k in (1, 2, 3)
    ]
    assert (
        groups["fusion_st_a"].jobs[0].run_dir
        == root / "stage2/bert-base-uncased/dynamic_pfeiffer_rf16/mnli/seed1"
    )
    assert groups["fusion_mt_a"].jobs[0].run_dir == root / "stage2/bert-base-uncased/dynamic_mt_a/mnli/seed1"


def test_fusion_jobs_need_their_sources_of_the_same_seed():
    experiment = load_experiment(preset_config("paper_table1"))
    rte_seed2 = next(j for j in experiment.groups["fusion_st_a"].jobs if j.task == "rte" and j.seed == 2)
    assert len(rte_seed2.needs) == 16
    assert Path(RUNS) / "stage1/bert-base-uncased/pfeiffer_rf16/mnli/seed2" in rte_seed2.needs
    mt_a_job = experiment.groups["fusion_mt_a"].jobs[0]
    assert mt_a_job.needs == (Path(RUNS) / "stage1/bert-base-uncased/mt_a/all16/seed1",)
    assert all(not job.needs for job in experiment.jobs(1))


def job_config(experiment, group, job, *extra: str):
    """The config `afuse run` launches `job` with: its sweep line, with the job's own task and seed."""
    (line,) = [line for line in sweep_lines(experiment, group, [job])]
    sweep = (f"{group.sweep_key}=", "seed=")
    single = [o for o in line.overrides if not o.startswith(sweep)]
    own = [f"{group.sweep_key}={job.task}"] if group.sweep_key else []
    return compose_plain(
        group.command.replace("-", "_"), f"paths.runs={RUNS}", *extra, *single, *own, f"seed={job.seed}"
    )


@pytest.mark.parametrize("preset", preset_names())
def test_every_job_is_where_its_command_writes(preset):
    """A preset's run directories are the ones its jobs' commands compute from their own configs."""
    experiment = load_experiment(preset_config(preset))
    for group in experiment.groups.values():
        job = group.jobs[-1]
        assert run_dir(job_config(experiment, group, job), group.command) == job.run_dir
        if group.command == "fuse":  # and the fused adapters are where the stage-1 jobs write them
            cfg = job_config(experiment, group, job)
            assert {source_run_dir(cfg, t) for t in group.sources} == set(job.needs)


def test_multirun_lines_group_tasks_with_the_same_missing_seeds():
    experiment = load_experiment(preset_config("paper_table1"))
    group = experiment.groups["st_a"]
    pending = [j for j in group.jobs if (j.task in ("rte", "cb") and j.seed == 3) or j.task == "mrpc"]
    lines = sweep_lines(experiment, group, pending)
    commands = [shell_command(group.command, list(line.overrides)) for line in lines]
    assert commands == [
        "afuse train-adapter -m experiment=paper_table1 adapter=pfeiffer adapter.reduction_factor=16 task=mrpc seed=1,2,3",
        "afuse train-adapter -m experiment=paper_table1 adapter=pfeiffer adapter.reduction_factor=16 task=rte,cb seed=3",
    ]
    assert [len(line.jobs) for line in lines] == [3, 2]
    assert sum(len(line.jobs) for line in sweep_lines(experiment, group, list(group.jobs))) == 48


def test_fuse_and_multitask_lines_carry_their_wiring():
    experiment = load_experiment(preset_config("paper_table1"))
    fuse = experiment.groups["fusion_mt_a"]
    (line,) = sweep_lines(experiment, fuse, list(fuse.jobs))
    assert line.overrides[:3] == ("experiment=paper_table1", "adapters=mt_a", "adapter=pfeiffer")
    assert f"fusion.sources=[{','.join(PAPER_TASKS)}]" in line.overrides
    assert line.overrides[-2:] == (f"target={','.join(PAPER_TASKS)}", "seed=1,2,3")
    mt_a = experiment.groups["mt_a"]
    (line,) = sweep_lines(experiment, mt_a, list(mt_a.jobs))
    assert f"tasks=[{','.join(PAPER_TASKS)}]" in line.overrides
    assert not any(o.startswith("task=") for o in line.overrides)


def test_multitask_key():
    assert multitask_key(list(reversed(PAPER_TASKS))) == "all16"
    assert multitask_key(["rte", "mnli", "cb"]) == "mnli-rte-cb"  # the paper's order, not the listed one


def test_source_seed_points_every_fusion_seed_at_one_adapter_seed():
    cfg = custom_experiment(
        {
            "stage1": {
                "targets": {"command": "train-adapter", "tasks": ["rte", "cb"], "seeds": [1, 2, 3]},
                "others": {"command": "train-adapter", "tasks": ["mnli"], "seeds": [1]},
            },
            "stage2": {
                "fusion": {
                    "sources": ["targets", "others"],
                    "targets": ["rte", "cb"],
                    "seeds": [1, 2, 3],
                    "source_seed": 1,
                }
            },
        }
    )
    experiment = load_experiment(cfg)
    fusion = experiment.groups["fusion"]
    assert {needed.name for job in fusion.jobs for needed in job.needs} == {"seed1"}
    assert "fusion.source_seed=1" in fusion.overrides
    assert fusion.sources == ("mnli", "rte", "cb")


@pytest.mark.parametrize(
    ("adapter", "fusion_overrides", "suffix"),
    [
        ("houlsby", [], "_attn-ffn"),  # Houlsby sources: fused at both sites by default
        ("houlsby", ["fusion.sites=ffn"], ""),  # after the FFN only: the name such runs had before
        ("pfeiffer", [], ""),  # one site either way
    ],
)
def test_fusion_run_names_say_where_the_fusion_sits(adapter, fusion_overrides, suffix):
    """The preset names the run directory as `afuse fuse` does (afuse.run_identity.fusion_variant)."""
    stage1 = {
        "command": "train-adapter",
        "tasks": ["rte", "cb"],
        "seeds": [1],
        "overrides": [f"adapter={adapter}"],
    }
    cfg = custom_experiment(
        {
            "stage1": {"st_a": stage1},
            "stage2": {"fusion": {"sources": "st_a", "seeds": [1], "overrides": fusion_overrides}},
        }
    )
    variant = load_experiment(cfg).groups["fusion"].variant
    prefix = f"dynamic_{adapter}_rf16_src-"
    assert variant.startswith(prefix) and variant == prefix + variant[len(prefix) : len(prefix) + 6] + suffix


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"stage1": {"a": {"command": "train", "tasks": ["rte"], "seeds": [1]}}},
            "experiment.stage1.a.command: 'train' is not a stage-1 command",
        ),
        (
            {"stage1": {"a": {"command": "train-adapter", "tasks": ["rtee"], "seeds": [1]}}},
            "experiment.stage1.a.tasks: unknown task 'rtee'",
        ),
        (
            {"stage1": {"a": {"command": "train-adapter", "tasks": ["rte"]}}},
            "experiment.seeds: expected a list of integer seeds like [1, 2] (or a group's own seeds), got None",
        ),
        (
            {
                "stage1": {
                    "a": {"command": "train-adapter", "tasks": ["rte"], "seeds": [1], "overrides": ["seed=2"]}
                }
            },
            "experiment.stage1.a.overrides: 'seed=2': list the seeds under `seeds`",
        ),
        (
            {
                "stage1": {
                    "a": {
                        "command": "train-adapter",
                        "tasks": ["rte"],
                        "seeds": [1],
                        "overrides": ["adapter.reduction_factor=2,16"],
                    }
                }
            },
            "is a sweep; make one group per value",
        ),
        (  # `overrides: [adapter.reduction_factor=2,64]` in YAML: the comma split the entry in two
            {
                "stage1": {
                    "a": {
                        "command": "train-adapter",
                        "tasks": ["rte"],
                        "seeds": [1],
                        "overrides": ["adapter.reduction_factor=2", "64"],
                    }
                }
            },
            "experiment.stage1.a.overrides: '64' is not an override (key=value): YAML splits a [...] list "
            "at every comma, so 'adapter.reduction_factor=2,64' became two entries",
        ),
        (
            {
                "stage1": {
                    "a": {
                        "command": "train-adapter",
                        "tasks": ["rte"],
                        "seeds": [1],
                        "overrides": ["trainer.lr=1e-3]"],
                    }
                }
            },
            "experiment.stage1.a.overrides: cannot read 'trainer.lr=1e-3]': extraneous input ']'",
        ),
        (
            {
                "stage1": {
                    "a": {
                        "command": "train-adapter",
                        "tasks": ["rte"],
                        "seeds": [1],
                        "overrides": ["adapter=big"],
                    }
                }
            },
            "adapter=big: no such option; options: houlsby pfeiffer",
        ),
        (
            {
                "stage1": {
                    "a": {
                        "command": "train-adapter",
                        "tasks": ["rte"],
                        "seeds": [1],
                        "overrides": ["adapter.reduction_fator=2"],
                    }
                }
            },
            "unknown key adapter.reduction_fator (no config defines it, so it would be ignored); "
            "did you mean adapter.reduction_factor?",
        ),
        (
            {
                "stage1": {
                    "a": {
                        "command": "train-adapter",
                        "tasks": ["rte"],
                        "seeds": [1],
                        "overrides": ["mode=head"],
                    }
                }
            },
            "experiment.stage1.a.overrides: mode: `afuse train-adapter` has no mode config group",
        ),
        (
            {"stage1": {"a": {"command": "train-adapter", "tasks": ["rte"], "seeds": [1], "epochs": 3}}},
            "experiment.stage1.a: unknown key(s) epochs",
        ),
        (
            {
                "stage1": {"a": {"command": "train-adapter", "tasks": ["rte"], "seeds": [1]}},
                "stage2": {"f": {"sources": "b", "seeds": [1]}},
            },
            "experiment.stage2.f.sources: 'b' is not a stage-1 adapter group; one of: a",
        ),
        (
            {
                "stage1": {"a": {"command": "train-adapter", "tasks": ["rte"], "seeds": [1]}},
                "stage2": {"f": {"sources": "a", "seeds": [1, 2]}},
            },
            "needs the rte adapter of seed 2, which the source group(s) a do not train",
        ),
        ({"stage1": {}}, "experiment custom: no jobs"),
    ],
)
def test_bad_presets_name_the_key(spec, message):
    with pytest.raises(ConfigError, match=None) as error:
        load_experiment(custom_experiment(spec))
    assert message in str(error.value)
    assert "\n" not in str(error.value)  # one line, as every preset mistake


HOULSBY_PRESET = """# @package _global_
defaults:
  - override /model: tiny
adapter: {variant: houlsby, reduction_factor: 8}  # tiny: hidden size 32, a bottleneck of 4
experiment:
  name: houlsby_everywhere
  tasks: [rte, cb]
  seeds: [1]
  stage1:
    st_a: {command: train-adapter}
    head: {command: finetune, overrides: [mode=head]}
  stage2:
    fusion: {sources: st_a}
"""


def test_a_preset_may_set_the_adapter_for_every_job(tmp_path):
    """Presets may set adapter (fusion, mode) themselves: each group is composed by Hydra."""
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "houlsby_everywhere.yaml").write_text(HOULSBY_PRESET)
    searchpath = f"hydra.searchpath=[file://{tmp_path}]"
    cfg = compose_config(
        "status", ["experiment=houlsby_everywhere", f"paths.runs={RUNS}", searchpath], with_hydra=True
    )
    experiment = load_experiment(cfg)
    assert experiment.groups["st_a"].variant == "houlsby_rf8"
    assert experiment.groups["head"].variant == "head"
    fusion = experiment.groups["fusion"]
    assert fusion.variant.startswith("dynamic_houlsby_rf8_src-") and fusion.variant.endswith("_attn-ffn")
    for group in experiment.groups.values():
        job = group.jobs[0]
        command_cfg = job_config(experiment, group, job, searchpath)
        assert run_dir(command_cfg, group.command) == job.run_dir


def test_no_preset_lists_the_presets():
    with pytest.raises(ConfigError, match=f"pass experiment=<name>, one of: {' '.join(preset_names())}$"):
        load_experiment(compose_plain("status"))


def test_cpu_small_keeps_the_directories_it_always_had():
    experiment = load_experiment(compose_plain("status", "experiment=cpu_small"))
    root = "runs/cpu_small/stage"
    expected = [
        *(f"{root}1/minilm/pfeiffer_rf16/{t}/seed1" for t in ("sst2", "mrpc", "rte", "cb")),
        *(f"{root}1/minilm/head/{t}/seed1" for t in ("mrpc", "rte", "cb")),
        *(f"{root}2/minilm/dynamic_pfeiffer_rf16_src-c50b5f/{t}/seed1" for t in ("mrpc", "rte", "cb")),
    ]
    assert [str(job.run_dir) for job in experiment.jobs()] == expected


def test_cpu_minilm_jobs_are_its_committed_runs():
    """Every job of the preset is a finished run in the committed records, and every committed
    run is a job: the preset still names the directories its runs were written to."""
    repo = Path(__file__).resolve().parents[1]
    experiment = load_experiment(compose_plain("status", "experiment=cpu_minilm"))
    jobs = {(repo / job.run_dir).resolve() for job in experiment.jobs()}
    committed = {
        p.parent.resolve() for p in (repo / "results/cpu_minilm/runs").glob("stage*/*/*/*/seed*/metrics.json")
    }
    assert len(jobs) == 59 and jobs == committed


# What the paper states for each kind of run (section 4.1, 5 and appendices A.2, A.4, A.5), as the
# trainer, adapter and fusion settings the paper presets' jobs get. A change to conf/trainer/*,
# conf/adapter/*, conf/fusion/* or a preset that departs from the paper fails here.
ST_A_TRAINING = {"lr": 1.0e-4, "max_epochs": 30}  # 4.1: lr 0.0001, AdamW, linear decay, <= 30 epochs
FUSION_TRAINING = {"lr": 5.0e-5, "max_epochs": 10}  # 4.1: lr 5e-5, <= 10 epochs


def paper_group_settings(preset: str) -> dict:
    """{group: the config afuse run gives the group's last job} for a paper preset."""
    experiment = load_experiment(preset_config(preset))
    return {name: job_config(experiment, group, group.jobs[-1]) for name, group in experiment.groups.items()}


def assert_st_a(cfg, variant: str, reduction_factor: int):
    assert (cfg.adapter.variant, cfg.adapter.reduction_factor) == (variant, reduction_factor)
    assert {k: cfg.trainer[k] for k in ST_A_TRAINING} == ST_A_TRAINING
    assert 0 < cfg.trainer.patience < cfg.trainer.max_epochs  # early stopping


def assert_fusion(cfg, target: str):
    assert {k: cfg.trainer[k] for k in FUSION_TRAINING} == FUSION_TRAINING
    assert 0 < cfg.trainer.patience < cfg.trainer.max_epochs  # early stopping
    assert cfg.fusion.kind == "dynamic" and cfg.fusion.temperature == 1.0  # Q, K and V; plain softmax
    assert cfg.fusion.regularization > 0  # 4.1: V regularised towards the identity
    assert not cfg.fusion.skip_last_layer  # every layer fused (dropping the last is section 8.2's outlook)
    # 3.1: the target's own adapter is among the N sources (m in 1..N), here all 16 tasks
    assert sorted(cfg.fusion.sources) == sorted(PAPER_TASKS) and target in cfg.fusion.sources


def test_paper_table1_jobs_get_the_papers_settings():
    groups = paper_group_settings("paper_table1")
    assert {cfg.model.name for cfg in groups.values()} == {"bert-base-uncased"}  # 4.1
    assert_st_a(groups["st_a"], "pfeiffer", 16)  # Table 1: ST-A with reduction factor 16
    assert groups["st_a"].adapter.non_linearity == "relu"
    assert_st_a(groups["st_a_houlsby"], "houlsby", 16)  # 5: twice the parameters of ST-A
    assert (groups["head"].mode, groups["full"].mode) == ("head", "full")
    mt_a = groups["mt_a"]  # 4.1: one MT-A model on all datasets simultaneously, S&M's annealed sampling
    assert list(mt_a.tasks) == PAPER_TASKS and mt_a.sampling == "anneal"
    assert mt_a.adapter.variant == "pfeiffer"  # A.2: one adapter at the top position, as S&M
    assert_fusion(groups["fusion_st_a"], "cb")
    assert_fusion(groups["fusion_mt_a"], "cb")
    assert (groups["fusion_st_a"].adapters, groups["fusion_mt_a"].adapters) == ("st_a", "mt_a")


def test_paper_table3_jobs_are_st_a_at_reduction_factors_2_16_64():
    groups = paper_group_settings("paper_table3")
    assert {cfg.model.name for cfg in groups.values()} == {"bert-base-uncased"}
    for rf in (2, 16, 64):
        assert_st_a(groups[f"st_a_rf{rf}"], "pfeiffer", rf)


def test_paper_table4_jobs_are_table1s_setups_on_roberta_base():
    groups = paper_group_settings("paper_table4")
    assert {cfg.model.name for cfg in groups.values()} == {"roberta-base"}  # A.5
    for rf in (2, 16, 64):
        assert_st_a(groups[f"st_a_rf{rf}"], "pfeiffer", rf)
    assert_st_a(groups["st_a_houlsby"], "houlsby", 16)
    fusion = groups["fusion_st_a_rf16"]
    assert_fusion(fusion, "cb")
    assert fusion.adapter.reduction_factor == 16  # F. w/ ST-A16
