"""Bottleneck adapters: the module (down -> non-linearity -> up) and where each variant puts it.

Semantics follow AdapterHub's `adapters` 1.3.0 (`methods/modeling.py`, class `Adapter`), so that
adapters trained there load here and give the same outputs:

* `pfeiffer` (AdapterHub `seq_bn`, the paper's ST-A): one adapter at the FFN position.
  With h = dropout(dense(.)) the sub-layer's output and x its residual input:
      a = LN(h + x);  out = LN(z(a) + h + x)
  (`original_ln_before`, `residual_before_ln`, `original_ln_after`: the pretrained LayerNorm is
  applied before the adapter and again after it; the adapter's residual is h).
* `houlsby` (AdapterHub `double_seq_bn`): one adapter at the attention and one at the FFN position,
      out = LN(z(h) + h + x)
  (no LayerNorm before the adapter).

z(a) = up(act(down(a))) is the adapter's output without its residual; fusion mixes these.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from afuse.errors import ConfigError
from afuse.non_linearities import NON_LINEARITIES, check_non_linearity
from afuse.sites import ATTN, FFN, VARIANT_POSITIONS  # noqa: F401 (ATTN, FFN: re-exported)

# variant -> (positions, LayerNorm applied before the adapter); positions inside a transformer
# layer (afuse.sites; see inject.py for where they are in a given family)
VARIANTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "pfeiffer": (VARIANT_POSITIONS["pfeiffer"], True),
    "houlsby": (VARIANT_POSITIONS["houlsby"], False),
}


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


def _quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


def _relu_squared(x: torch.Tensor) -> torch.Tensor:
    return F.relu(x).square()


def _gelu_clipped(x: torch.Tensor) -> torch.Tensor:
    return torch.clip(F.gelu(x), -10.0, 10.0)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


# The function behind each name of afuse.non_linearities (one function per alias group).
_FUNCTIONS = {
    "relu": F.relu,
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_tanh": _gelu_tanh,
    "gelu_clipped": _gelu_clipped,
    "quick_gelu": _quick_gelu,
    "leaky_relu": F.leaky_relu,
    "tanh": torch.tanh,
    "mish": F.mish,
    "relu6": F.relu6,
    "relu_squared": _relu_squared,
    "identity": _identity,
}
ACTIVATIONS = {name: _FUNCTIONS[function] for name, function in NON_LINEARITIES.items()}


def activation(name: str):
    """The function of a non-linearity's name; ConfigError listing the valid names."""
    return _FUNCTIONS[check_non_linearity(name)]


@dataclass(frozen=True)
class AdapterSpec:
    """What an adapter is: its placement variant, bottleneck reduction factor and non-linearity."""

    variant: str = "pfeiffer"
    reduction_factor: float = 16
    non_linearity: str = "relu"

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ConfigError(
                f"adapter.variant={self.variant!r} is not supported; valid: {', '.join(VARIANTS)}"
            )
        rf = self.reduction_factor
        if isinstance(rf, bool) or not isinstance(rf, int | float) or not rf > 0 or not math.isfinite(rf):
            raise ConfigError(f"adapter.reduction_factor must be a positive number, got {rf!r}")
        activation(self.non_linearity)

    @classmethod
    def from_config(cls, cfg) -> AdapterSpec:
        """From the `adapter` config group (variant, reduction_factor, non_linearity)."""
        return cls(str(cfg.variant), cfg.reduction_factor, str(cfg.non_linearity))

    @property
    def positions(self) -> tuple[str, ...]:
        return VARIANTS[self.variant][0]

    @property
    def ln_before(self) -> bool:
        return VARIANTS[self.variant][1]

    def bottleneck_size(self, hidden_size: int) -> int:
        # AdapterHub: int(hidden_size // reduction_factor), at least 1.
        return max(1, int(hidden_size // self.reduction_factor))

    def to_dict(self) -> dict:
        return asdict(self)


class Bottleneck(nn.Module):
    """z(a) = up(act(down(a))): one adapter at one site, without its residual."""

    def __init__(self, hidden_size: int, bottleneck: int, non_linearity: str):
        super().__init__()
        self.down = nn.Linear(hidden_size, bottleneck)
        self.up = nn.Linear(bottleneck, hidden_size)
        self.non_linearity = non_linearity
        self.act = activation(non_linearity)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # down: BERT init (as AdapterHub); up: zeros, so an untrained adapter adds exactly 0 and the
        # model's output is unchanged. Gradients still flow: d up = act(down a)^T grad is non-zero,
        # and after the first step down gets gradients too (as LoRA's zero-initialised B).
        nn.init.normal_(self.down.weight, std=0.02)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.up(self.act(self.down(a)))


def site_key(layer: int, position: str) -> str:
    return f"{layer}_{position}"


class Adapter(nn.Module):
    """One named adapter across the encoder: a Bottleneck per (layer, position) of its variant.

    Its state_dict keys are `<layer>_<position>.{down,up}.{weight,bias}`.
    """

    def __init__(self, spec: AdapterSpec, hidden_size: int, num_layers: int, layers: list[int] | None = None):
        super().__init__()
        self.spec = spec
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        r = spec.bottleneck_size(hidden_size)
        layers = range(num_layers) if layers is None else layers
        self.sites = nn.ModuleDict(
            {
                site_key(i, pos): Bottleneck(hidden_size, r, spec.non_linearity)
                for i in layers
                for pos in spec.positions
            }
        )

    def at(self, layer: int, position: str) -> Bottleneck | None:
        key = site_key(layer, position)
        return self.sites[key] if key in self.sites else None  # noqa: SIM401 (ModuleDict has no .get)

    def layers(self) -> list[int]:
        return sorted({int(k.split("_")[0]) for k in self.sites})


def apply_adapter(
    bottleneck: Bottleneck, ln_before: bool, h: torch.Tensor, x: torch.Tensor, layer_norm: nn.Module
) -> torch.Tensor:
    """The sub-layer output with one adapter: h = dropout(dense(.)), x = the sub-layer's residual input."""
    a = layer_norm(h + x) if ln_before else h
    return layer_norm(bottleneck(a) + h + x)


def adapter_parameter_count(spec: AdapterSpec, hidden_size: int, num_layers: int) -> int:
    """Parameters of one adapter: per site 2·h·r + r + h (two weight matrices and their biases)."""
    r = spec.bottleneck_size(hidden_size)
    return num_layers * len(spec.positions) * (2 * hidden_size * r + r + hidden_size)
