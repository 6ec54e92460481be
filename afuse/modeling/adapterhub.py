"""AdapterHub (`adapters` 1.x, adapter-transformers 3.x) file formats, read and written.

An adapter directory is `adapter_config.json` + `adapter.safetensors` (or the older
`pytorch_adapter.bin`), weights named
`<bert|roberta>.encoder.layer.<i>.<output|attention.output>.adapters.<name>.adapter_{down.0,up}.{weight,bias}`.
afuse's own adapter format *is* this format (safetensors flavour), so every adapter afuse saves
loads in AdapterHub and vice versa. Heads: `head_config.json` + `model_head.safetensors` |
`pytorch_model_head.bin` (keys `heads.<name>.<i>.<weight|bias>`). Fusion:
`adapter_fusion_config.json` + `model_adapter_fusion.safetensors` | `pytorch_model_adapter_fusion.bin`.

Only the configurations afuse implements exactly are accepted (seq_bn / Pfeiffer, double_seq_bn /
Houlsby, 2-layer tanh heads, dynamic / static fusion); anything else is refused with the option
that differs, rather than loaded into something that computes a different function.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import torch

import afuse
from afuse.adapterhub_files import (  # the names live torch-free; imported from here too
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    FUSION_CONFIG,
    FUSION_WEIGHTS,
    HEAD_CONFIG,
    HEAD_WEIGHTS,
)
from afuse.atomic import atomic_write_json
from afuse.errors import ConfigError, MissingInputError
from afuse.modeling.adapters import ATTN, FFN, Adapter, AdapterSpec, site_key
from afuse.modeling.heads import DEFAULT_SHAPE as DEFAULT_HEAD_SHAPE
from afuse.modeling.inject import Family
from afuse.modeling.weights import (
    CorruptWeightsError,
    first_existing,
    load_state_file,
    save_tensors,
    save_torch_state,
)
from afuse.non_linearities import is_non_linearity

log = logging.getLogger(__name__)

# AdapterHub's BnConfig defaults (adapters 1.3.0, configuration/adapter_config.py); a saved
# config lists every key, older ones may omit some.
BN_DEFAULTS = {
    "adapter_residual_before_ln": False,
    "cross_adapter": False,
    "dropout": 0.0,
    "factorized_phm_W": True,
    "factorized_phm_rule": False,
    "hypercomplex_nonlinearity": "glorot-uniform",
    "init_weights": "bert",
    "init_weights_seed": None,
    "inv_adapter": None,
    "inv_adapter_reduction_factor": None,
    "is_parallel": False,
    "learn_phm": True,
    "leave_out": [],
    "ln_after": False,
    "ln_before": False,
    "mh_adapter": False,
    "non_linearity": "relu",
    "original_ln_after": True,
    "original_ln_before": False,
    "output_adapter": True,
    "phm_bias": True,
    "phm_c_init": "normal",
    "phm_dim": 4,
    "phm_init_range": 0.0001,
    "phm_layer": False,
    "phm_rank": 1,
    "reduction_factor": 16,
    "residual_before_ln": True,
    "scaling": 1.0,
    "shared_W_phm": False,
    "shared_phm_rule": True,
    "stochastic_depth": 0.0,
    "use_gating": False,
}
# variant -> the options that define it (SeqBnConfig, DoubleSeqBnConfig)
VARIANT_OPTIONS = {
    "pfeiffer": {"mh_adapter": False, "output_adapter": True, "original_ln_before": True},
    "houlsby": {"mh_adapter": True, "output_adapter": True, "original_ln_before": False},
}
# options whose value must be exactly this for afuse to compute the same function
REQUIRED_OPTIONS = {
    "original_ln_after": True,
    "residual_before_ln": True,
    "ln_before": False,
    "ln_after": False,
    "is_parallel": False,
    "phm_layer": False,
    "use_gating": False,
    "scaling": 1.0,
    "dropout": 0.0,
    "stochastic_depth": 0.0,
    "inv_adapter": None,
}
MODEL_CLASS = {"bert": "BertAdapterModel", "roberta": "RobertaAdapterModel"}
_ADAPTER_KEY = re.compile(
    r"(?:^|\.)encoder\.layer\.(\d+)\.(.+?)\.adapters\.(.+)\.(adapter_down\.0|adapter_up)\.(weight|bias)$"
)


def read_json(path: Path) -> dict:
    """The JSON object beside AdapterHub weights; one that does not read is damaged like a
    truncated weights file (what wrote it must write it again)."""
    if not path.is_file():
        raise MissingInputError(f"{path.name} not found in {path.parent}")
    try:
        meta = json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as exc:
        raise CorruptWeightsError(path, f"not readable JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise CorruptWeightsError(path, "not a JSON object")
    return meta


def _weights(directory: Path, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    path = first_existing(directory, names)
    if path is None:
        raise MissingInputError(f"no weights in {directory}: expected one of {', '.join(names)}")
    return load_state_file(path)


def _save_weights(directory: Path, names: tuple[str, str], tensors: dict[str, torch.Tensor]) -> None:
    """Both of AdapterHub's weight files: safetensors (what afuse reads) and the .bin the library's
    default calls (load_adapter(dir), load_head(dir), load_adapter_fusion(dir)) read. The .bin is a
    plain dict of tensors: safe to write, and read back (by afuse too) with weights_only=True."""
    save_tensors(directory / names[0], tensors)
    save_torch_state(directory / names[1], tensors)


def _write_config(
    path: Path, name: str, config: dict, hidden_size: int, fam_name: str, model_name: str = "", **extra
):
    """The JSON beside AdapterHub weights: the `config` block and what the library checks on load."""
    meta = {
        **extra,
        "config": config,
        "hidden_size": hidden_size,
        "model_class": MODEL_CLASS.get(fam_name, ""),
        "model_name": model_name,
        "model_type": fam_name,
        "name": name,
        "version": f"afuse.{afuse.__version__}",
    }
    atomic_write_json(path, dict(sorted(meta.items())))


def is_adapter_dir(directory: str | Path) -> bool:
    directory = Path(directory)
    return (directory / ADAPTER_CONFIG).is_file() and first_existing(directory, ADAPTER_WEIGHTS) is not None


# ---------------------------------------------------------------------------------------- adapters


def spec_from_config(raw: dict, where: str = "adapter") -> tuple[AdapterSpec, list[int]]:
    """AdapterSpec and leave_out layers from an AdapterHub adapter_config.json's `config`."""
    if isinstance(raw, str):  # a bare identifier such as "seq_bn" or "pfeiffer"
        raw = {"pfeiffer": VARIANT_OPTIONS["pfeiffer"], "seq_bn": VARIANT_OPTIONS["pfeiffer"]}.get(
            raw, {"houlsby": VARIANT_OPTIONS["houlsby"], "double_seq_bn": VARIANT_OPTIONS["houlsby"]}.get(raw)
        )
        if raw is None:
            raise ConfigError(f"{where}: unknown AdapterHub config identifier")
    if raw.get("architecture") not in (None, "bottleneck"):
        raise ConfigError(f"{where}: architecture {raw['architecture']!r} is not a bottleneck adapter")
    if raw.get("invertible_adapter"):  # adapter-transformers 1.x/2.x spelling
        raise ConfigError(f"{where}: invertible adapters (language adapters) are not supported")
    cfg = {**BN_DEFAULTS, **raw}
    wrong = [f"{k}={cfg[k]!r} (need {v!r})" for k, v in REQUIRED_OPTIONS.items() if cfg[k] != v]
    if wrong:
        raise ConfigError(f"{where}: unsupported AdapterHub options: {', '.join(wrong)}")
    variant = next(
        (name for name, opts in VARIANT_OPTIONS.items() if all(cfg[k] == v for k, v in opts.items())), None
    )
    if variant is None:
        got = {k: cfg[k] for k in VARIANT_OPTIONS["pfeiffer"]}
        raise ConfigError(f"{where}: neither seq_bn (Pfeiffer) nor double_seq_bn (Houlsby): {got}")
    rf = cfg["reduction_factor"]
    if isinstance(rf, dict):
        values = set(rf.values())
        if len(values) != 1:
            raise ConfigError(f"{where}: per-layer reduction factors {rf} are not supported")
        rf = values.pop()
    if not is_non_linearity(str(cfg["non_linearity"])):
        raise ConfigError(f"{where}: non_linearity {cfg['non_linearity']!r} is not supported")
    spec = AdapterSpec(variant, rf, str(cfg["non_linearity"]).lower())
    return spec, sorted(int(i) for i in cfg["leave_out"])


def _warn_other_base(directory: Path, saved_from: str, base_model: str) -> None:
    """The library records the model an adapter was saved from (`model_name`; empty for a model
    built from a config, and in afuse's own files). Shapes and model type cannot tell
    bert-base-cased from bert-base-uncased: only this name can. Compared by the id's last part
    (bert-base-uncased = google-bert/bert-base-uncased); a warning, since a local copy of the same
    model has another name."""

    def short(name: str) -> str:
        return name.rstrip("/").rsplit("/", 1)[-1].lower()

    if saved_from and base_model and short(saved_from) != short(base_model):
        log.warning(
            "%s: this adapter was saved from model %s (its adapter_config.json) and is loaded into %s: "
            "unless that is the same model, it computes something it was not trained for",
            directory,
            saved_from,
            base_model,
        )


def config_for_spec(spec: AdapterSpec, leave_out: list[int]) -> dict:
    """The full AdapterHub `config` block for an afuse adapter."""
    cfg = {**BN_DEFAULTS, **VARIANT_OPTIONS[spec.variant]}
    cfg.update(reduction_factor=spec.reduction_factor, non_linearity=spec.non_linearity, leave_out=leave_out)
    return cfg


def read_adapter(
    directory: str | Path,
    fam: Family,
    hidden_size: int,
    num_layers: int,
    model_type: str | None = None,
    base_model: str = "",
):
    """(spec, layers, state_dict for afuse's Adapter) from an AdapterHub-format directory;
    `model_type` (bert, roberta): refuse an adapter its config says was trained on another;
    `base_model` (the encoder's name_or_path): warn where its config names another model."""
    directory = Path(directory)
    meta = read_json(directory / ADAPTER_CONFIG)
    _warn_other_base(directory, str(meta.get("model_name") or ""), base_model)
    if meta.get("hidden_size") not in (None, hidden_size):
        raise ConfigError(
            f"{directory}: adapter for hidden size {meta['hidden_size']}, model has {hidden_size}"
        )
    if model_type and meta.get("model_type") not in (None, "", model_type):
        raise ConfigError(
            f"{directory}: adapter trained on a {meta['model_type']} model; this model is {model_type} "
            "(same width, other weights): use an adapter trained on this model"
        )
    spec, leave_out = spec_from_config(meta.get("config", {}), where=str(directory))
    layers = [i for i in range(num_layers) if i not in leave_out]
    path_to_pos = {path: pos for pos, path in fam.positions.items()}
    state, names = {}, set()
    for key, tensor in _weights(directory, ADAPTER_WEIGHTS).items():
        m = _ADAPTER_KEY.search(key)
        if m is None or m.group(2) not in path_to_pos:
            raise ConfigError(
                f"{directory}: unexpected weight {key!r} (only bottleneck adapter weights are supported)"
            )
        layer, path, name, part, kind = m.groups()
        names.add(name)
        local = {"adapter_down.0": "down", "adapter_up": "up"}[part]
        state[f"sites.{site_key(int(layer), path_to_pos[path])}.{local}.{kind}"] = tensor
    if len(names) > 1:
        raise ConfigError(f"{directory}: weights of several adapters ({sorted(names)}) in one file")
    return spec, layers, state


def write_adapter(
    directory: str | Path, name: str, adapter: Adapter, fam_name: str, fam: Family, model_name: str
):
    """Write `adapter` in AdapterHub's safetensors format (afuse's own adapter format)."""
    directory = Path(directory)
    prefix = f"{fam_name}.encoder.layer"
    tensors = {}
    for key, tensor in adapter.state_dict().items():
        _, site, local, kind = key.split(".")
        layer, pos = site.split("_")
        part = {"down": "adapter_down.0", "up": "adapter_up"}[local]
        tensors[f"{prefix}.{layer}.{fam.positions[pos]}.adapters.{name}.{part}.{kind}"] = tensor
    leave_out = [i for i in range(adapter.num_layers) if i not in adapter.layers()]
    _save_weights(directory, ADAPTER_WEIGHTS, tensors)
    config = config_for_spec(adapter.spec, leave_out)
    _write_config(directory / ADAPTER_CONFIG, name, config, adapter.hidden_size, fam_name, model_name)
    return directory


def copy_adapter(source: str | Path, target: str | Path, name: str) -> Path:
    """Write the adapter directory `source` (afuse or AdapterHub format) to `target` under `name`
    (the library loads it under the name in its config, and a fusion refers to its sources by
    name), with both weight files."""
    source, target = Path(source), Path(target)
    meta = read_json(source / ADAPTER_CONFIG)
    spec_from_config(meta.get("config", {}), where=str(source))  # only what afuse computes exactly
    tensors = {}
    for key, tensor in _weights(source, ADAPTER_WEIGHTS).items():
        m = _ADAPTER_KEY.search(key)
        if m is None:
            raise ConfigError(
                f"{source}: unexpected weight {key!r} (only bottleneck adapter weights are supported)"
            )
        start, end = m.span(3)
        tensors[key[:start] + name + key[end:]] = tensor
    _save_weights(target, ADAPTER_WEIGHTS, tensors)
    atomic_write_json(target / ADAPTER_CONFIG, {**meta, "name": name})
    return target


# ------------------------------------------------------------------------------------------- heads


def read_head(directory: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(afuse head description, state_dict for afuse's Head) from an AdapterHub head directory."""
    directory = Path(directory)
    meta = read_json(directory / HEAD_CONFIG)
    cfg = meta.get("config", {})
    kind = cfg.get("head_type")
    layers, act = cfg.get("layers", 2), cfg.get("activation_function", "tanh")
    if (
        kind not in ("classification", "multiple_choice")
        or layers not in (1, 2)
        or cfg.get("use_pooler", False)
        or (layers == 2 and act is not None and not is_non_linearity(str(act)))
    ):
        raise ConfigError(
            f"{directory}: only classification / multiple_choice heads of 1 or 2 layers on the first token, "
            f"with a supported activation, are supported (head_type={kind!r} layers={layers!r} "
            f"activation_function={act!r} use_pooler={cfg.get('use_pooler')!r})"
        )
    state = {}
    for key, tensor in _weights(directory, HEAD_WEIGHTS).items():
        m = re.search(r"(?:^|\.)heads\.([^.]+)\.(\d+\.(?:weight|bias))$", key)
        if m is None:
            raise ConfigError(f"{directory}: unexpected head weight {key!r}")
        if meta.get("name") not in (None, m.group(1)):
            continue  # adapters 1.3.0 also saves the heads whose name starts with this one's
        state[m.group(2)] = tensor
    desc = {
        "kind": kind,
        "hidden_size": meta.get("hidden_size") or state["1.weight"].shape[1],
        "num_labels": cfg.get("num_labels"),
        "num_choices": cfg.get("num_choices"),
    }
    shape = {
        "layers": layers,
        "activation": str(act).lower() if act and layers == 2 else None,
        "bias": cfg.get("bias", True) is not False,
    }
    if shape != DEFAULT_HEAD_SHAPE:
        desc.update(shape)
    label2id = cfg.get("label2id")
    if kind == "classification" and isinstance(label2id, dict):
        desc["labels"] = [name for name, _ in sorted(label2id.items(), key=lambda item: item[1])]
    return desc, state


def write_head(directory: str | Path, name: str, desc: dict, state: dict, fam_name: str, labels=None) -> Path:
    """Write a head in AdapterHub's format: safetensors, and the .bin the library loads by default."""
    directory = Path(directory)
    shape = {**DEFAULT_HEAD_SHAPE, **{k: desc[k] for k in DEFAULT_HEAD_SHAPE if k in desc}}
    cfg = {
        "activation_function": shape["activation"],
        "dropout_prob": None,
        "head_type": desc["kind"],
        "layers": shape["layers"],
        "use_pooler": False,
    }
    if desc["kind"] == "classification":
        cfg.update(num_labels=desc["num_labels"], bias=shape["bias"])
        names = list(labels) if labels else [f"LABEL_{i}" for i in range(desc["num_labels"])]
    else:
        cfg.update(num_choices=desc["num_choices"])
        names = [f"LABEL_{i}" for i in range(desc["num_choices"])]
    cfg["label2id"] = {label: i for i, label in enumerate(names)}
    _save_weights(directory, HEAD_WEIGHTS, {f"heads.{name}.{k}": v for k, v in state.items()})
    _write_config(directory / HEAD_CONFIG, name, dict(sorted(cfg.items())), desc["hidden_size"], fam_name)
    return directory


# ------------------------------------------------------------------------------------------ fusion


def read_fusion(directory: str | Path, fam: Family) -> tuple[list[str], dict, dict[str, torch.Tensor]]:
    """(source names, FusionSpec keyword arguments, state_dict for afuse's Fusion)."""
    directory = Path(directory)
    meta = read_json(directory / FUSION_CONFIG)
    cfg = meta.get("config", {})
    if cfg.get("query") is not True or cfg.get("key") is not True:
        raise ConfigError(f"{directory}: only fusion with query and key projections is supported")
    if cfg.get("query_before_ln") or cfg.get("residual_before") or cfg.get("temperature"):
        raise ConfigError(
            f"{directory}: unsupported fusion options (query_before_ln, residual_before and the "
            "annealed temperature must be off)"
        )
    kind = "dynamic" if cfg.get("value") else "static"
    spec = {"kind": kind}
    if cfg.get("dropout_prob") is not None:
        spec["score_dropout"] = float(cfg["dropout_prob"])
    sources = list(meta["adapter_names"])
    name = meta.get("name") or ",".join(sources)
    pattern = re.compile(
        r"(?:^|\.)encoder\.layer\.(\d+)\.(.+?)\.adapter_fusion_layer\.([^.]+)\.(query|key|value)\.(weight|bias)$"
    )
    path_to_table = {fam.positions[FFN]: "layers", fam.positions[ATTN]: "attention_layers"}
    state = {}
    for key, tensor in _weights(directory, FUSION_WEIGHTS).items():
        m = pattern.search(key)
        if m is None:
            raise ConfigError(f"{directory}: unexpected fusion weight {key!r}")
        layer, path, fusion_name, part, param = m.groups()
        if fusion_name != name:
            # adapters 1.3.0's safetensors save also writes the fusions whose name starts with this one's
            continue
        if path not in path_to_table:
            raise ConfigError(f"{directory}: fusion at {path!r}, which is not an adapter position")
        state[f"{path_to_table[path]}.{layer}.{part}.{param}"] = tensor
    if not state:
        raise ConfigError(f"{directory}: no weights of fusion {name!r}")
    # The library fuses at every position all sources have adapters: both for Houlsby sources.
    spec["sites"] = "all" if any(k.startswith("attention_layers.") for k in state) else "ffn"
    return sources, spec, state


# Fusion configs as the library writes them (DynamicAdapterFusionConfig, StaticAdapterFusionConfig);
# value_before_softmax: V applied to each adapter output before mixing is V applied to the mixture.
FUSION_CONFIGS = {
    "dynamic": {"value": True, "value_initialized": True, "regularization": True},
    "static": {"value": False, "value_initialized": False, "regularization": False},
}


def check_exportable(fusion, source_positions: tuple[str, ...]) -> None:
    """Refuse a fusion the library would compute differently (before anything is written)."""
    if tuple(fusion.positions) != tuple(source_positions):
        raise ConfigError(
            f"a fusion at {'+'.join(fusion.positions)} over adapters at {'+'.join(source_positions)} cannot be "
            "exported: AdapterHub fuses at every position its sources have adapters (Houlsby: after attention "
            "and after the FFN), so fusion.sites=ffn over Houlsby adapters has no AdapterHub equivalent; "
            "train the fusion with fusion.sites=all to export it"
        )
    if fusion.spec.temperature != 1.0:
        raise ConfigError(
            f"a fusion with temperature {fusion.spec.temperature} cannot be exported: AdapterHub's fusion has no "
            "fixed softmax temperature (its `temperature` option anneals from 50)"
        )


def write_fusion(
    directory: str | Path,
    fusion,
    source_positions: tuple[str, ...],
    fam_name: str,
    fam: Family,
    model_name: str = "",
) -> Path:
    """Write `fusion` as AdapterHub's fusion directory (`load_adapter_fusion(dir)` in the library;
    its sources, whose adapters sit at `source_positions`, must be loaded there under the same names)."""
    directory = Path(directory)
    spec = fusion.spec
    check_exportable(fusion, source_positions)
    name = ",".join(fusion.sources)
    tensors = {}
    for position, layer in fusion.sites():
        prefix = f"{fam_name}.encoder.layer.{layer}.{fam.positions[position]}.adapter_fusion_layer.{name}"
        for key, tensor in fusion.at(layer, position).state_dict().items():
            tensors[f"{prefix}.{key}"] = tensor
    config = {
        "dropout_prob": spec.score_dropout,
        "key": True,
        "query": True,
        "query_before_ln": False,
        "residual_before": False,
        "temperature": False,
        "value_before_softmax": True,
        **FUSION_CONFIGS[spec.kind],
    }
    _save_weights(directory, FUSION_WEIGHTS, tensors)
    config = dict(sorted(config.items()))
    _write_config(
        directory / FUSION_CONFIG,
        name,
        config,
        fusion.hidden_size,
        fam_name,
        model_name,
        adapter_names=list(fusion.sources),
    )
    return directory
