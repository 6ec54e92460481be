"""Which adapters a Fusion run composes, where they are, and what to run when some are missing."""

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from afuse.config import OWN_TASK_HINT, PAPER_TASKS, task_names
from afuse.errors import ConfigError, MissingInputError
from afuse.export_manifest import exported_base
from afuse.given_overrides import searchpath, starting_with
from afuse.hub_adapters import hub_adapter_dir, hub_name, is_hub_id
from afuse.preset_advice import preset_advice
from afuse.rerun_record import record_dir, source_lines_from_record
from afuse.result_check import DamagedResultError, result_damage
from afuse.run_identity import (
    MT_A,
    fused_sites,
    multitask_tasks,
    parse_run_dir,
    requested_sources,
    source_run_dir,
    source_seed,
)
from afuse.runs import is_complete

# Overrides of the fuse command that also describe how its stage-1 inputs were trained.
STAGE1_OVERRIDE_PREFIXES = ("experiment=", "model=", "adapter=", "adapter.", "data.", "paths.", "seed=")


@dataclass(frozen=True)
class Source:
    name: str  # column name in activations and heatmaps
    adapter_dir: Path  # afuse format (adapter.safetensors + adapter_config.json) or AdapterHub format


def resolve_st_a_sources(cfg: DictConfig) -> list[Source]:
    """Stage-1 adapters of the same model/variant (and seed) by task name, or AdapterHub-format directories."""
    found, missing = [], []
    known = task_names()
    for entry in requested_sources(cfg):
        if _names_a_task(cfg, entry, known):
            run_dir = source_run_dir(cfg, entry)
            (found if is_complete(run_dir) else missing).append(Source(entry, run_dir))
        elif Path(entry).is_dir():
            _refuse_exported_elsewhere(cfg, Path(entry))
            found.append(source_by_path(Path(entry)))
        elif is_hub_id(entry):  # AdapterHub/bert-base-uncased-pf-rte, as the adapters library takes it
            found.append(Source(hub_name(entry), hub_adapter_dir(entry)))
        else:
            raise ConfigError(
                f"fusion.sources entry {entry!r} is neither a task ({' '.join(task_names())}) nor an adapter "
                f"directory, nor an adapter's Hugging Face Hub id (owner/name) ({OWN_TASK_HINT})"
            )
    if missing:
        raise MissingInputError(
            _missing_message(cfg, [s.name for s in missing], [s.adapter_dir for s in missing])
        )
    _refuse_shared_names(found)
    for source in found:
        if source.adapter_dir == source_run_dir(cfg, source.name):
            _refuse_damaged(cfg, source, source.adapter_dir)
    return found


def absent_source_runs(cfg: DictConfig) -> dict[str, Path]:
    """The finished runs a Fusion config's sources are found in (by task name: ST-A runs, or the
    MT-A run) that are not there, by source name; adapters given by path are left to the loader."""
    tasks = requested_sources(cfg)
    if cfg.adapters == MT_A:
        runs = {"MT-A run": source_run_dir(cfg, tasks[0])}
    else:
        known = task_names()
        runs = {task: source_run_dir(cfg, task) for task in tasks if _names_a_task(cfg, task, known)}
    return {name: run for name, run in runs.items() if not is_complete(run)}


def _refuse_shared_names(sources: list[Source]) -> None:
    """Activations, heatmaps and the fusion's files name each source: two of one name (a task and
    an exported copy of its adapter, whose folder is named after it) cannot both be fused. The
    fusion layer refuses them too, but only once the run has started (a failed run folder left)."""
    for source in sources:
        same = [str(s.adapter_dir) for s in sources if s.name == source.name]
        if len(same) > 1:
            raise ConfigError(
                f"fusion.sources: {len(same)} sources are named {source.name} ({', '.join(same)}); each "
                "source needs its own name (a task's, or an adapter folder's): list one of them, or copy "
                "the folder under another name"
            )


def _refuse_exported_elsewhere(cfg: DictConfig, path: Path) -> None:
    """An adapter `afuse export` wrote runs on the base its run was trained with (export.json):
    fused on another, it computes something it was never trained for, without a word."""
    exported = exported_base(path)
    if exported is None or exported.is_fusion:
        return
    if exported.encoder_trained:
        raise MissingInputError(
            f"fusion.sources entry {path} was exported with the encoder it was trained on ({exported.encoder}), "
            "which afuse fuse does not load under adapter directories; fuse an MT-A run's adapters on its "
            f"encoder with adapters=mt_a (export.json: exported from {exported.run})"
        )
    model = (exported.model or {}).get("name")
    if model is not None and model != str(cfg.model.name):
        raise ConfigError(
            f"fusion.sources entry {path} was exported from a run on model {model}, not {cfg.model.name} "
            f"(its export.json); fuse it with model={model}"
        )


def _refuse_damaged(cfg: DictConfig, source: Source, run_dir: Path) -> None:
    """A finished source run whose records do not read is not done (afuse status, the skip
    check): fusing it would build a result on a run afuse does not count as finished. Its
    weights are checked when they are loaded, with the file's own message."""
    damage = result_damage(run_dir, weights=False)
    if damage:
        raise DamagedResultError(
            f"fusion source {source.name}: {run_dir} is a finished run whose result is damaged ({damage}); "
            f"it was not fused. Retrain that run: {retrain_command(cfg, source)}"
        )


def source_by_path(path: Path) -> Source:
    """An adapter directory given by path, named after its folder; an afuse stage-1 run directory
    (<runs>/stage1/<model>/<variant>/<task>/seed<k>) after its task, since every run's folder is
    seed<k>."""
    run = parse_run_dir(path)
    if run is None:
        return Source(path.name, path)
    if run.stage == 1 and run.variant == MT_A:  # its adapters need its encoder under them
        tasks = multitask_tasks(run.task)  # fusion.sources' default is the paper's 16
        listed = "" if sorted(tasks) == sorted(PAPER_TASKS) else f" fusion.sources=[{','.join(tasks)}]"
        raise MissingInputError(
            f"fusion.sources entry {path} is an MT-A run: its adapters are fused on its own encoder with "
            f"adapters=mt_a{listed} (and its model, seed and paths.runs)"
        )
    if not (path / "adapter_config.json").is_file():
        what = "a stage-2 (fuse) run" if run.stage == 2 else f"a stage-1 {run.variant} run"
        raise MissingInputError(
            f"fusion.sources entry {path} is {what}, which has no adapter to fuse; pass task names "
            "or the directories of stage-1 adapter runs (afuse train-adapter)"
        )
    return Source(run.task, path)


def _passthrough_overrides() -> list[str]:
    """The settings a printed train-adapter line repeats: those naming the source runs, and the
    search path that finds a researcher's own tasks."""
    return searchpath() + starting_with(STAGE1_OVERRIDE_PREFIXES)


def _missing_message(cfg: DictConfig, tasks: list[str], dirs: list[Path]) -> str:
    listing = "\n".join(f"  {t}: {d}" for t, d in zip(tasks, dirs, strict=True))
    head = (
        f"fusion for target {cfg.target} needs {len(tasks)} stage-1 adapter(s) that are not trained yet "
        f"(no metrics.json):\n{listing}\n"
    )
    record = record_dir()
    if record is not None:
        return head + source_lines_from_record(cfg, tasks, record)
    advice = preset_advice(cfg, dirs)
    if advice is None:
        return head + _train_lines(cfg, tasks)
    parts = [head + advice.text] if advice.text else [head.rstrip("\n")]
    plain = [t for t, d in zip(tasks, dirs, strict=True) if d in advice.not_in_preset]
    if plain:
        parts.append(f"Not jobs of the preset ({', '.join(plain)}):\n" + _train_lines(cfg, plain))
    return "\n".join([*parts, advice.run_line])


def _train_lines(cfg: DictConfig, tasks: list[str]) -> str:
    passthrough = [o for o in _passthrough_overrides() if not o.startswith("seed=")]
    seed = source_seed(cfg)
    base = ["afuse train-adapter", *passthrough, f"seed={seed}"]
    per_task = "\n".join("  " + " ".join([*base, f"task={t}"]) for t in tasks)
    sweep = " ".join(["afuse train-adapter -m", *passthrough, f"seed={seed}", f"task={','.join(tasks)}"])
    return (
        f"Train them first, one by one:\n{per_task}\nor as one sweep:\n  {sweep}\n"
        "(or pick the available ones with fusion.sources=[...])"
    )


def retrain_command(cfg: DictConfig, source: Source) -> str | None:
    """The command that writes a source adapter's files again, or None for a directory given by path."""
    passthrough = " ".join(o for o in _passthrough_overrides() if not o.startswith("seed="))
    seed = source_seed(cfg)
    if cfg.adapters == MT_A:
        tasks = ",".join(requested_sources(cfg))
        return f"afuse train-multitask {passthrough} seed={seed} tasks=[{tasks}] force=true".replace(
            "  ", " "
        )
    if source.adapter_dir == source_run_dir(cfg, source.name):
        return f"afuse train-adapter {passthrough} seed={seed} task={source.name} force=true".replace(
            "  ", " "
        )
    return None


def resolve_mt_a(cfg: DictConfig) -> tuple[Path, list[Source]]:
    """The MT-A run whose tasks are fusion.sources (default: the 16), and its per-task adapters."""
    tasks = requested_sources(cfg)
    run_dir = source_run_dir(cfg, tasks[0])
    if not is_complete(run_dir):
        passthrough = " ".join(o for o in _passthrough_overrides() if not o.startswith("seed="))
        raise MissingInputError(
            f"fusion with adapters=mt_a needs the MT-A run {run_dir} (no metrics.json there). Train it first:\n"
            f"  afuse train-multitask {passthrough} seed={cfg.seed} tasks=[{','.join(tasks)}]"
        )
    sources = [Source(t, run_dir / "adapters" / t) for t in tasks]
    _refuse_damaged(cfg, sources[0], run_dir)
    return run_dir, sources


def check_source_adapters(cfg: DictConfig, sources: list[Source]) -> None:
    """The fuse run's adapter settings are those its source runs were trained with: the runs are
    found by what their directories name (variant and reduction factor; an MT-A run's, neither),
    so the rest went unread (adapter.non_linearity=swish fused ReLU adapters), and the fusion is
    named for them (afuse.run_identity: adapter=houlsby over Pfeiffer MT-A adapters, _attn-ffn)."""
    from afuse.result_check import read_run_config

    runs = {}  # one MT-A run serves every source
    for source in sources:
        run = source_run_dir(cfg, source.name)
        if source.adapter_dir in _own_dirs(run, source):
            runs[run] = None
    ours = OmegaConf.to_container(cfg.adapter, resolve=True)
    what = "the MT-A run" if cfg.adapters == MT_A else "the stage-1 run"
    for run in runs:
        own = (read_run_config(run / "config.yaml") or {}).get("adapter")
        if not isinstance(own, dict):
            continue  # a record without its adapter settings: nothing to compare
        differing = [
            f"{_setting(k, ours[k])} ({what}'s: {_setting(k, own[k]) if k == 'variant' else own[k]})"
            for k in ours
            if k in own and ours[k] != own[k]
        ]
        if differing:
            settings = " ".join(_setting(key, value) for key, value in own.items())
            raise ConfigError(
                f"{', '.join(differing)}: the adapters fused are those of {what} {run}, as it trained them; "
                f"give its settings ({settings}) or leave these out"
            )


def _setting(key: str, value) -> str:
    """An adapter setting as a command line gives it: the variant is a config group choice."""
    return f"adapter={value}" if key == "variant" else f"adapter.{key}={value}"


def _own_dirs(run: Path, source: Source) -> tuple[Path, Path]:
    """Where a source that is a run of the fuse config's own adapters lies (ST-A; MT-A)."""
    return run, run / "adapters" / source.name


def check_sites(cfg: DictConfig, sources: list[Source]) -> None:
    """The run is named for where its fusion sits, read off the `adapter` config
    (afuse.run_identity.fused_sites); sources whose adapters sit elsewhere (adapter directories
    given by path) would make the name lie, so they are refused with the setting that fits."""
    by_path = [s for s in sources if s.adapter_dir not in _own_dirs(source_run_dir(cfg, s.name), s)]
    if not by_path:  # runs of this config's adapter (ST-A or MT-A): their names say where they sit
        return
    named = fused_sites(cfg)
    actual = source_positions(sources, str(cfg.fusion.get("sites", "all")))
    if actual != named:
        raise ConfigError(
            f"fusion.sources: these adapters are fused at {'+'.join(actual)}, but adapter={cfg.adapter.variant} "
            f"names a fusion at {'+'.join(named)}; pass the adapter variant the sources were trained with "
            "(adapter=houlsby for adapters after attention and after the FFN, adapter=pfeiffer for after the FFN "
            "only), or fusion.sites=ffn"
        )


def source_positions(sources: list[Source], sites: str) -> tuple[str, ...]:
    """Where a fusion over these adapters sits (afuse.sites.fused_positions), from their
    adapter_config.json."""
    from afuse.modeling.adapterhub import ADAPTER_CONFIG, read_json, spec_from_config
    from afuse.sites import fused_positions

    specs = []
    for source in sources:
        path = source.adapter_dir / ADAPTER_CONFIG
        if not path.is_file():
            raise MissingInputError(
                f"fusion source {source.name}: no {ADAPTER_CONFIG} in {source.adapter_dir}"
            )
        specs.append(spec_from_config(read_json(path).get("config", {}), where=str(path))[0])
    return fused_positions([spec.positions for spec in specs], sites)


def located_sources(run_dir: Path, saved: dict) -> list[Source]:
    """Where the sources of the finished Fusion run in `run_dir` are now, from its saved config
    (plain objects): found as `afuse fuse` found them, under the runs tree the run is in now (a
    moved or committed tree). Unlike resolve_*, nothing is checked: a source may be unfinished."""
    cfg = located_config(run_dir, OmegaConf.create(saved))
    tasks = requested_sources(cfg)
    if cfg.adapters == MT_A:
        mt_run = source_run_dir(cfg, tasks[0])
        return [Source(task, mt_run / "adapters" / task) for task in tasks]
    known = task_names()
    return [
        Source(entry, source_run_dir(cfg, entry)) if _names_a_task(cfg, entry, known) else _by_path(entry)
        for entry in tasks
    ]


def _names_a_task(cfg: DictConfig, entry: str, known: list[str]) -> bool:
    """A fusion.sources entry that is a task name. A task whose config is not on this command's search
    path (a researcher's own, its runs evaluated, exported or checked without hydra.searchpath) still
    names its stage-1 run when that run is there. A path or a Hub id (with a /) never names a task:
    joined onto the runs tree, an absolute path would be taken as its own run folder."""
    return entry in known or ("/" not in entry and source_run_dir(cfg, entry).is_dir())


def _by_path(entry: str) -> Source:
    try:
        if is_hub_id(entry):  # the cached snapshot it was fused from: status never downloads
            return Source(hub_name(entry), hub_adapter_dir(entry, local_only=True))
        return source_by_path(Path(entry))
    except MissingInputError:  # no adapter there now: nothing to compare, as for a missing file
        return Source(Path(entry).name, Path(entry))


def located_config(run_dir: Path, cfg: DictConfig) -> DictConfig:
    """A finished Fusion run's config with paths.runs the tree the run is in now, and `adapters`
    (absent in configs of runs made before MT-A fusion) as those runs fused: ST-A."""
    parsed = parse_run_dir(Path(run_dir).resolve())
    located = cfg.copy()
    with open_dict(located):
        if parsed is not None:
            located.paths.runs = str(parsed.root)
        located.adapters = located.get("adapters", "st_a")
    return located
