"""Bottleneck adapters: identity at init, placement semantics, gradients, parameter counts."""

import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig, BertModel

from afuse.errors import ConfigError
from afuse.modeling import AdapterSpec, AfuseModel, adapter_parameter_count
from afuse.modeling.adapters import Adapter, activation

from .conftest import batch, task, tiny_model


def randomize_(module, seed=0, std=0.2):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)


@pytest.mark.parametrize("family", ["bert", "roberta"])
@pytest.mark.parametrize("variant", ["pfeiffer", "houlsby"])
def test_untrained_adapter_leaves_output_unchanged(family, variant):
    model = tiny_model(family).eval()
    model.add_head("t", task())
    ids, mask = batch()
    model.set_active(head="t")
    before = model(ids, mask)
    model.add_adapter("a", AdapterSpec(variant, 4, "relu"))
    model.set_active(adapter="a", head="t")
    torch.testing.assert_close(model(ids, mask), before, atol=1e-6, rtol=0)
    # ... and it is not inert: trained weights change the output.
    randomize_(model.adapters["a"])
    assert (model(ids, mask) - before).abs().max() > 1e-3


def test_an_untrained_adapter_still_learns():
    model = tiny_model()
    model.add_adapter("a", AdapterSpec("pfeiffer", 4))
    model.add_head("t", task())
    model.set_active(adapter="a", head="t")
    params = model.trainable_for("adapter")
    opt = torch.optim.SGD(params, lr=0.5)
    ids, mask = batch()
    for _ in range(2):  # step 1 moves `up` (zero-initialised), step 2 then moves `down`
        before = {n: p.detach().clone() for n, p in model.adapters["a"].named_parameters()}
        F.cross_entropy(model(ids, mask), torch.tensor([0, 1, 0])).backward()
        opt.step()
        opt.zero_grad()
    moved = [n for n, p in model.adapters["a"].named_parameters() if not torch.equal(p, before[n])]
    assert any(".down." in n for n in moved) and any(".up." in n for n in moved)


def test_pfeiffer_and_houlsby_semantics_by_hand():
    """Recompute one layer's FFN sub-layer output by hand from the AdapterHub formulas."""
    model = tiny_model().eval()
    for name, variant in (("p", "pfeiffer"), ("h", "houlsby")):
        model.add_adapter(name, AdapterSpec(variant, 4, "swish"))
        randomize_(model.adapters[name], seed=len(name))
    sub = model.encoder.encoder.layer[0].output
    shape = model.encoder.config
    hidden, x = torch.randn(2, 5, shape.intermediate_size), torch.randn(2, 5, shape.hidden_size)
    h = sub.dense(hidden)
    ln = sub.LayerNorm
    for name in ("p", "h"):
        model.set_active(adapter=name)
        b = model.adapters[name].at(0, "ffn")

        def z(a, b=b):
            return b.up(F.silu(b.down(a)))

        expected = ln(z(ln(h + x)) + h + x) if name == "p" else ln(z(h) + h + x)
        torch.testing.assert_close(sub(hidden, x), expected)
    # Houlsby also sits after attention; Pfeiffer does not.
    assert model.adapters["h"].at(0, "attn") is not None and model.adapters["p"].at(0, "attn") is None


def test_gradients_reach_only_adapter_and_head():
    model = tiny_model()
    model.add_adapter("a", AdapterSpec("houlsby", 4))
    model.add_adapter("other", AdapterSpec("pfeiffer", 4))
    model.add_head("t", task())
    model.add_head("u", task())
    model.set_active(adapter="a", head="t")
    randomize_(model.adapters["a"])  # so that `down` gets gradients too
    trainable = set(map(id, model.trainable_for("adapter")))
    ids, mask = batch()
    F.cross_entropy(model(ids, mask), torch.tensor([0, 1, 1])).backward()
    for name, p in model.named_parameters():
        ours = name.startswith(("adapters.a.", "heads.t."))
        assert (id(p) in trainable) == ours, name
        assert (p.grad is not None and p.grad.abs().sum() > 0) == ours, name


@pytest.mark.parametrize("rf", [2, 16, 64])
def test_parameter_counts_match_the_formula(rf):
    """MiniLM's shape (h=384, 6 layers): per layer 2·h·r + r + h with r = h // rf."""
    h, layers = 384, 6
    r = h // rf
    assert adapter_parameter_count(AdapterSpec("pfeiffer", rf), h, layers) == layers * (2 * h * r + r + h)
    assert adapter_parameter_count(AdapterSpec("houlsby", rf), h, layers) == 2 * layers * (2 * h * r + r + h)
    adapter = Adapter(AdapterSpec("pfeiffer", rf), h, layers)
    assert sum(p.numel() for p in adapter.parameters()) == layers * (2 * h * r + r + h)

    encoder = BertModel(
        BertConfig(
            vocab_size=30,
            hidden_size=h,
            num_hidden_layers=layers,
            num_attention_heads=12,
            intermediate_size=8,
        ),
        add_pooling_layer=False,
    )
    model = AfuseModel(encoder, "bert")
    model.add_adapter("a", AdapterSpec("pfeiffer", rf))
    model.add_head("t", task())
    model.set_active(adapter="a", head="t")
    model.trainable_for("adapter")
    head = h * h + h + 2 * h + 2
    counts = model.parameter_counts()
    assert counts["trainable"] == layers * (2 * h * r + r + h) + head
    assert counts["total"] == counts["trainable"] + sum(p.numel() for p in encoder.parameters())
    if rf == 16:  # the figure AdapterHub's `adapters` prints for this setup (anchors/adapters_bench.py)
        assert counts["trainable"] == 261650


def test_reduction_factor_any_positive_number():
    assert AdapterSpec("pfeiffer", 2.5).bottleneck_size(32) == 12  # int(32 // 2.5), as AdapterHub
    assert AdapterSpec("pfeiffer", 1000).bottleneck_size(32) == 1
    for bad in (0, -1, "16", float("inf"), True):
        with pytest.raises(ConfigError, match="reduction_factor"):
            AdapterSpec("pfeiffer", bad)
    with pytest.raises(ConfigError, match="non_linearity"):
        AdapterSpec("pfeiffer", 16, "tanhh")
    with pytest.raises(ConfigError, match="variant"):
        AdapterSpec("lora", 16)


def test_non_linearities():
    x = torch.linspace(-3, 3, 13)
    assert torch.equal(activation("relu")(x), x.clamp(min=0))
    torch.testing.assert_close(activation("swish")(x), x * torch.sigmoid(x))
    torch.testing.assert_close(activation("silu")(x), x * torch.sigmoid(x))
    torch.testing.assert_close(activation("leaky_relu")(x), torch.where(x > 0, x, 0.01 * x))
    torch.testing.assert_close(activation("gelu")(x), 0.5 * x * (1 + torch.erf(x / 2**0.5)))


def test_several_adapters_switched_per_batch():
    """MT-A: one adapter per task in one model; the active one alone decides the output."""
    model = tiny_model().eval()
    model.add_head("t", task())
    for i, name in enumerate(("a", "b")):
        model.add_adapter(name, AdapterSpec("pfeiffer", 4))
        randomize_(model.adapters[name], seed=i)
    ids, mask = batch()
    outputs = {}
    for name in ("a", "b"):
        model.set_active(adapter=name, head="t")
        outputs[name] = model(ids, mask)
    assert (outputs["a"] - outputs["b"]).abs().max() > 1e-3
    alone = tiny_model().eval()
    alone.heads["t"] = model.heads["t"]
    alone.adapters["b"] = model.adapters["b"]
    alone.set_active(adapter="b", head="t")
    torch.testing.assert_close(alone(ids, mask), outputs["b"])


@pytest.mark.parametrize("variant", ["pfeiffer", "houlsby"])
def test_padding_a_batch_further_leaves_its_logits_unchanged(variant):
    """trainer.cuda_graphs pads batches to a multiple of 32 tokens: the mask must hide the extra
    positions from every layer, adapters included."""
    model = tiny_model().eval()
    model.add_head("t", task())
    model.add_adapter("a", AdapterSpec(variant, 4, "relu"))
    randomize_(model.adapters["a"])
    model.set_active(adapter="a", head="t")
    ids, mask = batch()
    padded = model(F.pad(ids, (0, 32 - ids.shape[1])), F.pad(mask, (0, 32 - ids.shape[1])))
    torch.testing.assert_close(padded, model(ids, mask), atol=1e-5, rtol=1e-5)
