"""Stage 2: train AdapterFusion over frozen adapters, then record activations and pruned variants."""

import logging
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from afuse.atomic import atomic_write_json
from afuse.errors import MissingInputError
from afuse.fusion_sources import Source, retrain_command
from afuse.loggers import make_logger
from afuse.modeling import AfuseModel, FusionSpec, load_backbone
from afuse.modeling.model import WeightsMismatchError
from afuse.modeling.weights import CorruptWeightsError
from afuse.source_digests import SOURCE_DIGESTS, source_digests
from afuse.train.loop import fit, progress_enabled, resolve_device
from afuse.train.run_lifecycle import base_metrics, setup_torch
from afuse.train.single_task import build_data

log = logging.getLogger(__name__)


def train_fusion(
    cfg: DictConfig, run_dir: Path, sources: list[Source], variant: str, encoder_weights: Path | None = None
) -> dict:
    setup_torch(cfg)
    target = cfg.task.name
    encoder, tokenizer, tokenizer_id = load_backbone(cfg.model)
    model = AfuseModel(encoder, family=cfg.model.family)
    with _retrain_hint(cfg, sources[0]):
        if encoder_weights is not None:  # F. w/ MT-A: the encoder fine-tuned jointly with the adapters
            model.load_encoder(encoder_weights)
    for source in sources:
        with _retrain_hint(cfg, source):
            model.load_adapter(source.name, source.adapter_dir)
    digests = source_digests(sources)  # what evaluate / export check the sources against
    data = build_data(cfg, tokenizer, tokenizer_id)

    torch.manual_seed(cfg.seed)  # fusion and head initialisation
    names = [s.name for s in sources]
    model.add_fusion(names, FusionSpec.from_config(cfg.fusion))
    model.add_head(target, cfg.task)
    model.set_active(fusion=True, head=target)
    model.trainable_for("fusion")
    params = model.parameter_counts()
    log.info(
        "fusing %d adapters (%s) for %s; trainable parameters %s",
        len(names),
        ", ".join(names),
        target,
        f"{params['trainable']:,}",
    )

    logger = make_logger(cfg, name=f"fuse/{variant}/{target}/seed{cfg.seed}", group=variant, run_dir=run_dir)
    try:
        result = fit(
            model,
            data,
            cfg.trainer,
            run_dir,
            cfg.seed,
            logger=logger,
            extra_loss=value_penalty(model),
            frozen_inputs=" ".join(f"{name}:{digest}" for name, digest in sorted(digests.items())),
        )
        model.save_fusion(run_dir / "fusion.safetensors")
        model.save_head(target, run_dir / "head.safetensors")
        device = resolve_device(cfg.trainer.device)
        activations = capture_activations(model, data, cfg, device)
        atomic_write_json(run_dir / "activations.json", activations)
        metrics = base_metrics(cfg, "fuse", "fusion", variant, target, result)
        metrics.update(
            params=params, train_examples=data.train_size, sources=names, adapters=str(cfg.adapters)
        )
        metrics[SOURCE_DIGESTS] = digests
        metrics["pruning"] = evaluate_pruned(model, data, cfg, device, activations)
        logger.summary({"test/accuracy": result.test["accuracy"]})
        return metrics
    finally:
        logger.finish()


def value_penalty(model: AfuseModel):
    """The fusion's extra training loss λ·Σ||V - I||² (a callable for fit), or None when λ is 0.

    λ is the fusion's own `spec.regularization` (the FusionSpec saved with fusion.safetensors),
    so what the file records is what the training applied.
    """
    lam = model.fusion.spec.regularization
    return (lambda: lam * model.fusion_regularization()) if lam else None


@contextmanager
def _retrain_hint(cfg: DictConfig, source: Source):
    """A damaged or missing stage-1 file, or weights that do not fit their config: say which
    command writes them again."""
    try:
        yield
    except (CorruptWeightsError, WeightsMismatchError, MissingInputError) as error:
        command = retrain_command(cfg, source)
        if command is None:
            raise
        if isinstance(error, CorruptWeightsError):
            raise CorruptWeightsError(error.path, error.detail, f"Retrain that run: {command}") from None
        raise type(error)(f"{error}. Retrain that run: {command}") from None


def capture_activations(model, data, cfg, device) -> dict:
    """Mean softmax weight per (site, layer, source) over the non-padding tokens of the test split."""
    with model.capture_fusion_activations() as recorder:
        data.evaluate(model, "test", device, cfg.trainer.amp, progress_enabled(cfg.trainer))
    return recorder.to_json(target=cfg.task.name, split="test")


def pruned_source_sets(activations: dict, fusion_cfg: DictConfig) -> list[list[str]]:
    """Source subsets to re-evaluate: by mean activation (over every fused site) below a
    threshold, or the top k."""
    names = activations["sources"]
    sites = activations.get("sites", {"ffn": activations["matrix"]})
    means = torch.tensor([row for matrix in sites.values() for row in matrix]).mean(0)
    ranked = [names[i] for i in means.argsort(descending=True).tolist()]
    subsets = []
    for threshold in _as_list(fusion_cfg.prune_below):
        subsets.append([n for n, m in zip(names, means.tolist(), strict=True) if m >= float(threshold)])
    for k in _as_list(fusion_cfg.keep_top_k):
        subsets.append(sorted(ranked[: int(k)], key=names.index))
    return [s for s in subsets if s]


def evaluate_pruned(model, data, cfg, device, activations: dict) -> list[dict]:
    """Test accuracy and eval time with all adapters, then with each pruned subset (AdapterDrop-style)."""
    subsets = pruned_source_sets(activations, cfg.fusion)
    if not subsets:
        return []
    rows = [_timed_eval(model, data, cfg, device, keep) for keep in [activations["sources"], *subsets]]
    for row in rows:
        log.info(
            "fusion with %d/%d adapters: test accuracy %.4f, eval %.2fs",
            len(row["kept"]),
            len(activations["sources"]),
            row["accuracy"],
            row["eval_s"],
        )
    return rows


def _timed_eval(model, data, cfg, device, keep: list[str]) -> dict:
    with model.fusion_subset(keep):
        started = time.perf_counter()
        result = data.evaluate(model, "test", device, cfg.trainer.amp, progress_enabled(cfg.trainer))
        elapsed = time.perf_counter() - started
    return {"kept": list(keep), "accuracy": result["accuracy"], "eval_s": round(elapsed, 3)}


def _as_list(value) -> list:
    """prune_below / keep_top_k take one value or a list of them."""
    if value is None:
        return []
    return list(value) if OmegaConf.is_list(value) or isinstance(value, list | tuple) else [value]
