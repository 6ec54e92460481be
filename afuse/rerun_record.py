"""A command composed from a run's record (`--config-dir <run> --config-name config`, README
"Rerunning a run from its record") and what to print when a Fusion redone so lacks its sources.

Such a command's settings come from the record, not from its command line: a plain
`afuse train-adapter paths.runs=<new> task=rte` line would train the sources on the default model
and adapter, in folders the Fusion does not look in. Each source is best redone from its own
record, in the tree the Fusion's record names.
"""

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from afuse.given_overrides import keys_given
from afuse.run_identity import parse_run_dir, source_run_dir, source_seed
from afuse.runs import CONFIG

log = logging.getLogger("afuse")

RECORD_NAME = Path(CONFIG).stem  # --config-name of a run's config.yaml; the commands' own have other names


def record_dir() -> Path | None:
    """The run directory this command's config was composed from, or None (a normal command)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or HydraConfig.get().job.config_name != RECORD_NAME:
        return None
    for source in HydraConfig.get().runtime.config_sources:
        if source.schema == "file" and (Path(source.path) / CONFIG).is_file():
            return Path(source.path)
    return None


def record_tree(record: Path) -> Path | None:
    """The runs tree a run's record lies in now (None for a record outside one)."""
    parsed = parse_run_dir(record.resolve())
    return None if parsed is None else parsed.root


def runs_where_the_record_is(cfg: DictConfig) -> None:
    """A command composed from a run's record works in the runs tree that record lies in now,
    unless paths.runs= is given: the record's own paths.runs names the tree it was made in,
    relative to the directory it was made from or on another machine, so after the tree was copied
    or moved a redo "in place" went there (a Fusion looked for its sources there)."""
    record = record_dir()
    tree = None if record is None or "paths.runs" in keys_given() else record_tree(record)
    if tree is None or Path(str(cfg.paths.runs)).resolve() == tree:
        return
    log.info(
        "composed from the record %s: working in the runs tree it is in, %s (its paths.runs=%s is where "
        "it was made; give paths.runs= for another tree)",
        record / CONFIG,
        tree,
        cfg.paths.runs,
    )
    cfg.paths.runs = str(tree)


def source_lines_from_record(cfg: DictConfig, tasks: list[str], record: Path) -> str:
    """Lines that redo the missing sources of a Fusion redone from `record` into cfg.paths.runs:
    each from its own record in the tree the Fusion's record names, or, where that tree lacks it,
    a train-adapter line with the record's model and adapter (what the source folders are named by)."""
    tree = record_tree(record)
    recorded_runs = str(tree or OmegaConf.load(record / CONFIG).paths.runs)
    there = cfg.copy()
    with open_dict(there):
        there.paths.runs = recorded_runs
    lines = [_line(cfg, task, source_run_dir(there, task)) for task in tasks]
    return (
        f"This Fusion was composed from the record {record}/{RECORD_NAME}.yaml, whose sources are under "
        f"{recorded_runs}: redo it in place there (without paths.runs=, with force=true), or redo its "
        f"sources in {cfg.paths.runs} first:\n" + "\n".join(f"  {line}" for line in lines)
    )


def _line(cfg: DictConfig, task: str, recorded_source: Path) -> str:
    if (recorded_source / CONFIG).is_file():
        return (
            f"afuse train-adapter --config-dir {recorded_source} --config-name {RECORD_NAME} +hydra=default "
            f"paths.runs={cfg.paths.runs}"
        )
    adapter = cfg.adapter
    return (
        f"afuse train-adapter model={cfg.model.name} adapter={adapter.variant} "
        f"adapter.reduction_factor={adapter.reduction_factor} adapter.non_linearity={adapter.non_linearity} "
        f"paths.runs={cfg.paths.runs} seed={source_seed(cfg)} task={task}   "
        f"# {recorded_source} has no record: add the data and trainer settings you train it with"
    )
