"""Log a report's tables and heatmaps to Weights & Biases (`afuse report ... logger=wandb`).

wandb is an optional dependency (`pip install afuse[wandb]`); it is imported only here.
"""

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from afuse.errors import ConfigError


def log_to_wandb(
    logger: DictConfig, experiment: str, tables: dict[str, pd.DataFrame], figures: list[Path]
) -> None:
    try:
        import wandb
    except ImportError as exc:
        raise ConfigError(
            "logger=wandb: the wandb package is not installed; `pip install 'afuse[wandb]'`, or use logger=none"
        ) from exc
    run = wandb.init(
        project=logger.get("project"),
        entity=logger.get("entity"),
        mode=logger.get("mode"),
        tags=list(logger.get("tags") or []),
        job_type="report",
        name=f"report-{experiment}",
        config={"experiment": experiment},
    )
    try:
        for name, table in tables.items():
            run.log({f"report/{name}": wandb.Table(dataframe=table.reset_index())})
        for path in figures:
            run.log({f"report/heatmaps/{path.parent.name}": wandb.Image(str(path))})
    finally:
        run.finish()
