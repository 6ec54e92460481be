"""The fast fusion layer against a naive reference written from the paper / AdapterHub's BertFusion."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from afuse.errors import ConfigError
from afuse.modeling import AdapterSpec, FusionSpec
from afuse.modeling.adapters import Bottleneck
from afuse.modeling.fusion import FusionLayer, fuse, stack_adapters
from afuse.modeling.fusion_reference import naive_fuse
from tests.from_conf import tiny_bert_settings

from .conftest import batch, task, tiny_model

H = tiny_bert_settings()["hidden_size"]  # tiny_model()'s width: the regularisation test needs it


def random_setup(n, dynamic, seed, widths=(8, 4)):
    """n bottlenecks of alternating widths and a fusion layer, all with non-trivial weights."""
    g = torch.Generator().manual_seed(seed)
    bottlenecks = [Bottleneck(H, widths[i % len(widths)], "relu") for i in range(n)]
    layer = FusionLayer(H, dynamic)
    with torch.no_grad():
        for b in bottlenecks:
            for p in b.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        for p in (layer.query.weight, layer.key.weight):
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        for p in (layer.query.bias, layer.key.bias):
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        if dynamic:
            layer.value.weight.add_(torch.randn(H, H, generator=g) * 0.1)
    return bottlenecks, layer


def grads(tensors, params):
    return torch.autograd.grad(tensors, params, allow_unused=False)


@pytest.mark.parametrize("n", [1, 2, 5, 16])
@pytest.mark.parametrize("dynamic", [True, False])
def test_fast_fusion_equals_naive_outputs_and_gradients(n, dynamic):
    bottlenecks, layer = random_setup(n, dynamic, seed=n)
    _, mask = batch(b=3, length=7, seed=n)
    a = torch.randn(3, 7, H, generator=torch.Generator().manual_seed(100 + n), requires_grad=True)
    params = [*layer.parameters(), *[p for b in bottlenecks for p in b.parameters()], a]
    weights = torch.randn(3, 7, H, generator=torch.Generator().manual_seed(200 + n)) * mask[..., None]

    out, probs = fuse(layer, stack_adapters(bottlenecks), a, temperature=1.5)
    ref, ref_probs = naive_fuse(layer, bottlenecks, a, temperature=1.5)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(probs, ref_probs, atol=1e-6, rtol=0)
    # A loss over the non-padding tokens only, as a training step sees them.
    for got, want in zip(
        grads((out * weights).sum(), params), grads((ref * weights).sum(), params), strict=True
    ):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_score_dropout_matches_naive_with_the_same_random_stream():
    bottlenecks, layer = random_setup(5, True, seed=7)
    a = torch.randn(4, 6, H)
    torch.manual_seed(3)
    out, _ = fuse(layer, stack_adapters(bottlenecks), a, score_dropout=0.3, training=True)
    torch.manual_seed(3)
    ref, _ = naive_fuse(layer, bottlenecks, a, p_drop=0.3, training=True)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    eval_out, _ = fuse(layer, stack_adapters(bottlenecks), a, score_dropout=0.3, training=False)
    assert (eval_out - out).abs().max() > 1e-4  # dropout really acted in training mode


class _LargestTensor(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else [out]:
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_nothing_of_size_tokens_by_n_by_h_is_materialised():
    """Forward and backward of the fast path at N=16 never build a (tokens × N × h) tensor."""
    n, tokens = 16, 4 * 32
    bottlenecks, layer = random_setup(n, True, seed=1, widths=(8,))
    for b in bottlenecks:
        b.requires_grad_(False)  # frozen sources, as in fusion training
    a = torch.randn(4, 32, H, requires_grad=True)
    with _LargestTensor() as fast:
        out, _ = fuse(layer, stack_adapters(bottlenecks), a)
        out.sum().backward()
    with _LargestTensor() as naive:
        ref, _ = naive_fuse(layer, bottlenecks, a)
        ref.sum().backward()
    assert naive.largest >= tokens * n * H  # the reference does build them
    assert fast.largest <= tokens * (n * 8 + n)  # ours: at most tokens × (N·r + N)


def test_value_starts_at_identity_and_the_regulariser_grows_when_it_moves():
    model = tiny_model()
    for name in ("a", "b"):
        model.add_adapter(name, AdapterSpec("pfeiffer", 4))
    fusion = model.add_fusion(["a", "b"], FusionSpec("dynamic"))
    for layer in fusion.layers.values():
        off = layer.value.weight - torch.eye(H)
        assert off.abs().max() <= 1e-6 + 1e-12
        assert layer.query.weight.std().item() == pytest.approx(0.02, rel=0.2)
        assert layer.key.weight.std().item() == pytest.approx(0.02, rel=0.2)
    reg0 = model.fusion_regularization().item()
    assert reg0 < 1e-8
    with torch.no_grad():
        fusion.layers["0"].value.weight.add_(0.01)
    assert model.fusion_regularization().item() == pytest.approx(H * H * 1e-4, rel=0.05)
    static = model.add_fusion(["a", "b"], FusionSpec("static"))
    assert all(layer.value is None for layer in static.layers.values())
    assert model.fusion_regularization().item() == 0.0


def test_regulariser_is_differentiable_towards_identity():
    model = tiny_model()
    model.add_adapter("a", AdapterSpec("pfeiffer", 4))
    model.add_fusion(["a"], FusionSpec("dynamic"))
    with torch.no_grad():
        model.fusion.layers["1"].value.weight.mul_(1.1)
    model.fusion_regularization().backward()
    v = model.fusion.layers["1"].value.weight
    torch.testing.assert_close(v.grad, 2 * (v.detach() - torch.eye(H)))


def test_fusion_spec_from_config_and_validation():
    from omegaconf import OmegaConf

    from afuse.paths import conf_dir

    spec = FusionSpec.from_config(OmegaConf.load(conf_dir() / "fusion" / "dynamic.yaml"))
    assert spec == FusionSpec("dynamic", 0.01, 1.0, 0.1, False, "all")
    for bad in ({"kind": "gated"}, {"temperature": 0}, {"score_dropout": 1.0}, {"sites": "attn"}):
        with pytest.raises(ConfigError):
            FusionSpec(**bad)


def test_sources_of_different_variants_or_missing_are_refused():
    model = tiny_model()
    model.add_adapter("p", AdapterSpec("pfeiffer", 4))
    model.add_adapter("h", AdapterSpec("houlsby", 4))
    with pytest.raises(ConfigError, match="variant"):
        model.add_fusion(["p", "h"])
    with pytest.raises(ConfigError, match="not loaded"):
        model.add_fusion(["p", "nope"])
    model.add_adapter("lo", AdapterSpec("pfeiffer", 4), layers=[0])
    with pytest.raises(ConfigError, match="layer 1"):
        model.add_fusion(["p", "lo"])
    model.add_fusion(["p", "lo"], FusionSpec(skip_last_layer=True))  # fine without layer 1


def houlsby_fusion_model(spec: FusionSpec):
    model = tiny_model().eval()
    model.add_head("t", task())
    for i, name in enumerate(("a", "b")):
        model.add_adapter(name, AdapterSpec("houlsby", 4, "swish"))
        with torch.no_grad():
            for p in model.adapters[name].parameters():
                p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(i)) * 0.3)
    model.add_fusion(["a", "b"], spec)
    model.set_active(fusion=True, head="t")
    return model


def poison_attention_adapters(model):
    with torch.no_grad():
        for name in ("a", "b"):
            for layer in range(2):
                model.adapters[name].at(layer, "attn").up.weight.fill_(float("nan"))


def test_houlsby_sources_with_sites_ffn_are_fused_at_the_ffn_position_only():
    """fusion.sites=ffn: fusion runs after the FFN only; the sources' attention-position adapters
    are not applied (N of them cannot all modify one hidden state without a fusion there)."""
    model = houlsby_fusion_model(FusionSpec(sites="ffn"))
    assert model.fusion.positions == ("ffn",) and model.fusion.sites() == [("ffn", 0), ("ffn", 1)]
    ids, mask = batch()
    before = model(ids, mask)
    poison_attention_adapters(model)
    torch.testing.assert_close(model(ids, mask), before)  # attention adapters never ran
    with torch.no_grad():
        model.adapters["a"].at(0, "ffn").up.weight.mul_(2)
    assert (model(ids, mask) - before).abs().max() > 1e-4  # FFN adapters do


def test_houlsby_sources_are_fused_at_both_sites_by_default():
    """The default (AdapterHub's behaviour): a fusion layer after attention and after the FFN."""
    model = houlsby_fusion_model(FusionSpec())
    assert model.fusion.positions == ("attn", "ffn")
    assert model.fusion.sites() == [("attn", 0), ("attn", 1), ("ffn", 0), ("ffn", 1)]
    assert sorted(model.fusion.state_dict()) == sorted(
        f"{table}.{i}.{part}.{p}"
        for table in ("layers", "attention_layers")
        for i in range(2)
        for part, p in [
            ("query", "weight"),
            ("query", "bias"),
            ("key", "weight"),
            ("key", "bias"),
            ("value", "weight"),
        ]
    )
    ids, mask = batch()
    with model.capture_fusion_activations() as rec:
        model(ids, mask)
    data = rec.to_json("t", "test")
    assert set(data["sites"]) == {"attn", "ffn"} and data["matrix"] == data["sites"]["ffn"]
    for rows in data["sites"].values():
        assert len(rows) == 2 and all(abs(sum(r) - 1) < 1e-6 for r in rows)
    before = model(ids, mask)
    poison_attention_adapters(model)
    assert model(ids, mask).isnan().all()  # the attention adapters are part of the computation
    # Regularisation counts every site: moving an attention-site V moves it.
    reg = model.fusion.regularization()
    with torch.no_grad():
        model.fusion.at(0, "attn").value.weight[0, 0] += 1.0
    assert model.fusion.regularization() > reg
    assert before.isfinite().all()


def _fusion_model(n=3):
    model = tiny_model().eval()
    model.add_head("t", task())
    names = [f"s{i}" for i in range(n)]
    for i, name in enumerate(names):
        model.add_adapter(name, AdapterSpec("pfeiffer", 4))
        with torch.no_grad():
            for p in model.adapters[name].parameters():
                p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(i)) * 0.3)
    model.add_fusion(names)
    model.set_active(fusion=True, head="t")
    model.trainable_for("fusion")
    return model


def test_stacked_sources_are_reused_only_while_their_weights_are_unchanged():
    ids, mask = batch()
    model = _fusion_model()
    first = model(ids, mask)
    stacks = {site: entry[2] for site, entry in model._stacks._entries.items()}
    torch.testing.assert_close(model(ids, mask), first)
    assert all(model._stacks._entries[site][2] is stacked for site, stacked in stacks.items())  # reused
    with torch.no_grad():  # an in-place change of one source (a load, an optimizer) is seen at once
        model.adapters["s1"].at(0, "ffn").up.weight.mul_(3)
    changed = model(ids, mask)
    fresh = _fusion_model()
    with torch.no_grad():
        fresh.adapters["s1"].at(0, "ffn").up.weight.mul_(3)
    torch.testing.assert_close(changed, fresh(ids, mask))
    assert (changed - first).abs().max() > 1e-4
    torch.testing.assert_close(model.double()(ids, mask), fresh.double()(ids, mask))  # .to() re-stacks


def test_trainable_sources_are_not_cached_and_get_gradients():
    ids, mask = batch()
    model = _fusion_model()
    model.trainable_for("full")  # every source trains too: its stack must stay in the graph
    model(ids, mask).sum().backward()
    assert model.adapters["s2"].at(1, "ffn").down.weight.grad.abs().sum() > 0
    assert not model._stacks._entries


def test_a_stack_made_in_inference_mode_is_not_reused_for_training():
    ids, mask = batch()
    model = _fusion_model()
    with torch.inference_mode():
        model(ids, mask)
    model.train()
    model(ids, mask).sum().backward()  # would fail on an inference tensor saved for backward
    assert model.fusion.at(0).query.weight.grad is not None
