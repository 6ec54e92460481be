"""Faster CPU implementations of two stock ops of the encoder: dropout and attention. Same math.

Profiling an ST-A training step on CPU (MiniLM, batch 32 × 128) shows ~20% of the time in
`bernoulli_`, the random draw of PyTorch's dropout masks (float Bernoulli sampling), most of it for
the (batch, heads, length, length) attention-probability dropout, which also forces SDPA off its
fused kernel onto its math path (with mask preprocessing that BERT does not need).

* Dropout: the keep mask is drawn as raw 32-bit integers (64 random bits per draw, split in two)
  compared with round((1-p)·2³²): the same Bernoulli(1-p) law to 2⁻³² (finer than the float
  sampler's 2⁻²⁴), scaled by 1/(1-p); ~4× cheaper than `bernoulli_` here.
* Attention (training, dropout > 0): softmax(q kᵀ·scale + mask), the fast dropout, then ·v,
  written out directly; without dropout (eval), PyTorch's SDPA as before.

On CUDA both defer to PyTorch (its fused dropout is already fast there). Random streams differ
from PyTorch's dropout (same law, other draws); everything stays seeded by torch.manual_seed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

ATTENTION_NAME = "afuse_sdpa"


def keep_mask(shape: torch.Size, p: float, device: torch.device, dtype=torch.float32) -> torch.Tensor:
    """1.0 with probability 1 - p (to 2⁻³²), else 0.0; drawn from torch's default generator.

    Float rather than bool: multiplying by a float mask is ~3× faster than by a bool one (no cast).
    """
    n = math.prod(shape)
    bits = torch.empty((n + 1) // 2, dtype=torch.int64, device=device).random_(-(2**63), None)
    # u + 2³¹ is uniform on [0, 2³²); keep iff u + 2³¹ < round((1-p)·2³²) (clamped into int32)
    threshold = min(round((1.0 - p) * 2**32) - 2**31, 2**31 - 1)
    mask = torch.empty(shape, dtype=dtype, device=device)
    torch.lt(bits.view(torch.int32)[:n].view(shape), threshold, out=mask)
    return mask


class _ApplyMask(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, keep, scale):
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return torch.mul(x, keep).mul_(scale)

    @staticmethod
    def backward(ctx, grad):
        (keep,) = ctx.saved_tensors
        return torch.mul(grad, keep).mul_(ctx.scale), None, None


def fast_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or not 0.0 < p < 1.0 or not x.is_floating_point():
        return F.dropout(x, p, training=True)
    return _ApplyMask.apply(x, keep_mask(x.shape, p, x.device, x.dtype), 1.0 / (1.0 - p))


class FastDropout(nn.Dropout):
    """nn.Dropout with the fast CPU mask (a drop-in: same `p`, same `inplace` attribute)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.p, self.training)


class _AttentionCore(torch.autograd.Function):
    """softmax(q kᵀ·scale + mask) with dropout, times v; q, k, v (B, H, L, D) -> (B, H, Lq, D).

    Saves q, k, v (contiguous copies), the probabilities and the keep mask; the dropout's
    1/(1-p) is applied to the (B, H, Lq, D) output rather than to the (B, H, Lq, Lk) probabilities.
    """

    @staticmethod
    def forward(ctx, q, k, v, mask_add, p, scale):
        b, h, lq, d = q.shape
        lk = k.shape[2]
        q3 = torch.empty((b, h, lq, d), dtype=q.dtype, device=q.device)
        torch.mul(q, scale, out=q3)  # one pass: scale and make contiguous
        q3 = q3.view(b * h, lq, d)
        k3 = k.contiguous().view(b * h, lk, d)
        v3 = v.contiguous().view(b * h, lk, v.shape[-1])
        scores = torch.matmul(q3, k3.transpose(1, 2))  # bmm with a transposed operand is ~3× slower
        if mask_add is not None:
            scores.view(b, h, lq, lk).add_(mask_add)
        probs = torch.softmax(scores, dim=-1)
        keep = keep_mask(probs.shape, p, probs.device, probs.dtype)
        out = torch.bmm(probs * keep, v3).mul_(1.0 / (1.0 - p))
        ctx.save_for_backward(q3, k3, v3, probs, keep)
        ctx.p, ctx.scale, ctx.shape = p, scale, (b, h, lq, lk)
        return out.view(b, h, lq, -1)

    @staticmethod
    def backward(ctx, grad):
        q3, k3, v3, probs, keep = ctx.saved_tensors
        b, h, lq, lk = ctx.shape
        g3 = grad.reshape(b * h, lq, -1) * (1.0 / (1.0 - ctx.p))
        grad_v = torch.matmul((probs * keep).transpose(1, 2), g3)
        grad_probs = torch.matmul(g3, v3.transpose(1, 2)).mul_(keep)
        grad_scores = torch._softmax_backward_data(grad_probs, probs, -1, probs.dtype)
        grad_q = torch.bmm(grad_scores, k3).mul_(ctx.scale)
        grad_k = torch.matmul(grad_scores.transpose(1, 2), q3)  # q3 is already scaled
        return (
            grad_q.view(b, h, lq, -1),
            grad_k.view(b, h, lk, -1),
            grad_v.view(b, h, lk, -1),
            None,
            None,
            None,
        )


def attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """transformers attention-interface function: SDPA unless training with dropout on CPU."""
    if dropout == 0.0 or query.device.type != "cpu" or kwargs.get("output_attentions") or not 0 < dropout < 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    mask_add = None
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:  # sdpa_mask: True = attend
            mask_add = torch.zeros(attention_mask.shape, dtype=query.dtype, device=query.device).masked_fill_(
                ~attention_mask, torch.finfo(query.dtype).min
            )
        else:
            mask_add = attention_mask.to(query.dtype)
    out = _AttentionCore.apply(query, key, value, mask_add, float(dropout), float(scaling))
    return out.transpose(1, 2), None


def register() -> None:
    AttentionInterface.register(ATTENTION_NAME, attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION_NAME, sdpa_mask)


def _replace_dropouts(module: nn.Module, old: type, new: type) -> nn.Module:
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if type(child) is old:
                setattr(parent, name, new(child.p, child.inplace))
    return module


def swap_dropouts(module: nn.Module) -> nn.Module:
    """Replace every nn.Dropout under `module` by FastDropout (same p; no parameters change)."""
    return _replace_dropouts(module, nn.Dropout, FastDropout)


def install(encoder: nn.Module) -> None:
    """Fast dropout everywhere in a transformers encoder, and its attention through `attention`."""
    register()
    swap_dropouts(encoder)
    if encoder.config._attn_implementation in ("sdpa", "eager"):
        encoder.set_attn_implementation(ATTENTION_NAME)


def uninstall(encoder: nn.Module) -> None:
    """Back to PyTorch's dropout and SDPA (for comparisons)."""
    _replace_dropouts(encoder, FastDropout, nn.Dropout)
    if encoder.config._attn_implementation == ATTENTION_NAME:
        encoder.set_attn_implementation("sdpa")
