"""Parity with AdapterHub's `adapters` 1.3.0 on fixtures it produced itself
(experiments/make_adapterhub_fixtures.py), for a tiny BERT and a tiny RoBERTa: same weights,
same inputs, logits to 1e-5; both directions (the library's files read by afuse, and afuse's
files read by the library with its default calls)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from afuse.errors import ConfigError
from afuse.modeling import AdapterSpec
from afuse.modeling.adapterhub import read_head
from afuse.modeling.weights import load_state_file

CASES = [
    "base_cls",
    "st_cls",
    "st_gelu_cls",
    "st_tanh_cls",
    "st_mish_cls",
    "hb_cls",
    "hb_gelu_new_cls",
    "lo_cls",
    "st_mc",
    "st_cls1",
    "st_linear",
    "fusion_dynamic_cls",
    "fusion_static_cls",
    "fusion_houlsby_cls",
]


def inputs(expected, kind):
    return {k.removeprefix(f"{kind}_"): v for k, v in expected.items() if k.startswith(f"{kind}_")}


def load_case(hub_fixture, case):
    """A model with the case's adapter or fusion (and its sources) and head, from the fixture files."""
    meta, _, make_model, root = hub_fixture
    spec = meta["cases"][case]
    model = make_model()
    setup = spec["adapter"]
    if setup in meta["fusions"]:
        for source in meta["fusions"][setup]:
            model.load_adapter(source, root / source)
        model.load_fusion(root / setup)
        model.load_head("h", root / spec["head"])
        model.set_active(fusion=True, head="h")
    else:
        if setup is not None:
            model.load_adapter(setup, root / setup)
        model.load_head("h", root / spec["head"])
        model.set_active(adapter=setup, head="h")
    return model.eval()


def test_fixtures_cover_every_case(hub_fixture):
    assert sorted(hub_fixture[0]["cases"]) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_logits_match_adapterhub(hub_fixture, case):
    meta, expected, _, _ = hub_fixture
    model = load_case(hub_fixture, case)
    with torch.no_grad():
        logits = model(**inputs(expected, meta["cases"][case]["input"]))
    torch.testing.assert_close(logits, expected[case], atol=1e-5, rtol=0)
    # The cases differ from each other: an adapter or fusion that did nothing would not pass.
    if (
        case != "base_cls"
        and meta["cases"][case]["input"] == "single"
        and meta["cases"][case]["head"] == "head_cls"
    ):
        assert (logits - expected["base_cls"]).abs().max() > 1e-2


def test_houlsby_fusion_is_loaded_at_both_sites(hub_fixture):
    model = load_case(hub_fixture, "fusion_houlsby_cls")
    assert model.fusion.positions == ("attn", "ffn") and model.fusion.spec.sites == "all"
    # Without the attention sites the model is another function (the difference the library makes).
    meta, expected, _, _ = hub_fixture
    with torch.no_grad():
        del model.fusion.attention_layers
        model.fusion.positions = ("ffn",)
        ffn_only = model(**inputs(expected, "single"))
    assert (ffn_only - expected["fusion_houlsby_cls"]).abs().max() > 1e-3


@pytest.mark.parametrize("fusion", ["fusion_dynamic", "fusion_houlsby"])
def test_activations_match_adapterhub_fusion_attentions(hub_fixture, fusion):
    meta, expected, _, _ = hub_fixture
    model = load_case(hub_fixture, f"{fusion}_cls")
    with torch.no_grad(), model.capture_fusion_activations() as recorder:
        model(**inputs(expected, "single"))
    for position in model.fusion.positions:
        matrix = torch.tensor(recorder.matrix(position), dtype=torch.float64)
        torch.testing.assert_close(matrix, expected[f"{fusion}_activations_{position}"], atol=1e-6, rtol=0)
    assert recorder.tokens == int(expected["single_attention_mask"].sum())
    sites = {k.rsplit("_", 1)[1] for k in expected if k.startswith(f"{fusion}_activations_")}
    assert sites == set(model.fusion.positions)


def test_loaded_fusion_config(hub_fixture):
    model = load_case(hub_fixture, "fusion_static_cls")
    assert model.fusion.spec.kind == "static" and model.fusion.sources == ["f1", "f2"]
    assert model.fusion.spec.score_dropout == pytest.approx(0.1)  # the attention dropout, as AdapterHub


@pytest.mark.parametrize("name", ["st", "hb", "lo", "st_gelu", "st_tanh", "hb_gelu_new"])
def test_export_reproduces_adapterhub_files(hub_fixture, tmp_path, name):
    """Our export of an imported adapter is AdapterHub's own file: same tensors under the same
    names, same config block, in both weight files; and it loads back to the same weights."""
    meta, expected, make_model, root = hub_fixture
    model = make_model()
    model.load_adapter(name, root / name)
    model.save_adapter(name, tmp_path / name)

    theirs_path = next(
        p for p in (root / name).iterdir() if p.name.startswith(("adapter.", "pytorch_adapter"))
    )
    theirs = load_state_file(theirs_path)
    for ours_name in ("adapter.safetensors", "pytorch_adapter.bin"):
        ours = load_state_file(tmp_path / name / ours_name)
        assert sorted(ours) == sorted(theirs)
        assert all(torch.equal(ours[key], theirs[key]) for key in theirs)
    their_cfg = json.loads((root / name / "adapter_config.json").read_text())
    our_cfg = json.loads((tmp_path / name / "adapter_config.json").read_text())
    assert our_cfg["config"] == their_cfg["config"]
    keys = ("hidden_size", "model_class", "model_type", "name")
    assert {k: our_cfg[k] for k in keys} == {k: their_cfg[k] for k in keys}

    again = make_model()
    again.load_adapter("x", tmp_path / name)
    for reloaded, original in zip(
        again.adapters["x"].parameters(), model.adapters[name].parameters(), strict=True
    ):
        assert torch.equal(reloaded, original)


@pytest.mark.parametrize("head", ["head_cls", "head_mc", "head_cls1", "head_linear"])
def test_head_export_round_trip(hub_fixture, tmp_path, head):
    meta, expected, make_model, root = hub_fixture
    model = make_model()
    model.load_head("h", root / head)
    model.save_head("h", tmp_path / "hub_head")
    model.save_head("h", tmp_path / "head.safetensors")
    their_name = json.loads((root / head / "head_config.json").read_text())["name"]
    theirs = load_state_file(next((root / head).glob("*head*")))
    theirs = {k.split(".", 2)[2]: v for k, v in theirs.items() if k.startswith(f"heads.{their_name}.")}
    for ours_name in ("model_head.safetensors", "pytorch_model_head.bin"):
        ours = {k.split(".", 2)[2]: v for k, v in load_state_file(tmp_path / "hub_head" / ours_name).items()}
        assert sorted(ours) == sorted(theirs) and all(torch.equal(ours[k], theirs[k]) for k in theirs)
    their_cfg = json.loads((root / head / "head_config.json").read_text())["config"]
    our_cfg = json.loads((tmp_path / "hub_head" / "head_config.json").read_text())["config"]
    keys = ("head_type", "layers", "num_labels", "num_choices", "use_pooler", "bias")
    keys += ("activation_function",) if their_cfg["layers"] == 2 else ()  # unused in a 1-layer head
    assert {k: our_cfg.get(k) for k in keys} == {k: their_cfg.get(k) for k in keys}
    for path in (tmp_path / "hub_head", tmp_path / "head.safetensors"):
        other = make_model()
        other.load_head("h", path)
        assert all(
            torch.equal(a, b)
            for a, b in zip(other.heads["h"].parameters(), model.heads["h"].parameters(), strict=True)
        )


@pytest.mark.parametrize("fusion", ["fusion_dynamic", "fusion_static", "fusion_houlsby"])
def test_fusion_save_load_round_trip(hub_fixture, tmp_path, fusion):
    """afuse's own file and AdapterHub's directory format both reload to the library's logits;
    the directory holds the library's weight names (of this fusion only) and its config."""
    meta, expected, make_model, root = hub_fixture
    model = load_case(hub_fixture, f"{fusion}_cls")
    model.save_fusion(tmp_path / "fusion.safetensors")
    model.save_fusion(tmp_path / "hub_fusion")
    name = ",".join(meta["fusions"][fusion])
    theirs = {
        k: v for k, v in load_state_file(next((root / fusion).glob("*fusion.*"))).items() if f".{name}." in k
    }
    for ours_name in ("model_adapter_fusion.safetensors", "pytorch_model_adapter_fusion.bin"):
        ours = load_state_file(tmp_path / "hub_fusion" / ours_name)
        assert sorted(ours) == sorted(theirs) and all(torch.equal(ours[k], theirs[k]) for k in theirs)
    their_cfg = json.loads((root / fusion / "adapter_fusion_config.json").read_text())
    our_cfg = json.loads((tmp_path / "hub_fusion" / "adapter_fusion_config.json").read_text())
    assert {**our_cfg["config"], "dropout_prob": None} == their_cfg["config"]
    assert our_cfg["adapter_names"] == their_cfg["adapter_names"] and our_cfg["name"] == their_cfg["name"]
    for path in (tmp_path / "fusion.safetensors", tmp_path / "hub_fusion"):
        other = make_model()
        for source in meta["fusions"][fusion]:
            other.load_adapter(source, root / source)
        other.load_fusion(path)
        other.heads["h"] = model.heads["h"]
        other.set_active(fusion=True, head="h")
        with torch.no_grad():
            logits = other.eval()(**inputs(expected, "single"))
        torch.testing.assert_close(logits, expected[f"{fusion}_cls"], atol=1e-5, rtol=0)
        assert other.fusion.spec == model.fusion.spec


def test_library_reads_afuse_exports_with_its_default_calls(hub_fixture, tmp_path):
    """afuse_export/ was written by afuse (experiments/export_for_adapterhub_check.py) and loaded
    by the library with load_adapter(dir) / load_adapter_fusion(dir), which read the .bin files
    and the heads in them; library_logits holds the library's logits. Here: afuse writes the
    same files today (so the library's check covers the current writer), and afuse's logits on
    them agree with the library's to 1e-5."""
    meta, expected, make_model, root = hub_fixture
    export = root / "afuse_export"
    manifest = json.loads((export / "export.json").read_text())
    library = load_file(export / "library_logits.safetensors")
    assert sorted(library) == sorted(manifest["cases"])
    for case, spec in manifest["cases"].items():
        model = make_model()
        names = [d.rsplit("/", 1)[1] for d in spec["adapters"]]
        for name, directory in zip(names, spec["adapters"], strict=True):
            model.load_adapter(name, export / directory)
        head_dir = spec["fusion"] or spec["adapters"][0]
        model.load_head(spec["head"], export / head_dir)
        if spec["fusion"]:
            model.load_fusion(export / spec["fusion"])
            model.set_active(fusion=True, head=spec["head"])
            model.save_fusion(tmp_path / spec["fusion"])
            assert list(model.fusion.positions) == spec["positions"]
        else:
            model.set_active(adapter=names[0], head=spec["head"])
        with torch.no_grad():
            logits = model.eval()(**inputs(expected, spec["input"]))
        torch.testing.assert_close(logits, library[case], atol=1e-5, rtol=0)
        assert (logits - expected["base_cls"][:, : logits.shape[1]]).abs().max() > 1e-2  # not a no-op export
        # Today's writer produces the files the library read.
        for name, directory in zip(names, spec["adapters"], strict=True):
            model.save_adapter(name, tmp_path / directory)
        model.save_head(spec["head"], tmp_path / head_dir)
        written = sorted(p.relative_to(tmp_path) for p in (tmp_path / case).rglob("*") if p.is_file())
        assert written == sorted(p.relative_to(export) for p in (export / case).rglob("*") if p.is_file())
        for relative in written:
            ours, theirs = tmp_path / relative, export / relative
            if relative.suffix == ".json":
                strip = lambda path: {k: v for k, v in json.loads(path.read_text()).items() if k != "version"}  # noqa: E731
                assert strip(ours) == strip(theirs), relative
            else:
                ours, theirs = load_state_file(ours), load_state_file(theirs)
                assert sorted(ours) == sorted(theirs), relative
                assert all(torch.equal(ours[k], theirs[k]) for k in theirs), relative


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
    for refused in ("sigmoid", "prelu", "laplace"):  # f(0) != 0 or weights of their own
        with pytest.raises(ConfigError, match="non_linearity"):
            spec_from_config({"original_ln_before": True, "non_linearity": refused})
    spec, leave_out = spec_from_config({"original_ln_before": True, "reduction_factor": {"default": 8}})
    assert (spec.variant, spec.reduction_factor, leave_out) == ("pfeiffer", 8, [])


@pytest.mark.parametrize(
    "config",
    [
        {"head_type": "classification", "layers": 3, "activation_function": "tanh", "num_labels": 2},
        {"head_type": "classification", "layers": 2, "activation_function": "tanh", "use_pooler": True},
        {"head_type": "classification", "layers": 2, "activation_function": "prelu", "num_labels": 2},
        {"head_type": "tagging", "layers": 1, "num_labels": 2},
    ],
)
def test_heads_afuse_cannot_represent_are_refused(tmp_path, config):
    (tmp_path / "head_config.json").write_text(json.dumps({"config": config, "hidden_size": 32}))
    with pytest.raises(ConfigError, match="only classification / multiple_choice heads"):
        read_head(tmp_path)


@pytest.mark.parametrize("text", ['{"config": {"reduction_factor": 1', "[1, 2]", "\xff"])
@pytest.mark.parametrize("kind", ["adapter", "head"])
def test_a_config_json_that_does_not_read_is_refused_by_path(kind, text, tmp_path):
    from afuse.modeling.weights import CorruptWeightsError

    from .conftest import task, tiny_model

    model = tiny_model()
    model.add_adapter("a", AdapterSpec())
    model.add_head("a", task())
    directory = tmp_path / kind
    if kind == "adapter":
        model.save_adapter("a", directory)
        path, load = directory / "adapter_config.json", lambda: tiny_model().load_adapter("a", directory)
    else:
        model.save_head("a", directory)
        path, load = directory / "head_config.json", lambda: tiny_model().load_head("a", directory, task())
    path.write_bytes(text.encode("latin-1"))  # cut short, not an object, not UTF-8
    with pytest.raises(CorruptWeightsError) as refused:
        load()
    assert str(path) in str(refused.value) and "force=true" in str(refused.value)


def test_an_adapter_of_another_model_type_with_the_same_width_is_refused(tmp_path):
    # RoBERTa-base and BERT-base are both 768 wide: the hidden size alone let a RoBERTa adapter
    # load into a BERT model (the key prefix differs, the layout does not).
    from .conftest import tiny_model

    roberta = tiny_model("roberta")
    roberta.add_adapter("a", AdapterSpec())
    roberta.save_adapter("a", tmp_path / "a")
    with pytest.raises(ConfigError, match="trained on a roberta model; this model is bert"):
        tiny_model("bert").load_adapter("a", tmp_path / "a")
    tiny_model("roberta").load_adapter("a", tmp_path / "a")  # its own kind loads


def test_an_adapter_saved_from_another_model_of_the_same_shape_is_said(tmp_path, caplog):
    # bert-base-cased and bert-base-uncased have one shape and one model type: only the library's
    # model_name tells them apart, and the library loads either into the other without a word.
    from .conftest import tiny_model

    saved = tiny_model("bert")
    saved.add_adapter("a", AdapterSpec())
    saved.save_adapter("a", tmp_path / "a")
    config = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    warned = []
    for saved_from, loaded_into in [
        ("bert-base-cased", "google-bert/bert-base-uncased"),  # another model: said
        ("bert-base-uncased", "google-bert/bert-base-uncased"),  # the same model, by its old id
        ("", "google-bert/bert-base-uncased"),  # afuse's own files, and a model built from a config
        ("bert-base-cased", ""),
    ]:
        (tmp_path / "a" / "adapter_config.json").write_text(json.dumps({**config, "model_name": saved_from}))
        model = tiny_model("bert")
        model.encoder.config.name_or_path = loaded_into
        caplog.clear()
        model.load_adapter("a", tmp_path / "a")
        warned.append([r.getMessage() for r in caplog.records if "was saved from model" in r.getMessage()])
    assert [len(w) for w in warned] == [1, 0, 0, 0]
    assert (
        "saved from model bert-base-cased" in warned[0][0] and "google-bert/bert-base-uncased" in warned[0][0]
    )
