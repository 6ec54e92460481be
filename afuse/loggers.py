"""Experiment trackers: `logger=none` (default, no account needed) or `logger=wandb`."""

import logging

from omegaconf import DictConfig, OmegaConf

from afuse.errors import ConfigError

log = logging.getLogger(__name__)


class NullLogger:
    def log(self, metrics: dict, step: int | None = None) -> None:
        pass

    def summary(self, metrics: dict) -> None:
        pass

    def finish(self) -> None:
        pass


class WandbLogger:
    """Config, losses and metrics to Weights & Biases; `logger.mode=offline` works without a key."""

    def __init__(self, logger_cfg: DictConfig, run_cfg: DictConfig, name: str, group: str, run_dir):
        try:
            import wandb
        except ImportError as exc:
            raise ConfigError("logger=wandb needs the wandb package: pip install 'afuse[wandb]'") from exc
        self.wandb = wandb
        self.run = wandb.init(
            project=logger_cfg.project,
            entity=logger_cfg.entity,
            mode=logger_cfg.mode,
            name=name,
            group=group,
            tags=list(logger_cfg.tags),
            dir=str(run_dir),
            reinit="finish_previous",
            config=OmegaConf.to_container(run_cfg, resolve=True),
        )

    def log(self, metrics: dict, step: int | None = None) -> None:
        self.run.log(metrics, step=step)

    def summary(self, metrics: dict) -> None:
        self.run.summary.update(metrics)

    def finish(self) -> None:
        self.run.finish()


def make_logger(cfg: DictConfig, name: str, group: str, run_dir):
    kind = cfg.logger.name
    if kind == "none":
        return NullLogger()
    if kind == "wandb":
        return WandbLogger(cfg.logger, cfg, name, group, run_dir)
    raise ConfigError(f"logger.name={kind!r} is not known; valid: none, wandb")
