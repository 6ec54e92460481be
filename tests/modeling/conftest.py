"""Tiny encoders built from config (no downloads) and the AdapterHub fixture, for modeling tests."""

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file
from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel

from afuse.modeling import AfuseModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "adapterhub"

TINY = dict(
    vocab_size=120,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=48,
    max_position_embeddings=40,
)


def tiny_encoder(family: str = "bert", seed: int = 0, **overrides):
    torch.manual_seed(seed)
    if family == "roberta":
        return RobertaModel(
            RobertaConfig(**{**TINY, "pad_token_id": 1, **overrides}), add_pooling_layer=False
        )
    return BertModel(BertConfig(**{**TINY, **overrides}), add_pooling_layer=False)


def task(kind: str = "pair", labels=("yes", "no"), num_choices=None):
    return OmegaConf.create(
        {"name": "t", "kind": kind, "labels": list(labels) if labels else None, "num_choices": num_choices}
    )


def tiny_model(family: str = "bert", seed: int = 0, **overrides) -> AfuseModel:
    return AfuseModel(tiny_encoder(family, seed, **overrides), family=family)


def batch(b: int = 3, length: int = 9, vocab: int = 120, seed: int = 0, pad_lengths=None):
    """Random ids with right padding (lengths pad_lengths, default a spread)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (b, length), generator=g)
    lengths = pad_lengths or [length - (i * 3) % length for i in range(b)]
    mask = torch.zeros(b, length, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, : max(1, n)] = 1
    return ids * mask, mask


@pytest.fixture(scope="session")
def hub_fixture():
    """(meta, expected tensors, base-encoder factory) of tests/fixtures/adapterhub."""
    meta = json.loads((FIXTURES / "fixtures.json").read_text())
    expected = load_file(FIXTURES / "expected.safetensors")
    base = load_file(FIXTURES / "base.safetensors")

    def make_model() -> AfuseModel:
        encoder = BertModel(BertConfig(**meta["bert_config"]), add_pooling_layer=False)
        encoder.load_state_dict(base)
        return AfuseModel(encoder.eval(), family="bert").eval()

    return meta, expected, make_model
