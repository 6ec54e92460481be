"""Adapter sites: the positions inside a transformer layer where adapters and fusion sit.

Torch-free, so that run naming (afuse.runs, afuse.experiment) and the model (afuse.modeling) share
one rule for where a fusion goes.
"""

from collections.abc import Iterable

FFN = "ffn"  # after the feed-forward block
ATTN = "attn"  # after the attention block
POSITIONS = (ATTN, FFN)  # forward order within a layer

# Where each adapter variant puts its adapters (afuse.modeling.adapters.VARIANTS).
VARIANT_POSITIONS = {"pfeiffer": (FFN,), "houlsby": (ATTN, FFN)}
MT_A_POSITIONS = (FFN,)  # MT-A's per-task adapters (afuse.train.multitask)


def fused_positions(source_positions: Iterable[Iterable[str]], sites: str) -> tuple[str, ...]:
    """Where a fusion over sources with these adapter positions sits: every position all of them
    have (fusion.sites=all, AdapterHub's behaviour: Houlsby sources are fused after attention and
    after the FFN), or after the FFN only (fusion.sites=ffn)."""
    if sites == FFN:
        return (FFN,)
    common = set.intersection(*(set(p) for p in source_positions))
    return tuple(p for p in POSITIONS if p in common)
