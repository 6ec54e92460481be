"""The runs under a paths.runs tree, found by walking it: for `afuse list runs`, and for
`afuse status` / `afuse report` without an experiment preset.

    runs = find_runs(runs_root, data_root)   # every run directory, with its state and test accuracy
    runs_elsewhere(runs_root)                # when there are none: where they are, if that can be told
    check_runs_root(runs_root)               # a chosen paths.runs that is not a directory: ConfigError

A run directory is <root>/stage{1,2}/<model>/<variant>/<task>/seed<k> (afuse/run_identity.py); its state
is the one `afuse status` gives a preset's job (done, running, failed, incomplete), `damaged`
when its result does not read (afuse.result_check: metrics.json, config.yaml, weights files), or
`stale` for a Fusion run whose source adapters were retrained since (afuse.fusion_sources), or a
run whose prepared data under paths.data were prepared again since, or whose raw files changed
since they were prepared (afuse.data_record).
"""

import json
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from afuse.data_record import data_change_note
from afuse.errors import ConfigError
from afuse.paths import conf_dir
from afuse.result_check import load_config_yaml, result_damage
from afuse.run_identity import STAGES, find_run_dirs
from afuse.runs import CONFIG, METRICS
from afuse.source_digests import SourceDigests, retrained_sources, stale_sources_note

DAMAGED = "damaged"
STALE = "stale"  # finished, but its source adapters or its data changed since (afuse status's `stale`)


@dataclass(frozen=True)
class FoundRun:
    run_dir: Path
    stage: int
    model: str
    variant: str
    task: str  # the task; a Fusion run's target; an MT-A run's tasks key (rte-cb, all16)
    seed: int
    state: str
    note: str
    metrics: dict | None

    @property
    def done(self) -> bool:
        return self.state == "done"

    @property
    def finished(self) -> bool:
        """Done, or finished but stale: a result the report shows, marked."""
        return self.state in ("done", STALE)

    def test_accuracies(self) -> dict[str, float]:
        """Test accuracy per task (an MT-A run has one per task)."""
        if not self.metrics:
            return {}
        if "tasks" in self.metrics:
            return {t: r.get("test", {}).get("accuracy") for t, r in self.metrics["tasks"].items()}
        accuracy = self.metrics.get("test", {}).get("accuracy")
        return {self.task: accuracy} if isinstance(accuracy, int | float) else {}


def find_runs(runs_root: str | Path, data_root: str | Path | None = None) -> list[FoundRun]:
    """`data_root`: paths.data, whose prepared copies finished runs are compared with (None: not)."""
    found = []
    digests = SourceDigests()  # the tree's Fusion runs share their source adapters: hash each once
    for run in find_run_dirs(runs_root):
        state, note, metrics = run_state(run.path, digests, data_root)
        found.append(
            FoundRun(run.path, run.stage, run.model, run.variant, run.task, run.seed, state, note, metrics)
        )
    return found


def run_state(
    run_dir: Path, digests: SourceDigests | None = None, data_root: str | Path | None = None
) -> tuple[str, str, dict | None]:
    """(state, note, metrics) of one run directory."""
    from afuse.commands.status import job_state

    if (run_dir / METRICS).is_file():
        # The check a rerun's skip and a preset's status make: a run that does not read is not done.
        damage = result_damage(run_dir)
        if damage:
            return DAMAGED, f"{damage}; rerun with force=true", None
        if not (run_dir / CONFIG).is_file():
            return DAMAGED, f"no {CONFIG} beside {METRICS}; rerun with force=true", None
        metrics = json.loads((run_dir / METRICS).read_text())
        retrained = retrained_sources(run_dir, load_config_yaml(run_dir / CONFIG), digests or SourceDigests())
        if retrained:
            return STALE, f"{stale_sources_note(retrained)}; rerun with force=true", metrics
        other_data = data_change_note(metrics, data_root) if data_root else None
        if other_data:
            return STALE, f"{other_data}; rerun with force=true", metrics
        return "done", "", metrics
    state, note = job_state(run_dir)
    return str(state), note, None


def check_runs_root(runs_root: str | Path) -> None:
    """A paths.runs that is not a directory is a mistyped path when it was chosen (ConfigError);
    the default runs/ is simply not there yet on a fresh clone (runs_elsewhere then says so)."""
    root = Path(runs_root)
    if root.is_dir() or (str(runs_root) == default_runs_root() and not root.exists()):
        return
    what = "not a directory" if root.exists() else "no such directory"
    raise ConfigError(
        f"paths.runs={runs_root}: {what}; point it at a runs tree (a folder holding stage1/ or "
        f"stage2/, e.g. runs/cpu_small after `make demo`), or leave it out for ./{default_runs_root()}"
    )


def default_runs_root() -> str:
    """paths.runs as conf/paths/default.yaml sets it."""
    return str(OmegaConf.load(conf_dir() / "paths" / "default.yaml").runs)


def runs_elsewhere(runs_root: str | Path) -> str:
    """Why `runs_root` shows no runs, as a clause to append to 'no runs under <root>', or ''; a
    clause starting with ';' says where to look instead.

    A preset keeps its runs in runs/<preset>/ (`make demo`: runs/cpu_small/), so plain
    `afuse list runs` in runs/ finds none; a path inside a runs tree (runs/stage1/minilm) is
    not one either."""
    root = Path(runs_root)
    if not root.exists():  # the default runs/ (check_runs_root refuses any other missing root)
        return ": nothing trained here yet"
    if not root.is_dir():
        return ": it is a file, not a directory"
    for ancestor in (root.resolve(), *root.resolve().parents):
        if ancestor.name in STAGES:
            return f"; it is inside the runs tree {ancestor.parent}: use paths.runs={ancestor.parent}"
    stages = [p for stage in STAGES for pattern in (f"*/{stage}", f"*/*/{stage}") for p in root.glob(pattern)]
    trees = sorted({str(p.parent) for p in stages if p.is_dir()})
    if not trees:
        return ""
    more = f" and {len(trees) - 5} more" if len(trees) > 5 else ""
    return f"; runs trees inside it: {', '.join(trees[:5])}{more} (paths.runs=<one of them>)"
