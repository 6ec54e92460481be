"""AfuseModel: an encoder with named adapters, heads and at most one fusion, for every stage.

    model = AfuseModel(encoder, family="bert")
    model.add_adapter("rte", AdapterSpec("pfeiffer", 16, "relu")); model.add_head("rte", task_cfg)
    model.set_active(adapter="rte", head="rte"); params = model.trainable_for("adapter")
    logits = model(input_ids, attention_mask)

The model is also the router of the encoder's adapter sites (inject.py): each sub-layer output
asks `site_output` what to apply, depending on what is active.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from afuse.errors import ConfigError, MissingInputError
from afuse.modeling import adapterhub, fastops
from afuse.modeling.activations import ActivationRecorder
from afuse.modeling.adapters import Adapter, AdapterSpec, apply_adapter
from afuse.modeling.fusion import Fusion, FusionSpec, StackCache, check_sources, fuse
from afuse.modeling.heads import Head, head_for_task, head_from_description
from afuse.modeling.inject import family as get_family
from afuse.modeling.inject import install_first_token_shortcut, install_sites, layer_norm_of
from afuse.modeling.weights import load_tensors, save_tensors
from afuse.sites import fused_positions
from afuse.validate import check_labels, check_reduction_factor

TRAINABLE_KINDS = ("adapter", "head", "full", "fusion", "multitask")


class AfuseModel(nn.Module):
    def __init__(self, encoder: nn.Module, family: str = "bert", fast_ops: bool = True):
        """fast_ops: faster CPU dropout and attention (fastops.py; same math, other random draws)."""
        super().__init__()
        self.family_name = family
        self.family = get_family(family)
        self.encoder = encoder
        self.hidden_size = int(encoder.config.hidden_size)
        self.num_layers = install_sites(encoder, self.family, self)
        install_first_token_shortcut(encoder, self.family, self)
        self.first_token_shortcut = True  # the last layer computes only what the heads read
        self.fast_ops = fast_ops
        if fast_ops:
            fastops.install(encoder)
        self.adapters = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        self.register_module("fusion", None)  # a Fusion once add_fusion / load_fusion ran
        self.active_adapter: str | None = None
        self.fusion_active = False
        self.active_head: str | None = None
        self._kept_sources: list[str] | None = None  # pruning: the fusion sources still computed
        self._mask: torch.Tensor | None = None  # attention mask of the running forward, for capture
        self._recorder: ActivationRecorder | None = None
        self._stacks = StackCache()  # the frozen fusion sources' weights, stacked once per site

    # ------------------------------------------------------------------------------ adapters

    def add_adapter(self, name: str, spec: AdapterSpec, layers: list[int] | None = None) -> Adapter:
        if name in self.adapters:
            raise ConfigError(f"an adapter named {name!r} already exists")
        check_reduction_factor(spec.reduction_factor, self.hidden_size)
        adapter = self._adopt(Adapter(spec, self.hidden_size, self.num_layers, layers))
        self.adapters[name] = adapter
        return adapter

    def load_adapter(self, name: str, directory: str | Path) -> Adapter:
        """Load an afuse or AdapterHub adapter directory (safetensors, or weights_only .bin)."""
        if not adapterhub.is_adapter_dir(directory):
            raise MissingInputError(
                f"no adapter in {directory}: expected adapter_config.json and adapter.safetensors "
                "(or AdapterHub's pytorch_adapter.bin)"
            )
        base = str(getattr(self.encoder.config, "name_or_path", "") or "")
        spec, layers, state = adapterhub.read_adapter(
            directory, self.family, self.hidden_size, self.num_layers, self.family_name, base
        )
        adapter = Adapter(spec, self.hidden_size, self.num_layers, layers)
        _load_exact(adapter, state, directory)
        if name in self.adapters:
            del self.adapters[name]
        self.adapters[name] = self._adopt(adapter)
        return adapter

    def save_adapter(self, name: str, directory: str | Path, model_name: str = "") -> Path:
        """adapter.safetensors + adapter_config.json: afuse's format, which is AdapterHub's."""
        self._require(self.adapters, name, "adapter")
        return adapterhub.write_adapter(
            directory, name, self.adapters[name], self.family_name, self.family, model_name
        )

    # --------------------------------------------------------------------------------- heads

    def add_head(self, name: str, task_cfg) -> Head:
        head = head_for_task(task_cfg, self.hidden_size, self._head_dropout())
        self.heads[name] = self._adopt(head)
        return head

    def save_head(self, name: str, path: str | Path, labels: Sequence[str] | None = None) -> Path:
        """`*.safetensors`: afuse's file; a directory: AdapterHub's head format."""
        self._require(self.heads, name, "head")
        head, path = self.heads[name], Path(path)
        if path.suffix == ".safetensors":
            return save_tensors(path, head.state_dict(), {"head": head.describe()})
        return adapterhub.write_head(path, name, head.describe(), head.state_dict(), self.family_name, labels)

    def load_head(self, name: str, path: str | Path, task_cfg=None) -> Head:
        """afuse's head.safetensors or an AdapterHub head directory; with `task_cfg`, the head
        must predict that task's labels (their number, and their names where the file has them)."""
        path = Path(path)
        if path.is_dir():
            desc, state = adapterhub.read_head(path)
        else:
            state, meta = load_tensors(path)
            if not meta or "head" not in meta:
                raise ConfigError(f"{path}: not an afuse head file (no head description in its metadata)")
            desc = meta["head"]
        if task_cfg is not None:
            check_labels(task_cfg, desc, path)
        if int(desc["hidden_size"]) != self.hidden_size:
            raise ConfigError(
                f"{path}: head for hidden size {desc['hidden_size']}, model has {self.hidden_size}"
            )
        head = head_from_description(desc, self._head_dropout())
        _load_exact(head, state, path)
        self.heads[name] = self._adopt(head)
        return head

    # -------------------------------------------------------------------------------- fusion

    def add_fusion(self, sources: Sequence[str], spec: FusionSpec | None = None) -> Fusion:
        """A fusion over loaded adapters `sources` (replaces an existing one)."""
        sources, spec = list(sources), spec or FusionSpec()
        check_sources(dict(self.adapters.items()), sources)
        positions = fused_positions([self.adapters[s].spec.positions for s in sources], spec.sites)
        fusion = Fusion(sources, spec, self.hidden_size, self.num_layers, positions)
        for position, layer in fusion.sites():
            missing = [s for s in sources if self.adapters[s].at(layer, position) is None]
            if missing:
                raise ConfigError(
                    f"fusion layer {layer} ({position}): sources without an adapter there: {', '.join(missing)}"
                )
        self.fusion = self._adopt(fusion)
        self._kept_sources = None
        return fusion

    def save_fusion(self, path: str | Path) -> Path:
        """`*.safetensors`: afuse's file; a directory: AdapterHub's fusion format."""
        fusion, path = self._require_fusion(), Path(path)
        if path.suffix != ".safetensors":
            positions = fused_positions([self.adapters[s].spec.positions for s in fusion.sources], "all")
            return adapterhub.write_fusion(path, fusion, positions, self.family_name, self.family)
        meta = {"sources": fusion.sources, "spec": fusion.spec.to_dict(), "hidden_size": self.hidden_size}
        return save_tensors(path, fusion.state_dict(), meta)

    def load_fusion(self, path: str | Path, spec: FusionSpec | None = None) -> Fusion:
        """Load afuse's fusion.safetensors or an AdapterHub fusion directory; the source adapters
        must be loaded already (under the names the file lists)."""
        path = Path(path)
        if path.is_dir():
            sources, spec_kwargs, state = adapterhub.read_fusion(path, self.family)
            layers = sorted({int(k.split(".")[1]) for k in state})
            skip_last = layers == list(range(self.num_layers - 1))
            base = spec.to_dict() if spec else {"score_dropout": self._attention_dropout()}
            spec = FusionSpec(**{**base, **spec_kwargs, "skip_last_layer": skip_last})
        else:
            state, meta = load_tensors(path)
            if not meta or "sources" not in meta:
                raise ConfigError(f"{path}: not an afuse fusion file (no sources in its metadata)")
            # Files written before fusion.sites existed fused at the FFN position only.
            sources, spec = meta["sources"], spec or FusionSpec(**{"sites": "ffn", **meta["spec"]})
        fusion = self.add_fusion(sources, spec)
        _load_exact(fusion, state, path)
        return fusion

    def fusion_regularization(self) -> torch.Tensor:
        """Σ over layers of ||V - I||² (the caller multiplies by fusion.spec.regularization)."""
        return self._require_fusion().regularization().to(self._device())

    def keep_sources(self, names: Sequence[str] | None) -> None:
        """Pruning: compute the fusion over `names` only (None: all sources). The removed adapters
        are not evaluated at all, and the softmax renormalises over the kept ones."""
        fusion = self._require_fusion()
        if names is None:
            self._kept_sources = None
            return
        unknown = [n for n in names if n not in fusion.sources]
        if unknown or not names:
            raise ConfigError(f"cannot keep {list(names)}: the fusion's sources are {fusion.sources}")
        self._kept_sources = [s for s in fusion.sources if s in set(names)]

    @contextmanager
    def fusion_subset(self, names: Sequence[str]) -> Iterator[None]:
        previous = self._kept_sources
        self.keep_sources(names)
        try:
            yield
        finally:
            self._kept_sources = previous

    def active_sources(self) -> list[str]:
        return list(self._kept_sources or self._require_fusion().sources)

    @contextmanager
    def capture_fusion_activations(self) -> Iterator[ActivationRecorder]:
        """Record the mean fusion softmax weight per (layer, source) over non-padding tokens."""
        fusion = self._require_fusion()
        recorder = ActivationRecorder(self.active_sources(), fusion.layer_indices(), fusion.positions)
        self._recorder = recorder
        try:
            yield recorder
        finally:
            self._recorder = None

    # ---------------------------------------------------------------------- encoder (MT-A)

    def save_encoder(self, path: str | Path) -> Path:
        """The encoder's weights (no adapters: they live outside its module tree)."""
        return save_tensors(path, self.encoder.state_dict(), {"family": self.family_name})

    def load_encoder(self, path: str | Path) -> None:
        state, _ = load_tensors(path)
        _load_exact(self.encoder, state, path)

    # ---------------------------------------------------------------------- state, training

    def set_active(self, adapter: str | None = None, fusion: bool = False, head: str | None = None) -> None:
        """What the forward uses: one adapter (or none), or the fusion over its sources; a head."""
        if adapter is not None and fusion:
            raise ConfigError("set_active: choose one adapter or the fusion, not both")
        if adapter is not None:
            self._require(self.adapters, adapter, "adapter")
        if fusion:
            self._require_fusion()
        if head is not None:
            self._require(self.heads, head, "head")
        self.active_adapter, self.fusion_active, self.active_head = adapter, fusion, head

    def trainable_for(self, kind: str) -> list[nn.Parameter]:
        """Freeze everything but the parameters `kind` trains, and return those:
        adapter: active adapter + head | head: head | full: everything | fusion: fusion + head |
        multitask: encoder + all adapters + all heads."""
        if kind not in TRAINABLE_KINDS:
            raise ConfigError(f"trainable_for: kind={kind!r}; valid: {', '.join(TRAINABLE_KINDS)}")
        if kind == "multitask":
            groups = [self.encoder, self.adapters, self.heads]
        elif kind == "full":
            groups = [self]
        else:
            groups = [self._require(self.heads, self.active_head, "active head")]
            if kind == "adapter":
                groups.append(self._require(self.adapters, self.active_adapter, "active adapter"))
            elif kind == "fusion":
                groups.append(self._require_fusion())
        self.requires_grad_(False)
        for group in groups:
            group.requires_grad_(True)
        return [p for p in self.parameters() if p.requires_grad]

    def parameter_counts(self) -> dict[str, int]:
        """Trainable (requires_grad) and total parameters: the paper's 'trained params / task'."""
        params = list(self.parameters())
        return {
            "trainable": sum(p.numel() for p in params if p.requires_grad),
            "total": sum(p.numel() for p in params),
        }

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (B, labels), or (B, choices) for multiple choice with inputs (B, choices, L)."""
        head = self._require(self.heads, self.active_head, "active head (set_active(head=...))")
        if (input_ids.dim() == 3) != (head.kind == "multiple_choice"):
            raise ConfigError(
                f"head {self.active_head!r} ({head.kind}) got input_ids of shape {tuple(input_ids.shape)}"
            )
        flat = [
            t.reshape(-1, t.shape[-1]) if t is not None else None
            for t in (input_ids, attention_mask, token_type_ids)
        ]
        self._mask = flat[1]
        try:
            hidden = self.encoder(
                input_ids=flat[0], attention_mask=flat[1], token_type_ids=flat[2]
            ).last_hidden_state
        finally:
            self._mask = None
        return head(hidden)

    # ----------------------------------------------------------------------- site routing

    def first_token_only(self) -> bool:
        """Whether the last layer may skip all positions but the first (the heads read only it);
        not while fusion activations are being recorded, which need every token."""
        return self.first_token_shortcut and self._recorder is None

    def site_output(self, layer: int, position: str, h: torch.Tensor, x: torch.Tensor, sub: nn.Module):
        """The output of sub-layer (layer, position), given h = dropout(dense(.)) and residual x."""
        ln = layer_norm_of(sub)
        if h.shape[-2] != x.shape[-2]:  # first-token shortcut in the last layer (inject.py)
            x = x[..., : h.shape[-2], :]
        if self.fusion_active:
            fusion_layer = self.fusion.at(layer, position)
            # A site without fusion (a skipped last layer, Houlsby sources with fusion.sites=ffn):
            # the plain sub-layer, none of the sources' adapters.
            if fusion_layer is None:
                return ln(h + x)
            return self._fused(layer, position, fusion_layer, h, x, ln)
        adapter = self.adapters[self.active_adapter] if self.active_adapter is not None else None
        bottleneck = adapter.at(layer, position) if adapter is not None else None
        if bottleneck is None:
            return ln(h + x)
        return apply_adapter(bottleneck, adapter.spec.ln_before, h, x, ln)

    def _fused(
        self, layer: int, position: str, fusion_layer, h: torch.Tensor, x: torch.Tensor, ln: nn.Module
    ) -> torch.Tensor:
        """As AdapterHub's compose_fuse + post_forward: query and adapter input `a` are the
        adapters' own input at this site, the mixture gets the residuals h and x, then the LayerNorm."""
        sources = self.active_sources()
        adapters = [self.adapters[s] for s in sources]
        a = ln(h + x) if adapters[0].spec.ln_before else h
        stacked = self._stacks.get((layer, position), [ad.at(layer, position) for ad in adapters])
        spec = self.fusion.spec
        out, probs = fuse(fusion_layer, stacked, a, spec.temperature, spec.score_dropout, self.training)
        if self._recorder is not None:
            self._recorder.add(layer, probs, self._mask, position)
        return ln(out + h + x)

    # -------------------------------------------------------------------------------- helpers

    def _adopt(self, module: nn.Module) -> nn.Module:
        """A new part joins on the model's device and in its train/eval mode (as AdapterHub does)."""
        if self.fast_ops:
            fastops.swap_dropouts(module)
        return module.to(self._device()).train(self.training)

    def _device(self) -> torch.device:
        return next(self.encoder.parameters()).device

    def _head_dropout(self) -> float:
        cfg = self.encoder.config
        return float(
            getattr(cfg, "classifier_dropout", None) or getattr(cfg, "hidden_dropout_prob", 0.0) or 0.0
        )

    def _attention_dropout(self) -> float:
        return float(getattr(self.encoder.config, "attention_probs_dropout_prob", 0.0) or 0.0)

    def _require(self, table: nn.ModuleDict, name: str | None, what: str) -> nn.Module:
        if name is None or name not in table:
            have = ", ".join(table.keys()) or "none"
            raise ConfigError(f"no {what} {name!r} in the model (have: {have})")
        return table[name]

    def _require_fusion(self) -> Fusion:
        if self.fusion is None:
            raise ConfigError("the model has no fusion: call add_fusion(sources, spec) or load_fusion(path)")
        return self.fusion


class WeightsMismatchError(ConfigError):
    """A weights file whose tensors do not fit the module its config describes (names or shapes)."""


def _load_exact(module: nn.Module, state: dict[str, torch.Tensor], where) -> None:
    """load_state_dict(strict) with shapes and names checked, reported in one readable line."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or wrong:
        raise WeightsMismatchError(
            f"{where}: weights do not fit: missing {missing[:4]}, unexpected {unexpected[:4]}, wrong shapes {wrong[:4]}"
        )
    module.load_state_dict(state)
