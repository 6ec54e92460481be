"""`afuse prepare-data task=<name> data.source=hub|local [data.raw_dir=<dir>] [force=true]`, or
`afuse prepare-data experiment=<preset>` for everything that preset's jobs read (afuse.offline_ready).

With task=: reads the task from the Hugging Face Hub or from its original files under
data.raw_dir, normalises it, carves our train/validation/test splits and writes
<paths.data>/prepared/<task>/{train,validation,test}.parquet + manifest.json.
"""

import logging

from omegaconf import DictConfig

from afuse.config import task_names
from afuse.data.prepare import prepare_task, read_manifest
from afuse.errors import ConfigError

log = logging.getLogger("afuse")


def main(cfg: DictConfig) -> None:
    from afuse.experiment import preset_requested

    if cfg.get("task") is None:
        if preset_requested(cfg):
            return _prepare_preset(cfg)
        raise ConfigError(
            "no task given: add task=<name> (one task), or experiment=<preset> (every task its jobs read, "
            f"and its model, ready for runs without internet); valid tasks: {' '.join(task_names())}"
        )
    prepared = prepare_task(cfg.task, cfg.data, cfg.paths, force=bool(cfg.get("force", False)))
    manifest = read_manifest(prepared)
    for split, entry in manifest["splits"].items():
        log.info("  %-10s %7d rows  from %s", split, entry["rows"], entry["from"])
    log.info("  manifest: %s", prepared / "manifest.json")


def _prepare_preset(cfg: DictConfig) -> None:
    from afuse.experiment import GroupComposer, load_experiment, passed_on_overrides, shell_command
    from afuse.offline_ready import make_ready, not_ready, summary
    from afuse.preset_inputs import task_inputs

    if cfg.get("force"):
        raise ConfigError(
            "force=true re-reads one task's source: give it with task=<name>; with experiment= a task "
            "whose prepared copy is out of date is prepared again anyway"
        )
    experiment = load_experiment(cfg)
    composer = GroupComposer(cfg)
    inputs = task_inputs(experiment, composer)
    composer.cache.save()  # a job's config per task and group: ~0.1 s each, 100 for paper_table1
    log.info(
        "%s: the model and the %d task(s) its %d jobs read, for runs without internet",
        experiment.name,
        len(inputs),
        len(experiment.jobs()),
    )
    outcomes = make_ready(cfg.model, cfg.paths, inputs, log.info)
    log.info("%s", summary(experiment.name, outcomes))
    given = [f"experiment={experiment.name}", *passed_on_overrides(("experiment",))]
    error = not_ready(experiment.name, outcomes, shell_command("prepare-data", given, multirun=False))
    if error is not None:
        raise error
    run = shell_command("run", given, multirun=False)
    log.info(
        "%s: ready; where there is no internet (the same paths.data and Hugging Face cache, HF_HOME): "
        "HF_HUB_OFFLINE=1 %s",
        experiment.name,
        run,
    )
