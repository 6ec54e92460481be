"""Prediction heads, shaped like AdapterHub's heads so their files load unchanged.

AdapterHub's classification and multiple-choice heads (on the first token, not on BERT's pooler)
are built layer by layer: per layer a Dropout, then Linear(h, h) and the activation for all but
the last, which is Linear(h, out). The default (layers=2, tanh) is
`Sequential(Dropout, Linear(h, h), Tanh, Dropout, Linear(h, out))`; ours are the same Sequential,
so state_dict keys (`1.weight`, `4.weight`, ...) match theirs after the `heads.<name>.` prefix,
for the other depths and activations too. Multiple choice scores each (context, choice) sequence
with one logit and reshapes to (batch, choices).
"""

from __future__ import annotations

import torch
from torch import nn

from afuse.errors import ConfigError
from afuse.modeling.adapters import activation

HEAD_KINDS = ("classification", "multiple_choice")


# The architecture of AdapterHub's default head; describe() lists only what differs from it.
DEFAULT_SHAPE = {"layers": 2, "activation": "tanh", "bias": True}


class Activation(nn.Module):
    def __init__(self, name: str):
        super().__init__()
        self.name, self.fn = name, activation(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


class Head(nn.Sequential):
    def __init__(
        self,
        kind: str,
        hidden_size: int,
        num_labels: int = 2,
        num_choices: int | None = None,
        dropout: float = 0.1,
        layers: int = 2,
        activation: str | None = "tanh",
        bias: bool = True,
    ):
        if kind not in HEAD_KINDS:
            raise ConfigError(f"head kind {kind!r} is not supported; valid: {', '.join(HEAD_KINDS)}")
        if kind == "multiple_choice" and not (num_choices and num_choices >= 2):
            raise ConfigError(f"a multiple_choice head needs num_choices >= 2, got {num_choices!r}")
        if kind == "classification" and not num_labels >= 2:
            raise ConfigError(f"a classification head needs >= 2 labels, got {num_labels!r}")
        if layers not in (1, 2):
            raise ConfigError(f"heads have 1 or 2 layers, got {layers!r}")
        out = 1 if kind == "multiple_choice" else num_labels
        modules = [nn.Dropout(dropout)]
        if layers == 2:
            modules.append(nn.Linear(hidden_size, hidden_size))
            if activation:
                modules.append(nn.Tanh() if activation == "tanh" else Activation(activation))
            modules.append(nn.Dropout(dropout))
        modules.append(nn.Linear(hidden_size, out, bias=bias))
        super().__init__(*modules)
        self.kind = kind
        self.hidden_size = hidden_size
        self.num_labels = num_labels if kind == "classification" else None
        self.num_choices = num_choices if kind == "multiple_choice" else None
        self.shape = {"layers": layers, "activation": activation if layers == 2 else None, "bias": bias}
        for lin in (m for m in self if isinstance(m, nn.Linear)):  # BERT init, as AdapterHub applies
            nn.init.normal_(lin.weight, std=0.02)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (sequences, length, h) -> logits (B, labels), or (B, choices) for multiple choice."""
        logits = super().forward(hidden[:, 0])
        if self.kind == "multiple_choice":
            return logits.view(-1, self.num_choices)
        return logits

    def describe(self) -> dict:
        desc = {
            "kind": self.kind,
            "hidden_size": self.hidden_size,
            "num_labels": self.num_labels,
            "num_choices": self.num_choices,
        }
        if self.shape != DEFAULT_SHAPE:
            desc.update(self.shape)
        return desc


def head_for_task(task_cfg, hidden_size: int, dropout: float = 0.1) -> Head:
    """The head a task config asks for: `kind` single | pair -> classification over `labels`,
    multiple_choice -> one logit per choice (`num_choices`)."""
    kind = str(task_cfg.kind)
    if kind in ("single", "pair"):
        labels = task_cfg.get("labels")
        if not labels:
            raise ConfigError(f"task {task_cfg.get('name')!r}: kind={kind} needs a list of labels")
        return Head("classification", hidden_size, num_labels=len(labels), dropout=dropout)
    if kind == "multiple_choice":
        return Head("multiple_choice", hidden_size, num_choices=task_cfg.get("num_choices"), dropout=dropout)
    raise ConfigError(f"task {task_cfg.get('name')!r}: kind={kind!r}; valid: single, pair, multiple_choice")


def head_from_description(desc: dict, dropout: float = 0.1) -> Head:
    return Head(
        desc["kind"],
        int(desc["hidden_size"]),
        num_labels=desc.get("num_labels") or 2,
        num_choices=desc.get("num_choices"),
        dropout=dropout,
        **{key: desc.get(key, default) for key, default in DEFAULT_SHAPE.items()},
    )
