"""Parity with AdapterHub's `adapters` 1.3.0 on fixtures it produced itself
(experiments/make_adapterhub_fixtures.py): same weights, same inputs, logits to 1e-5."""

import json

import pytest
import torch
from safetensors.torch import load_file

from afuse.errors import ConfigError
from afuse.modeling.weights import load_state_file

from .conftest import FIXTURES

CASES = [
    "base_cls",
    "st_cls",
    "st_gelu_cls",
    "hb_cls",
    "lo_cls",
    "st_mc",
    "fusion_dynamic_cls",
    "fusion_static_cls",
]


def inputs(expected, kind):
    return {k.removeprefix(f"{kind}_"): v for k, v in expected.items() if k.startswith(f"{kind}_")}


def load_case(meta, make_model, case):
    """A model with the case's adapter or fusion (and its sources) and head, from the fixture files."""
    spec = meta["cases"][case]
    model = make_model()
    setup = spec["adapter"]
    if setup in meta["fusions"]:
        for source in meta["fusions"][setup]:
            model.load_adapter(source, FIXTURES / source)
        model.load_fusion(FIXTURES / setup)
        model.load_head("h", FIXTURES / f"head_{spec['head']}")
        model.set_active(fusion=True, head="h")
    else:
        if setup is not None:
            model.load_adapter(setup, FIXTURES / setup)
        model.load_head("h", FIXTURES / f"head_{spec['head']}")
        model.set_active(adapter=setup, head="h")
    return model.eval()


@pytest.mark.parametrize("case", CASES)
def test_logits_match_adapterhub(hub_fixture, case):
    meta, expected, make_model = hub_fixture
    model = load_case(meta, make_model, case)
    with torch.no_grad():
        logits = model(**inputs(expected, meta["cases"][case]["input"]))
    torch.testing.assert_close(logits, expected[case], atol=1e-5, rtol=0)
    # The cases differ from each other: an adapter or fusion that did nothing would not pass.
    if case != "base_cls" and meta["cases"][case]["input"] == "single":
        assert (logits - expected["base_cls"]).abs().max() > 1e-2


def test_activations_match_adapterhub_fusion_attentions(hub_fixture):
    meta, expected, make_model = hub_fixture
    model = load_case(meta, make_model, "fusion_dynamic_cls")
    with torch.no_grad(), model.capture_fusion_activations() as recorder:
        model(**inputs(expected, "single"))
    matrix = torch.tensor(recorder.matrix(), dtype=torch.float64)
    torch.testing.assert_close(matrix, expected["fusion_dynamic_activations"], atol=1e-6, rtol=0)
    assert recorder.tokens == int(expected["single_attention_mask"].sum())


def test_loaded_fusion_config(hub_fixture):
    meta, _, make_model = hub_fixture
    model = load_case(meta, make_model, "fusion_static_cls")
    assert model.fusion.spec.kind == "static" and model.fusion.sources == ["f1", "f2"]
    assert model.fusion.spec.score_dropout == pytest.approx(0.1)  # BERT's attention dropout, as AdapterHub


@pytest.mark.parametrize("name", ["st", "hb", "lo", "st_gelu"])
def test_export_reproduces_adapterhub_files(hub_fixture, tmp_path, name):
    """Our export of an imported adapter is AdapterHub's own file: same tensors under the same
    names, same config block; and it loads back to the same logits."""
    meta, expected, make_model = hub_fixture
    model = make_model()
    model.load_adapter(name, FIXTURES / name)
    model.save_adapter(name, tmp_path / name)

    theirs_path = next(
        p for p in (FIXTURES / name).iterdir() if p.name.startswith(("adapter.", "pytorch_adapter"))
    )
    theirs, ours = load_state_file(theirs_path), load_file(tmp_path / name / "adapter.safetensors")
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        assert torch.equal(ours[key], theirs[key]), key
    their_cfg = json.loads((FIXTURES / name / "adapter_config.json").read_text())
    our_cfg = json.loads((tmp_path / name / "adapter_config.json").read_text())
    assert our_cfg["config"] == their_cfg["config"]
    assert {k: our_cfg[k] for k in ("hidden_size", "model_class", "model_type", "name")} == {
        k: their_cfg[k] for k in ("hidden_size", "model_class", "model_type", "name")
    }

    again = make_model()
    again.load_adapter("x", tmp_path / name)
    for reloaded, original in zip(
        again.adapters["x"].parameters(), model.adapters[name].parameters(), strict=True
    ):
        assert torch.equal(reloaded, original)


def test_head_export_round_trip(hub_fixture, tmp_path):
    meta, expected, make_model = hub_fixture
    model = make_model()
    model.load_head("cls", FIXTURES / "head_cls")
    model.save_head("cls", tmp_path / "hub_head", labels=["a", "b", "c"])
    model.save_head("cls", tmp_path / "head.safetensors")
    theirs = load_state_file(FIXTURES / "head_cls" / "pytorch_model_head.bin")
    ours = load_file(tmp_path / "hub_head" / "model_head.safetensors")
    assert sorted(ours) == sorted(theirs) and all(torch.equal(ours[k], theirs[k]) for k in theirs)
    for path in (tmp_path / "hub_head", tmp_path / "head.safetensors"):
        other = make_model()
        other.load_head("cls", path)
        assert all(
            torch.equal(a, b)
            for a, b in zip(other.heads["cls"].parameters(), model.heads["cls"].parameters(), strict=True)
        )


def test_fusion_save_load_round_trip(hub_fixture, tmp_path):
    meta, expected, make_model = hub_fixture
    model = load_case(meta, make_model, "fusion_dynamic_cls")
    model.save_fusion(tmp_path / "fusion.safetensors")
    other = make_model()
    for source in meta["fusions"]["fusion_dynamic"]:
        other.load_adapter(source, FIXTURES / source)
    other.load_fusion(tmp_path / "fusion.safetensors")
    other.heads["h"] = model.heads["h"]
    other.set_active(fusion=True, head="h")
    with torch.no_grad():
        logits = other.eval()(**inputs(expected, "single"))
    torch.testing.assert_close(logits, expected["fusion_dynamic_cls"], atol=1e-5, rtol=0)
    assert other.fusion.spec == model.fusion.spec


def test_bin_files_are_read_without_unpickling_code(tmp_path):
    """A .bin that needs arbitrary unpickling is refused, not executed."""

    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "pytorch_adapter.bin"
    torch.save({"x": Payload()}, path)
    with pytest.raises(ConfigError, match="refused to unpickle"):
        load_state_file(path)


def test_unsupported_adapterhub_config_is_refused(tmp_path):
    from afuse.modeling.adapterhub import spec_from_config

    with pytest.raises(ConfigError, match="ln_after"):
        spec_from_config({"original_ln_before": True, "ln_after": True})
    with pytest.raises(ConfigError, match="invertible"):
        spec_from_config({"original_ln_before": True, "invertible_adapter": {"block_type": "nice"}})
    spec, leave_out = spec_from_config({"original_ln_before": True, "reduction_factor": {"default": 8}})
    assert (spec.variant, spec.reduction_factor, leave_out) == ("pfeiffer", 8, [])
