"""The naive AdapterFusion layer, written literally from AdapterHub's BertFusion: every adapter
output goes through K and V (O(N·h²) per token). The reference the fast path in fusion.py is
checked against, in the tests and in experiments/gpu/correctness.py; never used for training."""

import torch
import torch.nn.functional as F


def naive_fuse(layer, bottlenecks, a, temperature=1.0, p_drop=0.0, training=False):
    """(fused output (…, h), softmax weights (…, N)) for adapter input `a` (…, h)."""
    z = torch.stack([b.up(b.act(b.down(a))) for b in bottlenecks], dim=-2)  # (..., N, h)
    q = layer.query(a)
    k = layer.key(z)
    v = layer.value(z) if layer.value is not None else z
    scores = torch.einsum("...h,...nh->...n", q, k)
    scores = F.dropout(scores, p_drop, training=training)
    probs = torch.softmax(scores / temperature, dim=-1)
    return torch.einsum("...n,...nh->...h", probs, v), probs
