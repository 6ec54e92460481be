"""Tiny encoders built from config (no downloads) and the AdapterHub fixture, for modeling tests."""

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file
from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel

from afuse.modeling import AfuseModel
from tests.from_conf import tiny_bert_settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "adapterhub"


def tiny_encoder(family: str = "bert", seed: int = 0, **overrides):
    """model=tiny's architecture, random weights from `seed` (a RoBERTa one pads with id 1, as RoBERTa does)."""
    torch.manual_seed(seed)
    if family == "roberta":
        return RobertaModel(
            RobertaConfig(**tiny_bert_settings(**overrides), pad_token_id=1), add_pooling_layer=False
        )
    return BertModel(BertConfig(**tiny_bert_settings(**overrides)), add_pooling_layer=False)


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


HUB_FAMILIES = ("bert", "roberta")
_ENCODERS = {"bert": (BertConfig, BertModel), "roberta": (RobertaConfig, RobertaModel)}


def load_hub_fixture(family: str):
    """(meta, expected tensors, base-encoder factory) of tests/fixtures/adapterhub/<family>."""
    root = FIXTURES / family
    meta = json.loads((root / "fixtures.json").read_text())
    expected = load_file(root / "expected.safetensors")
    base = load_file(root / "base.safetensors")
    config_cls, encoder_cls = _ENCODERS[family]
    config = {k: v for k, v in meta["config"].items() if k != "model_type"}

    def make_model() -> AfuseModel:
        encoder = encoder_cls(config_cls(**config), add_pooling_layer=False)
        encoder.load_state_dict(base)
        return AfuseModel(encoder.eval(), family=family).eval()

    return meta, expected, make_model


@pytest.fixture(scope="session", params=HUB_FAMILIES)
def hub_fixture(request):
    """(meta, expected tensors, base-encoder factory, fixture directory), for each family."""
    return (*load_hub_fixture(request.param), FIXTURES / request.param)
