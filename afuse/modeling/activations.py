"""Fusion activations (the paper's Figure 4): mean softmax weight per (layer, source).

The recorder accumulates, per fused layer, the softmax weight of each source summed over the
non-padding tokens it sees; `matrix()` divides by the token count, so each row is a mean of
probability vectors and sums to 1.
"""

from __future__ import annotations

import torch


class ActivationRecorder:
    def __init__(self, sources: list[str], layers: list[int]):
        self.sources = list(sources)
        self.layers = list(layers)
        self._sums = {i: torch.zeros(len(sources), dtype=torch.float64) for i in layers}
        self._tokens = dict.fromkeys(layers, 0)

    def add(self, layer: int, probs: torch.Tensor, mask: torch.Tensor | None) -> None:
        """probs (..., N) softmax weights; mask (...) 1 for real tokens, 0 for padding (None: all real)."""
        probs = probs.detach()
        flat = probs.reshape(-1, probs.shape[-1])
        if mask is not None:
            flat = flat[mask.reshape(-1).to(torch.bool)]
        self._sums[layer] += flat.sum(0).to(device="cpu", dtype=torch.float64)
        self._tokens[layer] += flat.shape[0]

    @property
    def tokens(self) -> int:
        """Non-padding tokens seen (per layer; every fused layer sees the same tokens)."""
        return self._tokens[self.layers[0]] if self.layers else 0

    def matrix(self) -> list[list[float]]:
        """layers × sources mean softmax weights; rows sum to 1."""
        if not self.tokens:
            raise ValueError("no tokens recorded: run the model inside the capture block first")
        return [(self._sums[i] / self._tokens[i]).tolist() for i in self.layers]

    def to_json(self, target: str, split: str) -> dict:
        """The activations.json payload of the artifact contract (plus the fused layer indices)."""
        return {
            "target": target,
            "split": split,
            "tokens": self.tokens,
            "sources": self.sources,
            "layers": self.layers,
            "matrix": self.matrix(),
        }
