"""A finished run's model, rebuilt from the run's own files (what its metrics were measured on).

    model = load_run_model(run_dir)            # eval mode; the run's adapter or fusion and head active
    model = load_run_model(mt_a_run, task="rte")

Any kind of run, rebuilt as afuse evaluate / predict rebuild it (afuse.inference.rebuild.load_run).
Also here, shared by them and export: reading a run directory, and a Fusion run's sources (the
stage-1 or MT-A adapters it fused, found the way `afuse fuse` found them but under the run's own
runs/ tree).
"""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from afuse.errors import MissingInputError
from afuse.modeling import AfuseModel
from afuse.result_check import read_finished_run
from afuse.run_identity import MT_A, parse_run_dir
from afuse.runs import CONFIG, METRICS, is_complete
from afuse.source_digests import check_fusion_file

FUSION_FILE = "fusion.safetensors"
ENCODER_FILE = "encoder.safetensors"


def read_run(run_dir: str | Path) -> tuple[Path, DictConfig, dict]:
    """A finished run's directory, config and metrics, or one line saying what is wrong (every
    command that rebuilds a run: evaluate, predict, export)."""
    run_dir = Path(run_dir).expanduser()
    if run_dir.is_file():
        raise MissingInputError(
            f"run={run_dir} is a file, not a run directory; pass the folder that holds it ({run_dir.parent})"
        )
    if not run_dir.is_dir():
        raise MissingInputError(
            f"run={run_dir}: no such directory; pass a run directory such as "
            "runs/stage1/<model>/<variant>/<task>/seed<k> (`afuse list runs` lists them)"
        )
    if not (run_dir / CONFIG).is_file():
        raise MissingInputError(
            f"run={run_dir}: no {CONFIG} there, so it is not a run directory; `afuse list runs` lists them"
        )
    if not is_complete(run_dir):
        raise MissingInputError(
            f"run={run_dir}: the run is not finished (no {METRICS}): {_unfinished(run_dir)}"
        )
    cfg, metrics = read_finished_run(run_dir)
    return run_dir, cfg, metrics


def _unfinished(run_dir: Path) -> str:
    """What an unfinished run is doing and what to do about it: waiting is all a training run
    needs, a rerun of the command resumes a failed or stopped one."""
    from afuse.commands.status import State, job_state

    state, note = job_state(run_dir)
    if state is State.RUNNING:
        return f"it is still training ({note}); use it once it is done (`afuse status` shows when)"
    made = "rerun the command that made it to resume from its last checkpoint"
    if state is State.FAILED:
        return f"it failed ({note}); {made} once the cause is fixed"
    return f"it stopped before the end; {made}"


def run_config(run_dir: Path) -> DictConfig:
    """The run's saved config, with paths.runs pointing at the runs/ tree the run is in now."""
    run_dir, cfg, _ = read_run(run_dir)
    parsed = parse_run_dir(Path(run_dir).resolve())
    if parsed is not None:  # the tree may have moved since the run was made
        OmegaConf.update(cfg, "paths.runs", str(parsed.root))
    return cfg


def fusion_sources(cfg: DictConfig, run_dir: Path, metrics: dict):
    """(MT-A run or None, sources) of a fuse run's config: the adapters it was trained on (the
    same files: refused if a source was retrained since), found under the runs tree it is in now."""
    from afuse.fusion_sources import absent_source_runs, located_config, resolve_mt_a, resolve_st_a_sources
    from afuse.source_digests import check_source_digests

    cfg = located_config(run_dir, cfg)
    absent = absent_source_runs(cfg)
    if absent:  # not "train them": the fusion was trained over those very files
        raise MissingInputError(_sources_not_here(run_dir, cfg, absent))
    mt_run, sources = resolve_mt_a(cfg) if cfg.adapters == MT_A else (None, resolve_st_a_sources(cfg))
    check_source_digests(run_dir, metrics, sources)
    return mt_run, sources


def _sources_not_here(run_dir: Path, cfg: DictConfig, absent: dict[str, Path]) -> str:
    listing = "\n".join(f"  {name}: {path}" for name, path in absent.items())
    return (
        f"run={run_dir}: the adapters this Fusion run was trained over are not in its runs tree "
        f"{cfg.paths.runs} (no finished run there):\n{listing}\n"
        "Copy them from where the Fusion was trained, each to the same place under the runs tree "
        "(a copy of stage2/ alone leaves them behind); adapters trained anew are accepted only if "
        "bit-identical to those it recorded (source_sha256 in its metrics.json)"
    )


def load_fusion_run(model: AfuseModel, run_dir: Path, cfg: DictConfig, metrics: dict) -> None:
    """Into `model`: the adapters a finished Fusion run was trained on (and the MT-A encoder under
    them), then its fusion; the one way evaluate, predict and this module rebuild a Fusion run.
    Refused with one line when a file is missing, a source was retrained since, or the fusion file
    is over other sources."""
    fusion_file = run_dir / FUSION_FILE
    if not fusion_file.is_file():
        raise MissingInputError(missing_weights(fusion_file, run_dir))
    mt_run, sources = fusion_sources(cfg, run_dir, metrics)
    if mt_run is not None:
        encoder = mt_run / ENCODER_FILE
        if not encoder.is_file():
            raise MissingInputError(missing_weights(encoder, mt_run))
        model.load_encoder(encoder)
    for source in sources:
        model.load_adapter(source.name, source.adapter_dir)
    check_fusion_file(run_dir, model.load_fusion(fusion_file).sources, sources)


def missing_weights(path: Path, run_dir: Path, hint: str | None = None) -> str:
    """What to say of a run's weights file that is not there: the run is finished (its record is
    there), so the file was left out of a copy of the tree (metrics and configs only, committed
    records) or deleted since."""
    where = path.relative_to(run_dir) if path.is_relative_to(run_dir) else path
    return f"run={run_dir}: {where} is missing, so the trained model cannot be rebuilt; " + (
        hint
        or f"its record is here without it (a copy of the tree that left weights out?): copy {where} from "
        f"where the run was trained into {run_dir}, or retrain the run with force=true"
    )


def check_run_files(run_dir: Path, cfg: DictConfig, kind: str, task: str) -> None:
    """The run's own weights that rebuilding it for `task` reads (evaluate, predict, export):
    MissingInputError naming the first one that is not there."""
    if kind == "mt_a":
        needed = ["encoder.safetensors", f"adapters/{task}/adapter_config.json", f"heads/{task}.safetensors"]
    else:
        needed = {"full": ["encoder.safetensors"], "fusion": ["fusion.safetensors"]}.get(kind, [])
        needed += ["adapter_config.json"] if kind in ("st_a", "houlsby") else []
        needed += ["head.safetensors"]
    for name in needed:
        if not (run_dir / name).exists():
            unkept = kind == "full" and name == "encoder.safetensors" and not cfg.get("save_encoder")
            raise MissingInputError(missing_weights(run_dir / name, run_dir, _NO_ENCODER if unkept else None))


_NO_ENCODER = (
    "this Full fine-tuning run was trained without save_encoder=true, so its model was not kept; "
    "retrain it with save_encoder=true force=true"
)


def load_run_model(run_dir: str | Path, task: str | None = None) -> AfuseModel:
    """The model of a finished run of any kind (ST-A, Houlsby, Head, Full with save_encoder=true,
    Fusion, MT-A), in eval mode, its adapter or fusion and head active: the model afuse evaluate
    and predict score (afuse.inference.rebuild.load_run, which also gives its tokenizer and labels).
    `task=` picks an MT-A run's task (default: its first); another task is refused."""
    from afuse.inference.rebuild import load_run  # it builds on this module

    run_dir, cfg, metrics = read_run(run_dir)
    if task is None and metrics.get("kind") == MT_A:
        task = str(cfg.tasks[0])
    return load_run(run_dir, task).model
