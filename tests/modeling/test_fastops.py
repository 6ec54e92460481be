"""fastops: the fast CPU dropout and attention compute what PyTorch's do (same law, same math)."""

import pytest
import torch

from afuse.modeling import AdapterSpec, AfuseModel, fastops

from .conftest import batch, task, tiny_encoder


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_mask_has_the_right_rate(p):
    torch.manual_seed(0)
    keep = fastops.keep_mask(torch.Size([1000, 1000]), p, torch.device("cpu"))
    assert keep.dtype == torch.float32 and set(keep.unique().tolist()) <= {0.0, 1.0}
    sd = (p * (1 - p) / keep.numel()) ** 0.5
    assert abs(keep.float().mean().item() - (1 - p)) < 5 * sd
    # rows are not copies of each other (both 32-bit halves of each draw are used, independently)
    assert keep.float().mean(1).std() > 0


def test_fast_dropout_values_gradients_and_seeding():
    x = torch.randn(64, 100, requires_grad=True)
    torch.manual_seed(1)
    y = fastops.fast_dropout(x, 0.25, True)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.75) < 5 * (0.25 * 0.75 / kept.numel()) ** 0.5
    torch.testing.assert_close(y[kept], x[kept] / 0.75)
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.75)
    torch.manual_seed(1)
    assert torch.equal(fastops.fast_dropout(x, 0.25, True), y)  # seeded: reproducible
    assert fastops.fast_dropout(x, 0.25, False) is x


def reference_attention(q, k, v, mask_bool, keep, p, scale):
    scores = q @ k.transpose(-1, -2) * scale
    scores = scores.masked_fill(~mask_bool, float("-inf"))
    return (torch.softmax(scores, -1) * keep / (1 - p)) @ v


def test_attention_core_equals_reference_outputs_and_gradients(monkeypatch):
    b, h, length, d = 3, 2, 7, 4
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(b, length, h, d, generator=g).transpose(1, 2).requires_grad_() for _ in range(3))
    key_mask = torch.ones(b, length, dtype=torch.bool)
    key_mask[1, 4:] = False
    key_mask[2, 2:] = False
    mask = key_mask[:, None, None, :].expand(b, 1, length, length)
    keep = torch.rand(b, h, length, length, generator=g) > 0.3
    monkeypatch.setattr(fastops, "keep_mask", lambda shape, p, device, dtype: keep.reshape(shape).to(dtype))

    class Module:
        training = True
        is_causal = False

    out, _ = fastops.attention(Module(), q, k, v, mask, dropout=0.3, scaling=0.5)
    ref = reference_attention(q, k, v, mask, keep, 0.3, 0.5).transpose(1, 2)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    w = torch.randn(ref.shape, generator=g)
    got = torch.autograd.grad((out * w).sum(), (q, k, v))
    want = torch.autograd.grad((ref * w).sum(), (q, k, v))
    for a, c in zip(got, want, strict=True):
        torch.testing.assert_close(a, c, atol=1e-6, rtol=1e-5)


def test_eval_outputs_identical_with_and_without_fast_ops():
    ids, mask = batch()
    outputs = []
    for fast in (True, False):
        model = AfuseModel(tiny_encoder(seed=3), "bert", fast_ops=fast).eval()
        model.add_adapter("a", AdapterSpec("houlsby", 4))
        model.add_head("t", task())
        model.set_active(adapter="a", head="t")
        outputs.append(model(ids, mask))
        assert (model.encoder.config._attn_implementation == fastops.ATTENTION_NAME) == fast
        assert any(type(m) is fastops.FastDropout for m in model.modules()) == fast
    torch.testing.assert_close(outputs[0], outputs[1], atol=0, rtol=0)
