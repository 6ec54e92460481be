"""AdapterFusion (Pfeiffer et al. 2021, section 3): per layer, attention over N frozen adapters.

Reference semantics (AdapterHub `BertFusion`, "dynamic" config), per token with a = the adapters'
input at the FFN position (for ST-A: the FFN output after the pretrained LayerNorm), z_n = the
n-th adapter's output without residual:

    q = W_q a + b_q,  k_n = W_k z_n + b_k,  s_n = q·k_n,  p = softmax(dropout(s) / T)
    out = W_v Σ_n p_n z_n   (dynamic; W_v starts at I + 1e-6)     out = Σ_n p_n z_n   (static)

Fast path (README.md, "Fusion cost"), exact up to float rounding: with z_n = U_n c_n + e_n,
c_n = act(D_n a + d_n) of width r, and every adapter of a layer stacked as one (h × N·r) matrix,

    s_n = (a·G_u + g_u)_n · c_n + (a·G_e + g_e)_n,   with G_u = W_qᵀ W_k U (h × N·r),
        G_e = W_qᵀ (W_k E + b_k 1ᵀ) (h × N), g_u = b_qᵀ W_k U, g_e = b_qᵀ (W_k E + b_k 1ᵀ)
    out = (p ⊙ c) · (W_v U)ᵀ + p · (W_v E)ᵀ     (E: the N up-projection biases as columns)

G and W_v U are computed once per forward from the weights (cost h²·N·r, independent of the
number of tokens); per token the work is three (h × N·r) products. Nothing of shape
(tokens × N × h) exists, and the key bias is kept (with dropout on the scores it does not cancel).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from afuse.errors import ConfigError
from afuse.modeling.adapters import ATTN, FFN, Adapter, Bottleneck
from afuse.validate import FUSION_KINDS

FUSION_SITES = ("all", "ffn")  # afuse.sites.fused_positions


@dataclass(frozen=True)
class FusionSpec:
    """The fusion layer's architecture and its training-time knobs (conf/fusion/*.yaml)."""

    kind: str = "dynamic"
    regularization: float = 0.01  # lambda in lambda·||V - I||², applied by the caller
    temperature: float = 1.0
    score_dropout: float = 0.1
    skip_last_layer: bool = False
    sites: str = "all"

    def __post_init__(self):
        if self.kind not in FUSION_KINDS:
            raise ConfigError(f"fusion.kind={self.kind!r} is not supported; valid: {', '.join(FUSION_KINDS)}")
        if not self.temperature > 0:
            raise ConfigError(f"fusion.temperature must be > 0, got {self.temperature!r}")
        if not 0 <= self.score_dropout < 1:
            raise ConfigError(f"fusion.score_dropout must be in [0, 1), got {self.score_dropout!r}")
        if self.sites not in FUSION_SITES:
            raise ConfigError(
                f"fusion.sites={self.sites!r} is not supported; valid: {', '.join(FUSION_SITES)}"
            )

    @classmethod
    def from_config(cls, cfg) -> FusionSpec:
        return cls(
            kind=str(cfg.kind),
            regularization=float(cfg.get("regularization", 0.01)),
            temperature=float(cfg.get("temperature", 1.0)),
            score_dropout=float(cfg.get("score_dropout", 0.1)),
            skip_last_layer=bool(cfg.get("skip_last_layer", False)),
            sites=str(cfg.get("sites", "all")),
        )

    def to_dict(self) -> dict:
        return asdict(self)


class FusionLayer(nn.Module):
    """Q, K (and V for `dynamic`) of one transformer layer; names as AdapterHub's BertFusion."""

    def __init__(self, hidden_size: int, dynamic: bool):
        super().__init__()
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size, bias=False) if dynamic else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.query, self.key):
            nn.init.normal_(lin.weight, std=0.02)
            nn.init.zeros_(lin.bias)
        if self.value is not None:
            # As AdapterHub's value_initialized: identity with 1e-6 everywhere off the diagonal.
            with torch.no_grad():
                self.value.weight.fill_(1e-6).fill_diagonal_(1.0)

    def value_deviation(self) -> torch.Tensor:
        """||V - I||² (0 for static fusion, which has no V)."""
        if self.value is None:
            return self.query.weight.new_zeros(())
        eye = torch.eye(
            self.value.weight.shape[0], dtype=self.value.weight.dtype, device=self.value.weight.device
        )
        return (self.value.weight - eye).pow(2).sum()


@dataclass
class StackedAdapters:
    """N adapters of one site as batched tensors; widths padded to the widest with zeros.

    down_w (N·r, h), down_b (N·r), up_w (h, N·r), up_b (h, N). Padded units have zero weights and
    biases: act(0) = 0 and their up-projection columns are 0, so they contribute nothing.
    """

    down_w: torch.Tensor
    down_b: torch.Tensor
    up_w: torch.Tensor
    up_b: torch.Tensor
    act: object
    n: int
    r: int


def stack_adapters(bottlenecks: list[Bottleneck]) -> StackedAdapters:
    if len({b.act for b in bottlenecks}) != 1:  # aliases (swish, silu) share one function
        names = sorted({b.non_linearity for b in bottlenecks})
        raise ConfigError(f"fusion sources must share one non-linearity, got {names}")
    r = max(b.down.out_features for b in bottlenecks)
    downs_w, downs_b, ups_w = [], [], []
    for b in bottlenecks:
        pad = r - b.down.out_features
        downs_w.append(F.pad(b.down.weight, (0, 0, 0, pad)))
        downs_b.append(F.pad(b.down.bias, (0, pad)))
        ups_w.append(F.pad(b.up.weight, (0, pad)))
    return StackedAdapters(
        down_w=torch.cat(downs_w, 0),
        down_b=torch.cat(downs_b, 0),
        up_w=torch.cat(ups_w, 1),
        up_b=torch.stack([b.up.bias for b in bottlenecks], 1),
        act=bottlenecks[0].act,
        n=len(bottlenecks),
        r=r,
    )


class StackCache:
    """stack_adapters for frozen sources, reused while their weights are unchanged.

    Stacking pads and concatenates every source's weights: 3N + 4 copies per fused site per
    forward, each a kernel launch on a GPU (at N = 16 on BERT-base ~600 of a training step's
    ~5,000 ops, where the step is bound by launches: results/bench/gpu). Fusion training freezes
    its sources, so the stack is the same every step. A site's stack is reused while every source
    tensor is the same tensor, storage, dtype and version (an in-place update, a load, `.to()`
    all change one) and inference mode is as it was; sources that require grad are never cached (their stack must be in the
    autograd graph)."""

    def __init__(self):
        self._entries: dict[object, tuple[tuple, list[torch.Tensor], StackedAdapters]] = {}

    def get(self, site, bottlenecks: list[Bottleneck]) -> StackedAdapters:
        tensors = [t for b in bottlenecks for t in (b.down.weight, b.down.bias, b.up.weight, b.up.bias)]
        if any(t.requires_grad for t in tensors):
            self._entries.pop(site, None)
            return stack_adapters(bottlenecks)
        # A stack made under inference_mode cannot enter autograd: the mode is part of the key.
        key = (
            torch.is_inference_mode_enabled(),
            *((id(t), t.data_ptr(), t.dtype, t._version) for t in tensors),
        )
        entry = self._entries.get(site)
        if entry is not None and entry[0] == key:
            return entry[2]
        stacked = stack_adapters(bottlenecks)
        # The tensors are held so that their ids cannot be reused by new ones while the entry lives.
        self._entries[site] = (key, tensors, stacked)
        return stacked


def fuse(
    layer: FusionLayer,
    stacked: StackedAdapters,
    a: torch.Tensor,
    temperature: float = 1.0,
    score_dropout: float = 0.0,
    training: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fused adapter output (…, h) for adapter input `a` (…, h), and the softmax weights (…, N)."""
    n, r = stacked.n, stacked.r
    lead = a.shape[:-1]
    a2 = a.reshape(-1, a.shape[-1])
    # Per-forward products of weights (no token dimension). Bottleneck part (…U) and bias part
    # (…E) are kept apart rather than concatenated: slicing a joint product would cost zero-fills
    # and copies of (tokens × N·r) in backward.
    key_u = layer.key.weight @ stacked.up_w  # (h, N·r)
    key_e = torch.addmm(layer.key.bias[:, None], layer.key.weight, stacked.up_b)  # (h, N)
    g_u, g_e = layer.query.weight.t() @ key_u, layer.query.weight.t() @ key_e
    value_u, value_e = stacked.up_w, stacked.up_b
    if layer.value is not None:
        value_u, value_e = layer.value.weight @ value_u, layer.value.weight @ value_e
    # Per-token work: three (h × N·r) products and small (h × N) ones.
    c = stacked.act(F.linear(a2, stacked.down_w, stacked.down_b))  # (T, N·r)
    s_u = torch.addmm(layer.query.bias @ key_u, a2, g_u)  # (T, N·r)
    s_e = torch.addmm(layer.query.bias @ key_e, a2, g_e)  # (T, N)
    scores = (s_u * c).view(-1, n, r).sum(-1) + s_e
    if score_dropout and training:
        scores = F.dropout(scores, score_dropout, training=True)
    p = torch.softmax(scores / temperature, dim=-1)  # (T, N)
    weighted = (c.view(-1, n, r) * p[:, :, None]).view(-1, n * r)
    out = torch.addmm(p @ value_e.t(), weighted, value_u.t())
    return out.view(*lead, -1), p.view(*lead, n)


class Fusion(nn.Module):
    """A fusion over named source adapters: one FusionLayer per fused (layer, position) site.

    FFN-position layers are `layers.<i>` (the names of fusion files written before attention
    sites existed), attention-position ones `attention_layers.<i>`.
    """

    def __init__(
        self,
        sources: list[str],
        spec: FusionSpec,
        hidden_size: int,
        num_layers: int,
        positions: tuple[str, ...] = (FFN,),
    ):
        super().__init__()
        if not sources:
            raise ConfigError("fusion needs at least one source adapter")
        if len(set(sources)) != len(sources):
            raise ConfigError(f"fusion sources must be distinct, got {sources}")
        if FFN not in positions or not set(positions) <= {ATTN, FFN}:
            raise ConfigError(f"fusion positions must include {FFN!r}, got {positions}")
        self.sources = list(sources)
        self.spec = spec
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.positions = tuple(p for p in (ATTN, FFN) if p in positions)  # in forward order
        fused = range(num_layers - 1) if spec.skip_last_layer else range(num_layers)
        dynamic = spec.kind == "dynamic"
        self.layers = nn.ModuleDict({str(i): FusionLayer(hidden_size, dynamic) for i in fused})
        if ATTN in self.positions:
            self.attention_layers = nn.ModuleDict({str(i): FusionLayer(hidden_size, dynamic) for i in fused})

    def _table(self, position: str) -> nn.ModuleDict | None:
        if position == FFN:
            return self.layers
        return self.attention_layers if position in self.positions else None

    def at(self, layer: int, position: str = FFN) -> FusionLayer | None:
        table = self._table(position)
        if table is None or str(layer) not in table:
            return None
        return table[str(layer)]

    def layer_indices(self) -> list[int]:
        return sorted(int(k) for k in self.layers)

    def sites(self) -> list[tuple[str, int]]:
        """Every fused (position, layer), position-major in forward order within a layer."""
        return [(pos, i) for pos in self.positions for i in self.layer_indices()]

    def regularization(self) -> torch.Tensor:
        """Σ over fused sites of ||V - I||² (unscaled: the training loss adds λ times this)."""
        return sum(
            (self.at(i, pos).value_deviation() for pos, i in self.sites()),
            torch.zeros(()),
        )


def check_sources(adapters: dict[str, Adapter], sources: list[str]) -> None:
    """Fusion mixes adapters of one placement semantics; say which ones differ otherwise."""
    missing = [s for s in sources if s not in adapters]
    if missing:
        raise ConfigError(f"fusion sources not loaded in the model: {', '.join(missing)}")
    variants = {adapters[s].spec.ln_before for s in sources}
    if len(variants) != 1:
        detail = ", ".join(f"{s}={adapters[s].spec.variant}" for s in sources)
        raise ConfigError(f"fusion sources must share one adapter variant, got {detail}")
