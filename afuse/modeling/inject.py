"""Put adapter sites into a transformers encoder.

A site is a sub-layer output module of the form `LayerNorm(dropout(dense(hidden)) + input)` (BERT's
BertOutput and BertSelfOutput, RoBERTa's equivalents). We swap its class for a subclass whose
forward hands `h = dropout(dense(hidden))`, the residual input and the LayerNorm to a `router`,
which applies whatever adapter or fusion is active. The encoder's own parameters and state_dict
are untouched (adapters live in AfuseModel), so a fine-tuned encoder saves as a plain checkpoint.

Another encoder with the same anatomy is one FAMILIES entry away.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from afuse.errors import ConfigError
from afuse.modeling.adapters import ATTN, FFN


@dataclass(frozen=True)
class Family:
    layers: str  # dotted path from the encoder to its list of layers
    positions: dict[str, str]  # position -> dotted path inside a layer to the sub-layer output module
    self_attention: str = "attention.self"  # inside a layer: returns (context, weights)
    dense: str = "dense"
    dropout: str = "dropout"
    layer_norm: str = "LayerNorm"


_BERT_LIKE = Family(layers="encoder.layer", positions={FFN: "output", ATTN: "attention.output"})

FAMILIES: dict[str, Family] = {
    "bert": _BERT_LIKE,
    "roberta": _BERT_LIKE,
}


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"model family {name!r} is not supported; valid: {', '.join(FAMILIES)}") from None


def _get(module: nn.Module, path: str) -> nn.Module:
    for part in path.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


def encoder_layers(encoder: nn.Module, fam: Family) -> nn.ModuleList:
    return _get(encoder, fam.layers)


_SITE_CLASSES: dict[type, type] = {}


def _site_class(cls: type, fam: Family) -> type:
    """A subclass of the sub-layer's class whose forward defers to the router (cached per class)."""
    if cls in _SITE_CLASSES:
        return _SITE_CLASSES[cls]

    def forward(self, hidden_states, input_tensor):
        h = getattr(self, fam.dropout)(getattr(self, fam.dense)(hidden_states))
        return self._afuse_router.site_output(self._afuse_layer, self._afuse_position, h, input_tensor, self)

    sub = type(f"Afuse{cls.__name__}", (cls,), {"forward": forward, "_afuse_family": fam})
    _SITE_CLASSES[cls] = sub
    return sub


def install_sites(encoder: nn.Module, fam: Family, router) -> int:
    """Route every sub-layer output of every layer through `router`; returns the number of layers."""
    layers = encoder_layers(encoder, fam)
    if getattr(_get(layers[0], fam.positions[FFN]), "_afuse_router", None) is not None:
        raise ConfigError(
            "this encoder already belongs to an AfuseModel; load a fresh encoder for another one"
        )
    for i, layer in enumerate(layers):
        for position, path in fam.positions.items():
            sub = _get(layer, path)
            if not isinstance(getattr(sub, fam.layer_norm, None), nn.LayerNorm):
                raise ConfigError(
                    f"layer {i}: {path} has no {fam.layer_norm}; the model family mapping does not fit"
                )
            if not getattr(sub, "_afuse_family", None):
                sub.__class__ = _site_class(type(sub), fam)
            # Plain attributes, not submodules: the router is owned by AfuseModel.
            object.__setattr__(sub, "_afuse_router", router)
            object.__setattr__(sub, "_afuse_layer", i)
            object.__setattr__(sub, "_afuse_position", position)
    return len(layers)


def install_first_token_shortcut(encoder: nn.Module, fam: Family, router) -> None:
    """Let the last layer compute only the first token's output when `router.first_token_only()`.

    afuse's heads read the first token of the last layer and nothing else, so the last layer's
    other positions are needless work: their attention output projection, FFN, adapters and
    LayerNorms (~3/4 of the layer). The attention itself still reads every key and value, so the
    first token's output is exactly what the full layer would give. Slicing the self-attention's
    context makes the rest of the layer (attention-output site, FFN, FFN site) run on one token;
    the attention-output site slices its residual input to match (see AfuseModel.site_output).
    """
    attention = _get(encoder_layers(encoder, fam)[-1], fam.self_attention)
    object.__setattr__(attention, "_afuse_router", router)  # an attribute, so deepcopy re-points it
    attention.register_forward_hook(_first_token_hook)


def _first_token_hook(module, args, output):
    if not module._afuse_router.first_token_only():
        return output
    return (output[0][:, :1], *output[1:])


def layer_norm_of(sub: nn.Module) -> nn.LayerNorm:
    return getattr(sub, sub._afuse_family.layer_norm)
