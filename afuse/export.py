"""Export a finished run as AdapterHub files: what `afuse export run=<run dir> out=<dir>` writes.

    export_run(run_dir, out, with_encoder=None) -> Export   # out/ appears whole, export.json in it
    # with_encoder: None = for MT-A only, True = always, False = never (refused for MT-A)

Every directory written is one the `adapters` library (1.3.0) loads with its default calls,
`model.load_adapter(dir)` (adapter and, where there is one, its head) and
`model.load_adapter_fusion(dir)` (fusion and the target's head); each holds both weight files
(safetensors and the plain tensor `.bin` the library reads by default).

    train-adapter run  out/<task>/                 adapter + head
    fuse run           out/<source>/ per source    adapters
                       out/fusion/                 fusion (both sites for Houlsby sources) + head
    train-multitask    out/<task>/ per task        adapter + head
    MT-A (and F. w/ MT-A, or with_encoder=true)    out/encoder/: the encoder as a transformers model
                                                   directory (config.json + model.safetensors)

Only files are read and written (no model is built) unless an encoder is exported.

export.json records the run's model, so that `afuse evaluate adapterhub=<out>/<task>` scores the
adapter on the base it was trained with (afuse/export_manifest.py reads it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from omegaconf import OmegaConf
from safetensors import SafetensorError

from afuse.atomic import atomic_write_json, write_error
from afuse.config import recorded_task_config
from afuse.errors import ConfigError, MissingInputError, WriteError
from afuse.export_manifest import ENCODER_DIR, MANIFEST
from afuse.modeling import adapterhub
from afuse.modeling.fusion import Fusion, FusionSpec
from afuse.modeling.inject import family as model_family
from afuse.modeling.weights import load_tensors
from afuse.run_model import ENCODER_FILE, check_run_files, fusion_sources, missing_weights, run_config
from afuse.runs import read_metrics
from afuse.staging import staged

EXPORTABLE = ("train-adapter", "fuse", "train-multitask")
FUSION_DIR = "fusion"


@dataclass
class Export:
    """What was written: adapter directories by name, the fusion and encoder directories."""

    out: Path
    family: str
    base_model: str  # how the library gets the base encoder when no encoder/ is exported
    model: dict = field(default_factory=dict)  # the run's model config (conf/model/<name>.yaml as composed)
    adapters: dict[str, Path] = field(default_factory=dict)
    heads: dict[str, Path] = field(default_factory=dict)
    fusion: Path | None = None
    encoder: Path | None = None
    encoder_trained: bool = False  # out/encoder/ holds a run's fine-tuned encoder (MT-A), not the base

    def loading_code(self) -> str:
        """The library calls that load the export (printed by the command)."""
        model_class = adapterhub.MODEL_CLASS.get(self.family, "BertAdapterModel")
        base = f'"{self.encoder or self.base_model}"'
        lines = [
            f"from adapters import {model_class}",
            f"model = {model_class}.from_pretrained({base})",
            *(f'model.load_adapter("{path}")' for path in self.adapters.values()),
        ]
        if self.fusion:
            from_names = ", ".join(f'"{name}"' for name in self.adapters)
            lines += [
                "from adapters.composition import Fuse",
                f'model.load_adapter_fusion("{self.fusion}")',
                f"model.set_active_adapters(Fuse({from_names}))",
            ]
            # A Fuse names no head, so the library activates none (the model would return hidden
            # states): the target's head, loaded with the fusion, is activated by its name.
            lines += [
                f'model.active_head = "{name}"' for name, path in self.heads.items() if path == self.fusion
            ]
        else:
            lines.append(f'model.set_active_adapters("{next(iter(self.adapters))}")')
        return "\n".join(lines)


def export_run(run_dir: str | Path, out: str | Path, with_encoder: bool | None = None) -> Export:
    """Write the export, export.json last, in a hidden folder beside `out`, and rename it to `out`
    when complete: an export that fails or is killed half way leaves no `out` that looks written."""
    run_dir, out = Path(run_dir), Path(out)
    cfg = run_config(run_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out={out} is a file; choose a new directory for the export")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(
            f"out={out} is not empty; choose a new directory (an export never mixes with other files)"
        )
    metrics = read_metrics(run_dir)
    command = metrics.get("command")
    if command not in EXPORTABLE:
        raise ConfigError(
            f"{run_dir} is a {command} run; afuse export writes AdapterHub files of "
            f"{', '.join(EXPORTABLE)} runs (a Full or Head baseline has no adapter)"
        )
    for task in cfg.tasks if command == "train-multitask" else [cfg.task.name]:
        check_run_files(run_dir, cfg, str(metrics.get("kind")), str(task))  # before anything is written
    with staged(out) as staging:
        try:
            export = _rebased(_write_export(run_dir, staging.path, cfg, command, with_encoder), out)
            _write_manifest(export, run_dir, staging.path)
        except WriteError as error:  # name the folder the user gave, not the removed staging one
            raise WriteError(str(error).replace(str(staging.path), str(out))) from None
        staging.publish()
    return export


def _write_export(run_dir: Path, out: Path, cfg, command: str, with_encoder: bool | None) -> Export:
    export = Export(out, str(cfg.model.family), _base_model(cfg.model), _model_config(cfg.model))
    if command == "train-adapter":
        task = str(cfg.task.name)
        _adapter(export, run_dir, task)
        _head(export, run_dir / "head.safetensors", task, cfg.task, export.adapters[task])
        encoder_run = run_dir if with_encoder else None
    elif command == "train-multitask":
        for task in cfg.tasks:
            task = str(task)
            _adapter(export, run_dir / "adapters" / task, task)
            _head(
                export,
                run_dir / "heads" / f"{task}.safetensors",
                task,
                recorded_task_config(cfg, task),
                export.adapters[task],
            )
        encoder_run = _mt_a_encoder(run_dir, with_encoder)
    else:
        encoder_run = _fusion_run(export, run_dir, cfg, with_encoder)
    if encoder_run is not None:
        _encoder(export, cfg, encoder_run)
    return export


def _mt_a_encoder(mt_run: Path, with_encoder: bool | None) -> Path:
    """An MT-A run's encoder goes with its adapters: they compute what they were trained for only
    on it, so an export without it (with_encoder=false, once taken and ignored) is refused."""
    if with_encoder is False:
        raise ConfigError(
            f"with_encoder=false: the adapters of an MT-A run work only on the encoder it fine-tuned "
            f"({mt_run}), so an export of them always holds it (out/encoder/); leave with_encoder out"
        )
    if not (mt_run / ENCODER_FILE).is_file():  # the base encoder under them would compute something else
        raise MissingInputError(missing_weights(mt_run / ENCODER_FILE, mt_run))
    return mt_run


def _rebased(export: Export, out: Path) -> Export:
    """The same export, its paths under `out` (where the staging folder is renamed to)."""

    def moved(path: Path | None) -> Path | None:
        return None if path is None else out / path.relative_to(export.out)

    return replace(
        export,
        out=out,
        adapters={name: moved(path) for name, path in export.adapters.items()},
        heads={name: moved(path) for name, path in export.heads.items()},
        fusion=moved(export.fusion),
        encoder=moved(export.encoder),
    )


def _base_model(model_cfg) -> str:
    """The base encoder for from_pretrained: the Hub id, the local folder of a packaged model, or
    a hint to export it (a model built from config has no files)."""
    if model_cfg.get("hub_id"):
        return str(model_cfg.hub_id)
    if model_cfg.get("package"):
        import importlib

        return str(importlib.import_module(str(model_cfg.package)).get_model_path())
    return "<the base encoder: rerun afuse export with with_encoder=true to write it>"


def _model_config(model_cfg) -> dict:
    return OmegaConf.to_container(model_cfg, resolve=True)


def _adapter(export: Export, directory: Path, name: str) -> None:
    target = export.out / name
    adapterhub.copy_adapter(directory, target, name)
    export.adapters[name] = target


def _head(export: Export, path: Path, name: str, task_cfg, directory: Path) -> None:
    state, meta = load_tensors(path)
    if not meta or "head" not in meta:
        raise ConfigError(f"{path}: not an afuse head file (no head description in its metadata)")
    labels = task_cfg.get("labels") if task_cfg is not None else None
    adapterhub.write_head(directory, name, meta["head"], state, export.family, labels)
    export.heads[name] = directory


def _fusion_run(export: Export, run_dir: Path, cfg, with_encoder: bool | None) -> Path | None:
    """Sources, fusion and head of a fuse run; returns the run whose encoder must go too (MT-A)."""
    from afuse.fusion_sources import source_positions
    from afuse.source_digests import check_fusion_file

    # Found as `afuse fuse` found them, under the run's runs/ tree.
    mt_run, sources = fusion_sources(cfg, run_dir, read_metrics(run_dir))
    encoder_run = _mt_a_encoder(mt_run, with_encoder) if mt_run else (run_dir if with_encoder else None)
    state, meta = load_tensors(run_dir / "fusion.safetensors")
    if not meta or "sources" not in meta:
        raise ConfigError(
            f"{run_dir / 'fusion.safetensors'}: not an afuse fusion file (no sources in its metadata)"
        )
    check_fusion_file(run_dir, meta["sources"], sources)
    fusion, positions = _fusion_from_state(meta, state), source_positions(sources, "all")
    adapterhub.check_exportable(fusion, positions)  # before anything is written
    for source in sources:
        _adapter(export, source.adapter_dir, source.name)
    export.fusion = export.out / FUSION_DIR
    adapterhub.write_fusion(export.fusion, fusion, positions, export.family, model_family(export.family))
    target = str(cfg.task.name)
    _head(export, run_dir / "head.safetensors", target, cfg.task, export.fusion)
    return encoder_run


def _fusion_from_state(meta: dict, state: dict) -> Fusion:
    """The Fusion module a fusion.safetensors holds, rebuilt from its names (no encoder needed)."""
    spec = FusionSpec(**{"sites": "ffn", **meta["spec"]})  # files before fusion.sites: after the FFN only
    layers = {int(key.split(".")[1]) for key in state}
    positions = ("attn", "ffn") if any(k.startswith("attention_layers.") for k in state) else ("ffn",)
    num_layers = max(layers) + 1 + int(spec.skip_last_layer)
    fusion = Fusion(list(meta["sources"]), spec, int(meta["hidden_size"]), num_layers, positions)
    fusion.load_state_dict(state)
    return fusion


def _encoder(export: Export, cfg, run_dir: Path) -> None:
    """The (MT-A fine-tuned, or base) encoder as a transformers model directory."""
    from afuse.modeling import load_backbone

    encoder, tokenizer, _ = load_backbone(cfg.model)
    weights = run_dir / "encoder.safetensors"
    if weights.is_file():
        state, _ = load_tensors(weights)
        encoder.load_state_dict(state)
        export.encoder_trained = True
    export.encoder = export.out / ENCODER_DIR
    try:
        encoder.save_pretrained(export.encoder)
        tokenizer.save_pretrained(export.encoder)
    except OSError as exc:
        raise write_error(export.encoder, exc) from exc
    except SafetensorError as exc:  # safetensors' writer names the OS error only in its text
        code = re.search(r"os error (\d+)", str(exc))
        if code is None:
            raise
        raise write_error(export.encoder, OSError(int(code.group(1)), str(exc))) from None


def _write_manifest(export: Export, run_dir: Path, folder: Path) -> Path:
    """export.json in `folder`: what is where under export.out, and the library calls that load it."""
    path = folder / MANIFEST
    data = {
        "run": str(run_dir),
        "family": export.family,
        "model": export.model,
        "adapters": {name: str(p.relative_to(export.out)) for name, p in export.adapters.items()},
        "heads": {name: str(p.relative_to(export.out)) for name, p in export.heads.items()},
        "fusion": str(export.fusion.relative_to(export.out)) if export.fusion else None,
        "encoder": str(export.encoder.relative_to(export.out)) if export.encoder else None,
        "encoder_trained": export.encoder_trained,
        "load_with_adapters": export.loading_code().splitlines(),
    }
    atomic_write_json(path, data)
    return path
