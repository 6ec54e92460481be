"""afuse.run_identity: a run's directory from its composed config, and the paths read back."""

from pathlib import Path

import pytest
from omegaconf import open_dict

from afuse.config import PAPER_TASKS
from afuse.errors import ConfigError
from afuse.fusion_sources import Source, check_sites
from afuse.run_identity import parse_run_dir, run_dir, source_run_dir, variant
from tests.from_conf import compose_config


def composed(command: str, *overrides: str):
    return compose_config(command.replace("-", "_"), ["paths.runs=/r", "model=tiny", *overrides])


@pytest.mark.parametrize(
    ("command", "overrides", "expected"),
    [
        ("train-adapter", ["task=rte", "seed=2"], "/r/stage1/tiny/pfeiffer_rf16/rte/seed2"),
        (
            "train-adapter",
            ["task=cb", "adapter=houlsby", "adapter.reduction_factor=2.5"],
            "/r/stage1/tiny/houlsby_rf2.5/cb/seed1",
        ),
        ("finetune", ["task=rte", "mode=head"], "/r/stage1/tiny/head/rte/seed1"),
        ("finetune", ["task=rte", "mode=full", "seed=3"], "/r/stage1/tiny/full/rte/seed3"),
        ("train-multitask", ["tasks=[cb,rte,mnli]"], "/r/stage1/tiny/mt_a/mnli-rte-cb/seed1"),
        ("train-multitask", [], "/r/stage1/tiny/mt_a/all16/seed1"),
        ("fuse", ["target=rte"], "/r/stage2/tiny/dynamic_pfeiffer_rf16/rte/seed1"),
        ("fuse", ["target=rte", "fusion=static", "adapters=mt_a"], "/r/stage2/tiny/static_mt_a/rte/seed1"),
        ("fuse", ["target=rte", "adapter=houlsby"], "/r/stage2/tiny/dynamic_houlsby_rf16_attn-ffn/rte/seed1"),
        (
            "fuse",
            ["target=rte", "adapter=houlsby", "fusion.sites=ffn"],
            "/r/stage2/tiny/dynamic_houlsby_rf16/rte/seed1",
        ),
        (
            "fuse",
            ["target=cb", "fusion.skip_last_layer=true"],
            "/r/stage2/tiny/dynamic_pfeiffer_rf16_skiplast/cb/seed1",
        ),
    ],
)
def test_run_dir_of_each_command(command, overrides, expected):
    assert run_dir(composed(command, *overrides), command) == Path(expected)


def test_a_source_subset_gets_a_hash_of_its_sorted_names():
    one = variant(composed("fuse", "target=rte", "fusion.sources=[rte,cb]"), "fuse")
    same = variant(composed("fuse", "target=rte", "fusion.sources=[cb,rte]"), "fuse")
    other = variant(composed("fuse", "target=rte", "fusion.sources=[rte,mnli]"), "fuse")
    everything = variant(composed("fuse", "target=rte", f"fusion.sources=[{','.join(PAPER_TASKS)}]"), "fuse")
    assert one == same != other and one.startswith("dynamic_pfeiffer_rf16_src-") and len(one) == len(other)
    assert everything == "dynamic_pfeiffer_rf16"


def test_sources_are_the_stage1_runs_of_the_same_adapter_and_source_seed():
    cfg = composed("fuse", "target=rte", "seed=3", "adapter.reduction_factor=64", "fusion.source_seed=1")
    assert source_run_dir(cfg, "mnli") == run_dir(
        composed("train-adapter", "task=mnli", "adapter.reduction_factor=64"), "train-adapter"
    )
    mt_a = composed("fuse", "target=rte", "adapters=mt_a", "fusion.sources=[rte,cb]")
    assert source_run_dir(mt_a, "cb") == Path("/r/stage1/tiny/mt_a/rte-cb/seed1")


def test_unknown_settings_name_the_valid_ones():
    cfg = composed("finetune", "task=rte", "mode=head")
    cfg.mode = "half"
    with pytest.raises(ConfigError, match="valid: full, head"):
        run_dir(cfg, "finetune")
    cfg = composed("fuse", "target=rte")
    with open_dict(cfg):
        cfg.adapters = "both"
    with pytest.raises(ConfigError, match="valid: st_a, mt_a"):
        run_dir(cfg, "fuse")


def test_paths_read_back_into_their_parts():
    parsed = parse_run_dir("/x/runs/stage2/tiny/dynamic_pfeiffer_rf16/rte/seed12")
    assert (parsed.root, parsed.stage, parsed.model, parsed.variant, parsed.task, parsed.seed) == (
        Path("/x/runs"),
        2,
        "tiny",
        "dynamic_pfeiffer_rf16",
        "rte",
        12,
    )
    assert parse_run_dir("/x/runs/stage1/tiny/head/rte/latest") is None
    assert parse_run_dir("/x/other/tiny/head/rte/seed1") is None


def _adapter_dir(tmp_path, name: str, variant_name: str) -> Path:
    """An adapter directory as a user passes one by path (the format save_adapter writes)."""
    from afuse.modeling import AdapterSpec
    from tests.modeling.conftest import tiny_model

    model = tiny_model()
    model.add_adapter(name, AdapterSpec(variant_name))
    model.save_adapter(name, tmp_path / name)
    return tmp_path / name


def test_sources_given_by_path_must_sit_where_the_name_says(tmp_path):
    houlsby = Source("h", _adapter_dir(tmp_path, "h", "houlsby"))
    pfeiffer = Source("p", _adapter_dir(tmp_path, "p", "pfeiffer"))
    check_sites(composed("fuse", "target=rte", "adapter=houlsby"), [houlsby])
    check_sites(composed("fuse", "target=rte"), [houlsby, pfeiffer])  # fused after the FFN: both have it
    with pytest.raises(ConfigError, match="adapter=houlsby for adapters after attention"):
        check_sites(composed("fuse", "target=rte"), [houlsby])
    with pytest.raises(ConfigError, match="fused at ffn, but adapter=houlsby names a fusion at attn"):
        check_sites(composed("fuse", "target=rte", "adapter=houlsby"), [houlsby, pfeiffer])
