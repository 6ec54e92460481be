"""MT-A training (Stickland & Murray 2019): one shared encoder trained jointly with an adapter and a
head per task, then its encoder, adapters and heads saved for Fusion with MT-A."""

import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from afuse.loggers import make_logger
from afuse.modeling import AdapterSpec, AfuseModel, load_backbone
from afuse.train.loop import fit
from afuse.train.multitask import MultiTaskData, MultiTaskModel
from afuse.train.run_lifecycle import base_metrics, setup_torch
from afuse.train.single_task import build_data

log = logging.getLogger(__name__)


def train_mt_a(cfg: DictConfig, run_dir: Path, tasks: list[str]) -> dict:
    setup_torch(cfg)
    encoder, tokenizer, tokenizer_id = load_backbone(cfg.model)
    task_cfgs = {t: cfg.task_configs[t] for t in tasks}  # as config.yaml records them
    data = MultiTaskData(
        {t: build_data(cfg, tokenizer, tokenizer_id, task_cfgs[t]) for t in tasks},
        cfg.sampling,
        cfg.trainer.max_epochs,
        cfg.seed,
    )
    log.info(
        "MT-A over %d tasks, sampling=%s; first-epoch task probabilities: %s",
        len(tasks),
        cfg.sampling,
        ", ".join(f"{t} {p:.3f}" for t, p in data.probabilities(0).items()),
    )

    torch.manual_seed(cfg.seed)
    model = AfuseModel(encoder, family=cfg.model.family)
    spec = AdapterSpec.from_config(cfg.adapter)
    for task in tasks:
        model.add_adapter(task, spec)
        model.add_head(task, task_cfgs[task])
    model.trainable_for("multitask")
    params = model.parameter_counts()

    logger = make_logger(
        cfg, name=f"train-multitask/{run_dir.parent.name}/seed{cfg.seed}", group="mt_a", run_dir=run_dir
    )
    try:
        result = fit(MultiTaskModel(model), data, cfg.trainer, run_dir, cfg.seed, logger=logger)
        model.save_encoder(run_dir / "encoder.safetensors")
        for task in tasks:
            model.save_adapter(task, run_dir / "adapters" / task)
            model.save_head(task, run_dir / "heads" / f"{task}.safetensors")
        metrics = base_metrics(cfg, "train-multitask", "mt_a", "mt_a", None, result)
        metrics["tasks"] = {
            t: {
                "test": _drop_nested(result.test["tasks"][t]),
                "validation": _drop_nested(result.validation["tasks"][t]),
            }
            for t in tasks
        }
        metrics["test"], metrics["validation"] = _drop_nested(result.test), _drop_nested(result.validation)
        metrics.update(params=params, train_examples=data.train_size, sampling=str(cfg.sampling))
        for task, row in metrics["tasks"].items():
            log.info(
                "%s: test accuracy %.4f (majority %.4f)",
                task,
                row["test"]["accuracy"],
                row["test"]["majority_rate"],
            )
        return metrics
    finally:
        logger.finish()


def _drop_nested(values: dict) -> dict:
    return {k: v for k, v in values.items() if k != "tasks"}
