"""Which adapters a Fusion run composes, where they are, and what to run when some are missing."""

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from afuse.config import PAPER_TASKS, task_names
from afuse.errors import ConfigError, MissingInputError
from afuse.runs import adapter_variant, is_complete, multitask_dir, multitask_key, stage1_dir

# Overrides of the fuse command that also describe how its stage-1 inputs were trained.
STAGE1_OVERRIDE_PREFIXES = ("experiment=", "model=", "adapter=", "adapter.", "data.", "paths.", "seed=")


@dataclass(frozen=True)
class Source:
    name: str  # column name in activations and heatmaps
    adapter_dir: Path  # afuse format (adapter.safetensors + adapter_config.json) or AdapterHub format


def requested_sources(cfg: DictConfig) -> list[str]:
    """fusion.sources, or the paper's 16 tasks (the target's own adapter included, as in the paper)."""
    sources = list(cfg.fusion.sources) if cfg.fusion.sources else list(PAPER_TASKS)
    if len(set(map(str, sources))) != len(sources):
        raise ConfigError(f"fusion.sources lists a source twice: {sources}")
    return [str(s) for s in sources]


def source_seed(cfg: DictConfig) -> int:
    """The seed of the stage-1 runs to fuse: fusion.source_seed, or the Fusion run's own seed."""
    seed = cfg.fusion.get("source_seed")
    return int(cfg.seed if seed is None else seed)


def resolve_st_a_sources(cfg: DictConfig) -> list[Source]:
    """Stage-1 adapters of the same model/variant (and seed) by task name, or AdapterHub-format directories."""
    found, missing = [], []
    seed = source_seed(cfg)
    for entry in requested_sources(cfg):
        if entry in task_names():
            run_dir = stage1_dir(cfg.paths.runs, cfg.model.name, adapter_variant(cfg.adapter), entry, seed)
            (found if is_complete(run_dir) else missing).append(Source(entry, run_dir))
        elif Path(entry).is_dir():
            found.append(Source(Path(entry).name, Path(entry)))
        else:
            raise ConfigError(
                f"fusion.sources entry {entry!r} is neither a task ({' '.join(task_names())}) nor an adapter directory"
            )
    if missing:
        raise MissingInputError(
            _missing_message(cfg, [s.name for s in missing], [s.adapter_dir for s in missing])
        )
    return found


def _passthrough_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    overrides = HydraConfig.get().overrides.task
    return [o for o in overrides if o.startswith(STAGE1_OVERRIDE_PREFIXES)]


def _missing_message(cfg: DictConfig, tasks: list[str], dirs: list[Path]) -> str:
    passthrough = [o for o in _passthrough_overrides() if not o.startswith("seed=")]
    seed = source_seed(cfg)
    base = ["afuse train-adapter", *passthrough, f"seed={seed}"]
    per_task = "\n".join("  " + " ".join([*base, f"task={t}"]) for t in tasks)
    sweep = " ".join(["afuse train-adapter -m", *passthrough, f"seed={seed}", f"task={','.join(tasks)}"])
    listing = "\n".join(f"  {t}: {d}" for t, d in zip(tasks, dirs, strict=True))
    return (
        f"fusion for target {cfg.target} needs {len(tasks)} stage-1 adapter(s) that are not trained yet "
        f"(no metrics.json):\n{listing}\nTrain them first, one by one:\n{per_task}\nor as one sweep:\n  {sweep}\n"
        "(or pick the available ones with fusion.sources=[...])"
    )


def retrain_command(cfg: DictConfig, source: Source) -> str | None:
    """The command that writes a source adapter's files again, or None for a directory given by path."""
    passthrough = " ".join(o for o in _passthrough_overrides() if not o.startswith("seed="))
    seed = source_seed(cfg)
    if cfg.adapters == "mt_a":
        tasks = ",".join(requested_sources(cfg))
        return f"afuse train-multitask {passthrough} seed={seed} tasks=[{tasks}] force=true".replace(
            "  ", " "
        )
    stage1 = stage1_dir(cfg.paths.runs, cfg.model.name, adapter_variant(cfg.adapter), source.name, seed)
    if source.adapter_dir == stage1:
        return f"afuse train-adapter {passthrough} seed={seed} task={source.name} force=true".replace(
            "  ", " "
        )
    return None


def resolve_mt_a(cfg: DictConfig) -> tuple[Path, list[Source]]:
    """The MT-A run whose tasks are fusion.sources (default: the 16), and its per-task adapters."""
    tasks = requested_sources(cfg)
    run_dir = multitask_dir(cfg.paths.runs, cfg.model.name, multitask_key(tasks), source_seed(cfg))
    if not is_complete(run_dir):
        passthrough = " ".join(o for o in _passthrough_overrides() if not o.startswith("seed="))
        raise MissingInputError(
            f"fusion with adapters=mt_a needs the MT-A run {run_dir} (no metrics.json there). Train it first:\n"
            f"  afuse train-multitask {passthrough} seed={cfg.seed} tasks=[{','.join(tasks)}]"
        )
    return run_dir, [Source(t, run_dir / "adapters" / t) for t in tasks]


def source_positions(sources: list[Source], sites: str) -> tuple[str, ...]:
    """Where a fusion over these adapters sits (afuse.sites.fused_positions), from their
    adapter_config.json, so that the run's name says it before any weights are loaded."""
    import json

    from afuse.modeling.adapterhub import ADAPTER_CONFIG, spec_from_config
    from afuse.sites import fused_positions

    specs = []
    for source in sources:
        path = source.adapter_dir / ADAPTER_CONFIG
        if not path.is_file():
            raise MissingInputError(
                f"fusion source {source.name}: no {ADAPTER_CONFIG} in {source.adapter_dir}"
            )
        specs.append(spec_from_config(json.loads(path.read_text()).get("config", {}), where=str(path))[0])
    return fused_positions([spec.positions for spec in specs], sites)
