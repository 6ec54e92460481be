"""AfuseModel: trainable sets, fusion training, activation capture, pruning, save/load."""

import copy

import pytest
import torch
import torch.nn.functional as F

from afuse.errors import ConfigError
from afuse.modeling import AdapterSpec, AfuseModel, FusionSpec
from afuse.modeling import model as model_module

from .conftest import batch, task, tiny_encoder, tiny_model
from .test_fusion import naive_fuse


def fusion_model(sources=("a", "b", "c"), family="bert", seed=0, spec=None, widths=(4, 8, 4)):
    model = tiny_model(family)
    g = torch.Generator().manual_seed(seed)
    for name, rf in zip(sources, widths, strict=False):
        model.add_adapter(name, AdapterSpec("pfeiffer", rf))
        with torch.no_grad():
            for p in model.adapters[name].parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    model.add_fusion(list(sources), spec or FusionSpec())
    with torch.no_grad():
        for layer in model.fusion.layers.values():
            layer.query.weight.normal_(0, 0.2, generator=g)
            layer.key.weight.normal_(0, 0.2, generator=g)
    model.add_head("t", task())
    model.set_active(fusion=True, head="t")
    return model


def test_trainable_sets():
    model = fusion_model()
    model.add_head("u", task())
    total = sum(p.numel() for p in model.parameters())
    groups = {
        "head": ["heads.t."],
        "adapter": ["heads.t.", "adapters.a."],
        "fusion": ["heads.t.", "fusion."],
        "multitask": ["encoder.", "adapters.", "heads."],
        "full": [""],
    }
    for kind, prefixes in groups.items():
        if kind == "adapter":
            model.set_active(adapter="a", head="t")
        else:
            model.set_active(fusion=True, head="t")
        params = model.trainable_for(kind)
        names = {n for n, p in model.named_parameters() if p.requires_grad}
        assert names == {n for n, _ in model.named_parameters() if n.startswith(tuple(prefixes))}, kind
        assert len(params) == len(names)
        assert model.parameter_counts() == {"trainable": sum(p.numel() for p in params), "total": total}
    with pytest.raises(ConfigError, match="kind"):
        model.trainable_for("lora")


def test_fusion_mode_gradients_reach_only_fusion_and_head():
    model = fusion_model().train()
    model.trainable_for("fusion")
    ids, mask = batch()
    loss = F.cross_entropy(model(ids, mask), torch.tensor([1, 0, 1])) + 0.01 * model.fusion_regularization()
    loss.backward()
    for name, p in model.named_parameters():
        ours = name.startswith(("fusion.", "heads.t."))
        assert (p.grad is not None) == ours, name
        if ours and not name.endswith("value.weight"):
            assert p.grad.abs().sum() > 0, name


def test_model_level_fusion_equals_naive_with_padding(monkeypatch):
    """Whole model, padded batch, training mode with dropout: logits and fusion/head gradients
    equal those of the same model running the naive reference fusion."""

    def run(use_naive):
        torch.manual_seed(0)
        model = fusion_model(seed=1, spec=FusionSpec(score_dropout=0.2, temperature=0.7)).train()
        model.trainable_for("fusion")
        if use_naive:

            def naive(layer, stacked, a, temperature, score_dropout, training):
                sources = [model.adapters[s] for s in model.active_sources()]
                index = next(i for i, fl in model.fusion.layers.items() if fl is layer)
                bottlenecks = [ad.at(int(index), "ffn") for ad in sources]
                return naive_fuse(layer, bottlenecks, a, temperature, score_dropout, training)

            monkeypatch.setattr(model_module, "fuse", naive)
        ids, mask = batch(b=4, length=11, pad_lengths=[11, 6, 3, 9])
        torch.manual_seed(5)
        logits = model(ids, mask)
        F.cross_entropy(logits, torch.tensor([0, 1, 1, 0])).backward()
        monkeypatch.undo()
        return logits, {n: p.grad for n, p in model.named_parameters() if p.grad is not None}

    logits, grads = run(False)
    ref_logits, ref_grads = run(True)
    torch.testing.assert_close(logits, ref_logits, atol=1e-5, rtol=1e-5)
    assert grads.keys() == ref_grads.keys() and len(grads) > 4
    for name in grads:
        torch.testing.assert_close(grads[name], ref_grads[name], atol=1e-5, rtol=1e-4, msg=name)


def test_activation_rows_sum_to_one_and_padding_is_ignored():
    model = fusion_model().eval()
    ids, mask = batch(b=2, length=9, pad_lengths=[9, 5])
    with torch.no_grad(), model.capture_fusion_activations() as padded:
        model(ids, mask)
    matrix = torch.tensor(padded.matrix())
    assert matrix.shape == (2, 3) and padded.layers == [0, 1] and padded.sources == ["a", "b", "c"]
    torch.testing.assert_close(matrix.sum(1), torch.ones(2, dtype=matrix.dtype))
    assert padded.tokens == 14
    # The same two sequences run one by one, without padding: the same token-weighted means.
    with torch.no_grad(), model.capture_fusion_activations() as alone:
        model(ids[:1], mask[:1])
        model(ids[1:, :5], mask[1:, :5])
    torch.testing.assert_close(matrix, torch.tensor(alone.matrix()), atol=1e-6, rtol=0)
    # Garbage at padded positions changes nothing.
    noisy = ids.clone()
    noisy[1, 5:] = 77
    with torch.no_grad(), model.capture_fusion_activations() as again:
        model(noisy, mask)
    torch.testing.assert_close(torch.tensor(again.matrix()), matrix, atol=1e-6, rtol=0)
    json_ = again.to_json("rte", "test")
    assert json_["sources"] == ["a", "b", "c"] and len(json_["matrix"]) == 2


def test_pruning_removes_sources_from_the_computation():
    model = fusion_model().eval()
    ids, mask = batch()
    with torch.no_grad():
        full = model(ids, mask)
        # The same model and fusion weights, with a fusion built over {a, c} only.
        pruned = copy.deepcopy(model)
        del pruned.adapters["b"]
        pruned.add_fusion(["a", "c"], model.fusion.spec)
        pruned.fusion.load_state_dict(model.fusion.state_dict())
        pruned.set_active(fusion=True, head="t")
        expected = pruned.eval()(ids, mask)
        model.adapters["b"].at(0, "ffn").down.weight.fill_(float("nan"))  # b must not even run
        with model.fusion_subset(["c", "a"]), model.capture_fusion_activations() as rec:
            kept = model(ids, mask)
        assert rec.sources == ["a", "c"]
    torch.testing.assert_close(kept, expected)
    assert (kept - full).abs().max() > 1e-4
    assert model.active_sources() == ["a", "b", "c"]  # restored after the block
    with pytest.raises(ConfigError, match="cannot keep"):
        model.keep_sources(["zz"])


def test_skip_last_layer_runs_the_last_layer_plain():
    model = fusion_model(spec=FusionSpec(skip_last_layer=True)).eval()
    assert model.fusion.layer_indices() == [0]
    ids, mask = batch()
    with torch.no_grad(), model.capture_fusion_activations() as rec:
        before = model(ids, mask)
        for name in ("a", "b", "c"):
            model.adapters[name].at(1, "ffn").up.weight.fill_(float("nan"))
        after = model(ids, mask)
    torch.testing.assert_close(before, after)
    assert len(rec.matrix()) == 1


def test_save_and_load_encoder_heads_fusion(tmp_path):
    model = fusion_model().eval()
    with torch.no_grad():
        model.encoder.embeddings.word_embeddings.weight.mul_(1.5)  # as after MT-A fine-tuning
    model.save_encoder(tmp_path / "encoder.safetensors")
    model.save_head("t", tmp_path / "head.safetensors")
    model.save_fusion(tmp_path / "fusion.safetensors")
    for name in ("a", "b", "c"):
        model.save_adapter(name, tmp_path / "adapters" / name)
    ids, mask = batch()
    with torch.no_grad():
        expected = model(ids, mask)

    fresh = AfuseModel(tiny_encoder(seed=9), "bert")
    fresh.load_encoder(tmp_path / "encoder.safetensors")
    for name in ("a", "b", "c"):
        fresh.load_adapter(name, tmp_path / "adapters" / name)
    fresh.load_fusion(tmp_path / "fusion.safetensors")
    fresh.load_head("t", tmp_path / "head.safetensors")
    fresh.set_active(fusion=True, head="t")
    with torch.no_grad():
        torch.testing.assert_close(fresh.eval()(ids, mask), expected)
    assert not any("adapter" in k or "fusion" in k for k in model.encoder.state_dict())


def test_an_encoder_belongs_to_one_model():
    model = tiny_model()
    with pytest.raises(ConfigError, match="already belongs"):
        AfuseModel(model.encoder, "bert")


def test_fusion_on_roberta():
    model = fusion_model(family="roberta").eval()
    ids, mask = batch()
    with torch.no_grad(), model.capture_fusion_activations() as rec:
        assert model(ids, mask).shape == (3, 2)
    assert len(rec.matrix()) == 2


def test_set_active_validates_names():
    model = fusion_model()
    with pytest.raises(ConfigError, match="no adapter 'zz'"):
        model.set_active(adapter="zz", head="t")
    with pytest.raises(ConfigError, match="not both"):
        model.set_active(adapter="a", fusion=True, head="t")
    with pytest.raises(ConfigError, match="already exists"):
        model.add_adapter("a", AdapterSpec())


@pytest.mark.parametrize("setup", ["adapter", "fusion", "multiple_choice"])
def test_first_token_shortcut_changes_nothing_the_heads_read(setup):
    """The last layer computing only the first token gives the same logits and gradients."""
    if setup == "fusion":
        model = fusion_model(spec=FusionSpec(score_dropout=0.0))
        kind = "fusion"
    else:
        model = tiny_model()
        model.add_adapter("a", AdapterSpec("houlsby", 4))
        with torch.no_grad():
            for p in model.adapters["a"].parameters():
                p.normal_(0, 0.3)
        model.add_head("t", task("multiple_choice", None, 3) if setup == "multiple_choice" else task())
        model.set_active(adapter="a", head="t")
        kind = "adapter"
    model.trainable_for(kind)
    for m in model.modules():  # training mode without dropout: both runs compute one function
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    ids, mask = batch(b=6, length=8)
    if setup == "multiple_choice":
        ids, mask = ids.view(2, 3, 8), mask.view(2, 3, 8)
    results = []
    for shortcut in (True, False):
        model.first_token_shortcut = shortcut
        model.zero_grad()
        logits = model(ids, mask)
        logits.pow(2).sum().backward()
        results.append(
            (logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        )
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-6, rtol=1e-5)
    assert results[0][1].keys() == results[1][1].keys()
    for name, grad in results[0][1].items():
        torch.testing.assert_close(grad, results[1][1][name], atol=1e-6, rtol=1e-4, msg=name)


def test_first_token_shortcut_really_skips_the_last_layers_other_tokens():
    model = fusion_model().eval()
    seen = []
    model.encoder.encoder.layer[1].output.dense.register_forward_hook(
        lambda m, a, out: seen.append(out.shape[1])
    )
    ids, mask = batch()
    with torch.no_grad():
        model(ids, mask)
        with model.capture_fusion_activations():  # capture needs every token of every layer
            model(ids, mask)
    assert seen == [1, ids.shape[1]]
