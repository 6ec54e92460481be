"""Stage 1 and the baselines: one task, one head, and an adapter (ST-A) or none (Full, Head)."""

import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from afuse.data import Collator, load_tokenized
from afuse.loggers import make_logger
from afuse.modeling import AdapterSpec, AfuseModel, load_backbone
from afuse.train.cuda_graphs import PAD_MULTIPLE
from afuse.train.loop import TaskData, fit
from afuse.train.run_lifecycle import base_metrics, setup_torch

log = logging.getLogger(__name__)


def metrics_kind(mode: str, adapter_spec) -> str:
    """The `kind` in metrics.json: st_a (Pfeiffer), houlsby, full or head."""
    if mode != "adapter":
        return mode
    return "st_a" if adapter_spec.variant == "pfeiffer" else adapter_spec.variant


def build_data(cfg: DictConfig, tokenizer, tokenizer_id: str, task_cfg: DictConfig | None = None) -> TaskData:
    """The task's tokenised splits (prepared first if needed), batched as the loop wants them."""
    task_cfg = task_cfg if task_cfg is not None else cfg.task
    splits = load_tokenized(task_cfg, cfg.data, cfg.paths, tokenizer, tokenizer_id)
    collate = Collator(
        tokenizer.pad_token_id,
        multiple_choice=task_cfg.kind == "multiple_choice",
        pad_to_multiple_of=PAD_MULTIPLE if cfg.trainer.get("cuda_graphs") else None,
    )
    log.info("%s: %s", task_cfg.name, ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
    data = TaskData(splits, collate, cfg.trainer.batch_size, cfg.trainer.eval_batch_size, cfg.seed)
    data.prepared = {task_cfg.name: splits.prepared}
    return data


def train_single_task(cfg: DictConfig, run_dir: Path, mode: str, command: str, variant: str) -> dict:
    """Train `mode` (adapter | full | head) on cfg.task; save its weights into run_dir; return metrics."""
    setup_torch(cfg)
    task = cfg.task.name
    encoder, tokenizer, tokenizer_id = load_backbone(cfg.model)
    data = build_data(cfg, tokenizer, tokenizer_id)

    torch.manual_seed(cfg.seed)  # adapter and head initialisation
    model = AfuseModel(encoder, family=cfg.model.family)
    adapter_spec = None
    if mode == "adapter":
        adapter_spec = AdapterSpec.from_config(cfg.adapter)
        model.add_adapter(task, adapter_spec)
    model.add_head(task, cfg.task)
    model.set_active(adapter=task if adapter_spec else None, head=task)
    model.trainable_for(mode)
    params = model.parameter_counts()
    log.info(
        "trainable parameters: %s of %s (%.3f%%)",
        f"{params['trainable']:,}",
        f"{params['total']:,}",
        100 * params["trainable"] / params["total"],
    )

    logger = make_logger(
        cfg, name=f"{command}/{variant}/{task}/seed{cfg.seed}", group=variant, run_dir=run_dir
    )
    try:
        result = fit(model, data, cfg.trainer, run_dir, cfg.seed, logger=logger)
        if adapter_spec:
            model.save_adapter(task, run_dir)
        model.save_head(task, run_dir / "head.safetensors")
        if mode == "full" and cfg.get("save_encoder"):
            model.save_encoder(run_dir / "encoder.safetensors")
        metrics = base_metrics(cfg, command, metrics_kind(mode, adapter_spec), variant, task, result)
        metrics["params"] = params
        metrics["train_examples"] = data.train_size
        logger.summary(
            {"test/accuracy": result.test["accuracy"], "validation/accuracy": result.validation["accuracy"]}
        )
        return metrics
    finally:
        logger.finish()
