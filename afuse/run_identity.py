"""Run identity: where a run lives, as one function of its composed config.

    run_dir(cfg, command)    the directory `afuse <command>` with config `cfg` writes

    <paths.runs>/stage1/<model>/<variant>/<task>/seed<k>/          variant: pfeiffer_rf16, houlsby_rf16, full, head
    <paths.runs>/stage1/<model>/mt_a/<tasks-key>/seed<k>/           MT-A: one run over many tasks
    <paths.runs>/stage2/<model>/<fusion-variant>/<target>/seed<k>/  e.g. dynamic_pfeiffer_rf16

Every training command, fusion-source resolution (afuse.fusion_sources) and the presets
(afuse.experiment, which composes each job group's config with Hydra) call `run_dir`; the reverse
(which root and parts a path has) is `parse_run_dir`. Nothing else builds or splits run paths.

Torch-free and import-light, so that a finished run is recognised (and skipped) before torch loads.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from afuse.config import PAPER_TASKS, paper_order
from afuse.errors import ConfigError
from afuse.sites import FFN, VARIANT_POSITIONS, fused_positions

TRAIN_ADAPTER = "train-adapter"
FINETUNE = "finetune"
TRAIN_MULTITASK = "train-multitask"
FUSE = "fuse"
COMMANDS = (TRAIN_ADAPTER, FINETUNE, TRAIN_MULTITASK, FUSE)
MT_A = "mt_a"  # the variant of MT-A runs, and `adapters=mt_a` of a fusion over them
STAGES = ("stage1", "stage2")
SEED_DIR = re.compile(r"seed(\d+)")


def run_dir(cfg: DictConfig, command: str, task: str | None = None, seed: int | None = None) -> Path:
    """The run directory of `afuse <command>` with config `cfg`. `task` and `seed` default to the
    config's own (task.name, the target, or the MT-A tasks key; seed); a preset passes them to name
    each job of a group from the group's one composed config."""
    build = stage2_dir if command == FUSE else stage1_dir
    task = run_task(cfg, command) if task is None else task
    seed = int(cfg.seed) if seed is None else int(seed)
    return build(cfg.paths.runs, str(cfg.model.name), variant(cfg, command), task, seed)


def variant(cfg: DictConfig, command: str) -> str:
    """The variant part of the run path: pfeiffer_rf16, head, full, mt_a, dynamic_pfeiffer_rf16."""
    if command == TRAIN_ADAPTER:
        return adapter_variant(cfg.adapter)
    if command == FINETUNE:
        if cfg.mode not in ("full", "head"):
            raise ConfigError(f"mode={cfg.mode!r} is not known; valid: full, head")
        return str(cfg.mode)
    if command == TRAIN_MULTITASK:
        return MT_A
    if command == FUSE:
        return fusion_variant(cfg)
    raise ValueError(f"{command!r} writes no run directory; one of: {', '.join(COMMANDS)}")


def run_task(cfg: DictConfig, command: str) -> str:
    """The task part of the run path: the task, the fusion target, or the MT-A run's tasks key."""
    if command == FUSE:
        return str(cfg.target)
    if command == TRAIN_MULTITASK:
        return multitask_key([str(t) for t in cfg.tasks])
    return str(cfg.task.name)


# --- the parts -------------------------------------------------------------------------------


def format_rf(reduction_factor: float) -> str:
    rf = float(reduction_factor)
    return str(int(rf)) if rf.is_integer() else str(rf)


def adapter_variant(adapter_cfg: DictConfig) -> str:
    """`pfeiffer_rf16`: the adapter part of stage-1 and stage-2 run paths."""
    return f"{adapter_cfg.variant}_rf{format_rf(adapter_cfg.reduction_factor)}"


def source_variant(cfg: DictConfig) -> str:
    """What a fusion's sources are: the stage-1 adapter variant (adapters=st_a) or mt_a."""
    if cfg.adapters == "st_a":
        return adapter_variant(cfg.adapter)
    if cfg.adapters == MT_A:
        return MT_A
    raise ConfigError(f"adapters={cfg.adapters!r} is not known; valid: st_a, mt_a")


def fused_sites(cfg: DictConfig) -> tuple[str, ...]:
    """Where a fusion sits: every site its sources' adapters have (the `adapter` config they were
    trained with; MT-A trains with it too), or after the FFN only (fusion.sites=ffn)."""
    positions = VARIANT_POSITIONS.get(str(cfg.adapter.variant), (FFN,))
    return fused_positions([positions], str(cfg.fusion.get("sites", "all")))


def fusion_variant(cfg: DictConfig) -> str:
    """`dynamic_pfeiffer_rf16`: the stage-2 path component. A source set other than the paper's
    16 tasks adds a short hash of the (sorted) names, so fusions over different adapter sets never
    share a directory; the list itself is in the run's config.yaml and metrics.json. A fusion at
    more sites than after the FFN (Houlsby sources, fusion.sites=all) adds them (`_attn-ffn`):
    runs made before fusion sites existed fused after the FFN only, and keep their names."""
    return fusion_variant_name(
        str(cfg.fusion.kind),
        source_variant(cfg),
        requested_sources(cfg),
        cfg.fusion.skip_last_layer,
        fused_sites(cfg),
    )


def fusion_variant_name(
    kind: str,
    sources_variant: str,
    sources: list[str] | None = None,
    skip_last_layer: bool = False,
    positions: tuple[str, ...] = (FFN,),
) -> str:
    """The rule behind `fusion_variant`, from its parts (tests and fixtures name runs with it)."""
    name = f"{kind}_{sources_variant}"
    if sources and {str(s) for s in sources} != set(PAPER_TASKS):
        name += f"_src-{short_hash(sorted(str(s) for s in sources), 6)}"
    if skip_last_layer:
        name += "_skiplast"
    if tuple(positions) != (FFN,):
        name += "_" + "-".join(positions)
    return name


def requested_sources(cfg: DictConfig) -> list[str]:
    """fusion.sources, or the paper's 16 tasks (the target's own adapter included, as in the paper),
    in the paper's order (adapter directories after the tasks, by path): the order they are listed
    in names no other run (fusion_variant hashes them sorted), so it must not change the numbers
    either (the fusion's sums run over the sources in this order)."""
    sources = list(cfg.fusion.sources) if cfg.fusion.sources else list(PAPER_TASKS)
    if len(set(map(str, sources))) != len(sources):
        raise ConfigError(f"fusion.sources lists a source twice: {sources}")
    return paper_order(sources)


def source_seed(cfg: DictConfig) -> int:
    """The seed of the stage-1 runs to fuse: fusion.source_seed, or the Fusion run's own seed."""
    seed = cfg.fusion.get("source_seed")
    return int(cfg.seed if seed is None else seed)


def source_run_dir(cfg: DictConfig, task: str) -> Path:
    """The stage-1 run a fusion with config `cfg` takes `task`'s adapter from: the ST-A run of
    that task, or the MT-A run over all the sources."""
    if cfg.adapters == MT_A:
        return run_dir(cfg, TRAIN_MULTITASK, multitask_key(requested_sources(cfg)), source_seed(cfg))
    source_variant(cfg)  # an unknown `adapters` fails with the valid values
    return run_dir(cfg, TRAIN_ADAPTER, task, source_seed(cfg))


def multitask_tasks_in_order(tasks) -> list[str]:
    """An MT-A run's tasks in the order it trains them (adapters and heads initialised, batches
    drawn): the paper's, as in its directory name, whatever order they were listed in."""
    return paper_order(tasks)


def multitask_key(tasks: list[str]) -> str:
    """The MT-A run's directory name: `all16` for the paper's 16 tasks, else the tasks in the
    paper's order joined by '-' (the order they are listed in does not make another run)."""
    if sorted(map(str, tasks)) == sorted(PAPER_TASKS):
        return f"all{len(PAPER_TASKS)}"
    return "-".join(multitask_tasks_in_order(tasks))


def multitask_tasks(key: str) -> list[str]:
    """The tasks of an MT-A run's directory name (multitask_key read back)."""
    return list(PAPER_TASKS) if key == f"all{len(PAPER_TASKS)}" else key.split("-")


def short_hash(obj: Any, length: int = 8) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:length]


# --- layout: building paths from parts (fixtures) and reading them back ----------------------


def stage1_dir(runs_root: str | Path, model: str, variant_name: str, task: str, seed: int) -> Path:
    return Path(runs_root) / STAGES[0] / model / variant_name / task / f"seed{seed}"


def stage2_dir(runs_root: str | Path, model: str, variant_name: str, target: str, seed: int) -> Path:
    return Path(runs_root) / STAGES[1] / model / variant_name / target / f"seed{seed}"


def multitask_dir(runs_root: str | Path, model: str, tasks_key: str, seed: int) -> Path:
    return stage1_dir(runs_root, model, MT_A, tasks_key, seed)


@dataclass(frozen=True)
class RunPath:
    """The parts of a run directory's path."""

    path: Path  # the run directory itself
    root: Path  # paths.runs
    stage: int
    model: str
    variant: str
    task: str
    seed: int


def parse_run_dir(path: str | Path) -> RunPath | None:
    """The parts of `<root>/stage{1,2}/<model>/<variant>/<task>/seed<k>`, or None for another path."""
    path = Path(path)
    parts = path.parts
    seed = SEED_DIR.fullmatch(path.name)
    if len(parts) < 5 or parts[-5] not in STAGES or not seed:
        return None
    stage = STAGES.index(parts[-5]) + 1
    return RunPath(path, path.parents[4], stage, parts[-4], parts[-3], parts[-2], int(seed[1]))


def find_run_dirs(root: str | Path) -> list[RunPath]:
    """Every run directory's parts under a paths.runs tree, stage 1 first, in path order."""
    found = []
    for stage in STAGES:
        for seed_dir in sorted((Path(root) / stage).glob("*/*/*/seed*")):
            parsed = parse_run_dir(seed_dir)
            if seed_dir.is_dir() and parsed is not None:
                found.append(parsed)
    return found
