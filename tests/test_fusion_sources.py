"""Which stage-1 runs a Fusion run fuses: a source run whose result does not read is refused;
adapter directories given by path are named after their task, and runs that hold no adapter refused."""

import json
import re

import pytest

from afuse.errors import AfuseError, ConfigError, MissingInputError
from afuse.fusion_sources import resolve_st_a_sources, source_by_path
from afuse.run_identity import source_run_dir
from tests.from_conf import compose_config
from tests.synthetic import write_run


@pytest.fixture
def fuse_cfg(tmp_path):
    cfg = compose_config(
        "fuse", ["model=tiny", "target=cb", "fusion.sources=[cb,rte]", f"paths.runs={tmp_path}"]
    )
    for task in ("cb", "rte"):
        run = write_run(source_run_dir(cfg, task), 0.5, kind="st_a")
        (run / "config.yaml").write_text("seed: 1\n")
    return cfg


def test_finished_source_runs_are_found_in_the_papers_order(fuse_cfg):
    # Listed as [cb, rte]: fused in the paper's order whatever the listed one (tests/commands/test_source_order.py).
    assert [s.name for s in resolve_st_a_sources(fuse_cfg)] == ["rte", "cb"]


@pytest.mark.parametrize(
    ("name", "content"),
    [("metrics.json", '{"test": {"accuracy": 0.5'), ("config.yaml", "seed: 1\ntask: [cb")],
)
def test_a_source_run_whose_result_does_not_read_is_refused_with_its_retrain_command(name, content, fuse_cfg):
    # A damaged run is not done (afuse status; train-adapter refuses to skip it): a Fusion built
    # on it would be a result over a run that afuse itself does not count as finished.
    run = source_run_dir(fuse_cfg, "rte")
    (run / name).write_text(content)
    with pytest.raises(AfuseError) as refused:
        resolve_st_a_sources(fuse_cfg)
    message = str(refused.value)
    assert refused.value.exit_code == 5
    assert f"{run}" in message and name in message
    assert "afuse train-adapter" in message and "task=rte force=true" in message


def adapter_dir(path):
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text("{}")
    return path


def test_a_stage1_run_directory_is_named_after_its_task(tmp_path):
    """Every run directory ends in seed<k>: two of them (rte's and cb's) were both named seed1 and
    refused as 'not distinct' after the data had been prepared."""
    stage1 = tmp_path / "runs" / "stage1" / "minilm" / "pfeiffer_rf16"
    rte = source_by_path(adapter_dir(stage1 / "rte" / "seed1"))
    cb = source_by_path(adapter_dir(stage1 / "cb" / "seed1"))
    assert (rte.name, cb.name) == ("rte", "cb")
    assert rte.adapter_dir == stage1 / "rte" / "seed1"


def test_an_adapterhub_directory_keeps_its_folder_name(tmp_path):
    assert source_by_path(adapter_dir(tmp_path / "hub" / "rte_pfeiffer")).name == "rte_pfeiffer"


def test_two_sources_of_one_name_are_refused_before_the_run_starts(fuse_cfg, tmp_path):
    # `afuse export` names an adapter's folder after its task: fusing it beside that task's own run
    # gave two sources named rte, refused by the fusion layer only once the run had started, which
    # left a failed run folder (listed by afuse status) for a run that can never exist.
    exported = adapter_dir(tmp_path / "export" / "rte")
    fuse_cfg.fusion.sources = ["cb", "rte", str(exported)]
    with pytest.raises(ConfigError) as refused:
        resolve_st_a_sources(fuse_cfg)
    message = str(refused.value)
    assert "rte" in message and str(exported) in message and str(source_run_dir(fuse_cfg, "rte")) in message


@pytest.mark.parametrize(
    ("parts", "what"),
    [
        (("stage2", "minilm", "dynamic_pfeiffer_rf16", "rte", "seed1"), "a stage-2 (fuse) run"),
        (("stage1", "minilm", "full", "rte", "seed1"), "a stage-1 full run"),
    ],
)
def test_a_run_without_an_adapter_is_refused_naming_what_it_is(tmp_path, parts, what):
    run = tmp_path.joinpath("runs", *parts)
    run.mkdir(parents=True)
    with pytest.raises(MissingInputError, match=re.escape(f"is {what}, which has no adapter to fuse")):
        source_by_path(run)


def test_an_mt_a_run_given_as_a_source_says_how_its_adapters_are_fused(tmp_path):
    """It said an MT-A run 'has no adapter to fuse', though it holds one per task: they are fused
    on top of its own encoder with adapters=mt_a."""
    run = tmp_path.joinpath("runs", "stage1", "minilm", "mt_a", "rte-cb", "seed1")
    run.mkdir(parents=True)
    with pytest.raises(MissingInputError) as error:
        source_by_path(run)
    assert "no adapter to fuse" not in str(error.value)
    assert "adapters=mt_a fusion.sources=[rte,cb] (and its model, seed and paths.runs)" in str(error.value)


def exported_adapter(root, model: str, encoder: bool):
    """An adapter folder of an `afuse export` (only what its export.json says matters here)."""
    adapter_dir(root / "cb")
    manifest = {"run": "runs/stage1/tiny/mt_a/rte-cb/seed1", "family": "bert", "model": {"name": model},
                "adapters": {"cb": "cb"}, "heads": {"cb": "cb"}, "fusion": None, "encoder": "encoder" if encoder else None, "encoder_trained": encoder}  # fmt: skip
    (root / "export.json").write_text(json.dumps(manifest))
    return root / "cb"


def fuse_over(tmp_path, source, model="tiny"):
    cfg = compose_config(
        "fuse", [f"model={model}", "target=cb", f"fusion.sources=[{source}]", f"paths.runs={tmp_path}/runs"]
    )
    return resolve_st_a_sources(cfg)


def test_an_adapter_exported_with_its_encoder_is_refused_as_a_source(tmp_path):
    """An exported MT-A adapter was fused on the plain base model: it was trained on its run's
    fine-tuned encoder, which fuse does not load under adapter directories."""
    source = exported_adapter(tmp_path / "export", "tiny", encoder=True)
    with pytest.raises(MissingInputError) as error:
        fuse_over(tmp_path, source)
    message = str(error.value)
    assert f"fusion.sources entry {source} was exported with the encoder it was trained on" in message
    assert "adapters=mt_a" in message and "runs/stage1/tiny/mt_a/rte-cb/seed1" in message


def test_an_adapter_exported_from_another_model_is_refused_as_a_source(tmp_path):
    source = exported_adapter(tmp_path / "export", "minilm", encoder=False)
    with pytest.raises(
        ConfigError,
        match=re.escape(f"fusion.sources entry {source} was exported from a run on model minilm, not tiny"),
    ):
        fuse_over(tmp_path, source)
    assert [s.name for s in fuse_over(tmp_path, source, model="minilm")] == ["cb"]


def test_an_adapter_exported_with_the_base_encoder_is_fused_on_the_base(tmp_path):
    # with_encoder=true on an ST-A run writes the base model's encoder: nothing fine-tuned to miss.
    source = exported_adapter(tmp_path / "export", "tiny", encoder=True)
    manifest = json.loads((tmp_path / "export" / "export.json").read_text())
    (tmp_path / "export" / "export.json").write_text(json.dumps({**manifest, "encoder_trained": False}))
    assert [s.name for s in fuse_over(tmp_path, source)] == ["cb"]


@pytest.mark.parametrize(
    ("args", "named"),
    [(["adapter=houlsby"], "adapter=houlsby (the MT-A run's: adapter=pfeiffer)"),
     (["adapter.reduction_factor=4"], "adapter.reduction_factor=4 (the MT-A run's: 16)")],
)  # fmt: skip
def test_adapter_settings_other_than_the_mt_a_runs_are_refused(tmp_path, args, named):
    """`afuse fuse adapters=mt_a adapter=houlsby` fused the MT-A run's Pfeiffer adapters and named
    the run `_attn-ffn`: the MT-A run is found whatever the adapter settings, which went unread."""
    from afuse.fusion_sources import check_source_adapters, resolve_mt_a

    common = ["model=tiny", "target=cb", "adapters=mt_a", "fusion.sources=[cb,rte]", f"paths.runs={tmp_path}"]
    mt_run = write_run(source_run_dir(compose_config("fuse", common), "cb"), 0.5, kind="mt_a")
    (mt_run / "config.yaml").write_text(
        "seed: 1\nadapter: {variant: pfeiffer, reduction_factor: 16, non_linearity: relu}\n"
    )
    same = compose_config("fuse", common)
    check_source_adapters(same, resolve_mt_a(same)[1])  # the same settings: fused
    cfg = compose_config("fuse", [*common, *args])
    with pytest.raises(ConfigError) as error:
        check_source_adapters(cfg, resolve_mt_a(cfg)[1])
    message = str(error.value)
    assert message.startswith(named)
    assert f": the adapters fused are those of the MT-A run {mt_run}, as it trained them" in message
    # What to give is written as a command line picks it: adapter=<variant>, not adapter.variant=.
    assert message.endswith(
        "give its settings (adapter=pfeiffer adapter.reduction_factor=16 adapter.non_linearity=relu) "
        "or leave these out"
    )


def test_adapter_settings_other_than_the_source_runs_are_refused(fuse_cfg, tmp_path):
    """`afuse fuse adapter.non_linearity=swish` fused the ReLU adapters of pfeiffer_rf16: the
    directory names the variant and reduction factor, not the non-linearity."""
    from afuse.fusion_sources import check_source_adapters

    for task in ("cb", "rte"):
        config = source_run_dir(fuse_cfg, task) / "config.yaml"
        config.write_text(
            "seed: 1\nadapter: {variant: pfeiffer, reduction_factor: 16, non_linearity: relu}\n"
        )
    check_source_adapters(fuse_cfg, resolve_st_a_sources(fuse_cfg))
    cfg = compose_config(
        "fuse",
        [
            "model=tiny",
            "target=cb",
            "fusion.sources=[cb,rte]",
            f"paths.runs={tmp_path}",
            "adapter.non_linearity=swish",
        ],
    )
    with pytest.raises(ConfigError) as error:
        check_source_adapters(cfg, resolve_st_a_sources(cfg))
    rte = source_run_dir(cfg, "rte")
    assert str(error.value).startswith(
        f"adapter.non_linearity=swish (the stage-1 run's: relu): the adapters fused are those of the stage-1 run {rte}"
    )


def test_an_adapter_folder_holding_a_seed_folder_is_still_a_folder(fuse_cfg, tmp_path):
    # A task name not on the search path names its stage-1 run when that run exists; an absolute
    # path was joined onto the runs tree as such a "task" too, and its seed1/ taken for the run.
    from afuse.fusion_sources import _names_a_task

    folder = tmp_path / "elsewhere" / "my-adapter"
    (folder / "seed1").mkdir(parents=True)
    assert not _names_a_task(fuse_cfg, str(folder), [])
    assert _names_a_task(fuse_cfg, "rte", [])  # a finished run of that name: a task's adapter
