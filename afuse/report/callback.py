"""Write the report when a training multirun of a preset ends (`afuse train-adapter -m
experiment=<preset> ...`, and likewise fuse, finetune and train-multitask).

conf/hydra/default.yaml registers this callback under `hydra.callbacks.afuse_report` for every
command. It does nothing for the commands that train nothing (a `status -m` or `report -m` sweep
must not write a report, or write it twice), for runs without a preset, when AFUSE_AUTO_REPORT=0
(`afuse run` sets it for its sweeps and writes the report once, at the end), or with
`hydra.callbacks.afuse_report.enabled=false`.

Hydra calls on_multirun_end only when every job of the sweep succeeded; after a failed job,
run `afuse report experiment=<preset>` yourself.
"""

import logging
import os
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger("afuse")

ENV_SWITCH = "AFUSE_AUTO_REPORT"


class ReportCallback(Callback):
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        experiment = OmegaConf.select(config, "experiment.name")
        if not self.enabled or experiment is None or os.environ.get(ENV_SWITCH) == "0":
            return
        if not _trains(str(config.hydra.job.name)):
            return
        try:
            written = write_report_like(config)
        except Exception as exc:  # the sweep itself succeeded: a report problem must not fail it
            log.warning(
                "afuse: the end-of-sweep report for %s failed: %s (run `afuse report "
                "experiment=%s` to see the whole error)",
                experiment,
                exc,
                experiment,
            )
            return
        if written is not None:
            log.info("afuse: report for %s written to %s", experiment, written)


def _trains(job_name: str) -> bool:
    """Whether the sweep's command trains runs of a preset (job names are config names: train_adapter)."""
    from afuse.experiment import FUSE, STAGE1_COMMANDS

    return job_name in {command.replace("-", "_") for command in (*STAGE1_COMMANDS, FUSE)}


def write_report_like(sweep_config: DictConfig):
    """Compose the report's config for the sweep's preset, with the sweep's paths, model and logger
    (so `-m experiment=X paths.runs=/scratch/runs` reports on /scratch/runs) and its settings, and
    write it."""
    from hydra import compose

    from afuse.report.build import build_report  # here: training jobs need not import pandas

    name = sweep_config.experiment.name
    cfg = compose(config_name="report", overrides=[f"experiment={name}"])
    with open_dict(cfg):  # replaced whole: another model's node has keys the preset's model lacks
        for key in ("paths", "model", "logger"):
            if key in sweep_config:
                cfg[key] = sweep_config[key]
    return build_report(cfg, sweep_settings(sweep_config))


def sweep_settings(sweep_config: DictConfig) -> dict[str, list[str]]:
    """The sweep's data.* / trainer.* overrides (not those it sweeps over), for its own command's
    job groups only: its runs were made with them, and a trainer.lr given to `train-adapter` is
    no setting of the preset's Fusion or Head runs."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    given = [o for o in sweep_config.hydra.overrides.task if o.lstrip("+~").startswith(("data.", "trainer."))]
    parsed = OverridesParser.create().parse_overrides(given)
    kept = [line for line, override in zip(given, parsed, strict=True) if not override.is_sweep_override()]
    return {str(sweep_config.hydra.job.name): kept}
