"""Fusion activations (the paper's Figure 4): mean softmax weight per (site, layer, source).

The recorder accumulates, per fused site (position, layer), the softmax weight of each source
summed over the non-padding tokens it sees; `matrix()` divides by the token count, so each row is
a mean of probability vectors and sums to 1. A fusion over Houlsby adapters has two sites per
layer (after attention and after the FFN); the FFN rows are the paper's figure.
"""

from __future__ import annotations

import torch

from afuse.modeling.adapters import FFN


class ActivationRecorder:
    def __init__(self, sources: list[str], layers: list[int], positions: tuple[str, ...] = (FFN,)):
        self.sources = list(sources)
        self.layers = list(layers)
        self.positions = tuple(positions)
        sites = [(pos, i) for pos in self.positions for i in self.layers]
        self._sums = {site: torch.zeros(len(sources), dtype=torch.float64) for site in sites}
        self._tokens = dict.fromkeys(sites, 0)

    def add(self, layer: int, probs: torch.Tensor, mask: torch.Tensor | None, position: str = FFN) -> None:
        """probs (..., N) softmax weights; mask (...) 1 for real tokens, 0 for padding (None: all real)."""
        probs = probs.detach()
        flat = probs.reshape(-1, probs.shape[-1])
        if mask is not None:
            flat = flat[mask.reshape(-1).to(torch.bool)]
        self._sums[position, layer] += flat.sum(0).to(device="cpu", dtype=torch.float64)
        self._tokens[position, layer] += flat.shape[0]

    @property
    def tokens(self) -> int:
        """Non-padding tokens seen (per site; every fused site sees the same tokens)."""
        return self._tokens[FFN, self.layers[0]] if self.layers else 0

    def matrix(self, position: str = FFN) -> list[list[float]]:
        """layers × sources mean softmax weights at one position; rows sum to 1."""
        if not self.tokens:
            raise ValueError("no tokens recorded: run the model inside the capture block first")
        return [(self._sums[position, i] / self._tokens[position, i]).tolist() for i in self.layers]

    def to_json(self, target: str, split: str) -> dict:
        """The activations.json payload of the artifact contract (plus the fused layer indices).

        `matrix` is the FFN position's; a fusion at more than one position adds `sites`
        (position -> its matrix, in forward order)."""
        payload = {
            "target": target,
            "split": split,
            "tokens": self.tokens,
            "sources": self.sources,
            "layers": self.layers,
            "matrix": self.matrix(),
        }
        if self.positions != (FFN,):
            payload["sites"] = {pos: self.matrix(pos) for pos in self.positions}
        return payload
