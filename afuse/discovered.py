"""An experiment made of whatever runs a paths.runs tree holds: `afuse status` and `afuse report`
without `experiment=` (runs made with plain commands, e.g. `afuse train-adapter -m task=rte seed=1,2,3`).

Runs are grouped by stage, model and variant (an MT-A run also by its task set); each group is a
column of the report, named `<model>/<variant>`, and the tasks are its rows, as in a preset's
report. The report goes to <paths.results>/<name of the paths.runs folder>/ (`<name>-all-runs/`
when a preset has that name).
"""

from collections import defaultdict
from pathlib import Path

from omegaconf import DictConfig

from afuse.catalog import DAMAGED, STALE, FoundRun, check_runs_root, find_runs, runs_elsewhere
from afuse.errors import MissingInputError
from afuse.experiment import Experiment, Group, Job
from afuse.run_identity import FUSE, MT_A, multitask_tasks


def discovered_name(cfg: DictConfig) -> str:
    """The paths.runs folder's name; `<name>-all-runs` when a preset has that name: the presets
    keep their runs in runs/<preset>, and this report must not replace the preset's own report
    in <paths.results>/<preset>/."""
    from afuse.experiment import preset_names

    name = Path(cfg.paths.runs).resolve().name or "runs"
    return f"{name}-all-runs" if name in preset_names() else name


def _command(run: FoundRun) -> str:
    if run.stage == 2:
        return FUSE
    if run.variant == MT_A:
        return "train-multitask"
    return "finetune" if run.variant in ("head", "full") else "train-adapter"


def _group(label: str, runs: list[FoundRun]) -> Group:
    first = runs[0]
    command = _command(first)
    if command == "train-multitask":  # the group's tasks are the tasks the MT-A model was trained on
        tasks = tuple(sorted({t for r in runs for t in r.test_accuracies() or multitask_tasks(r.task)}))
    else:
        tasks = tuple(sorted({r.task for r in runs}))
    jobs = tuple(Job(label, command, r.stage, r.task, r.seed, r.run_dir) for r in runs)
    seeds = tuple(sorted({r.seed for r in runs}))
    return Group(label, first.stage, command, tasks, seeds, (), first.variant, jobs)


def discovered_experiment(cfg: DictConfig, finished_only: bool = True) -> Experiment:
    """The finished runs under paths.runs, damaged ones included: the report leaves those out of
    its numbers, marked and said, as it does a preset's (a run missing from the tree's report
    without a word reads as never run)."""
    check_runs_root(cfg.paths.runs)
    runs = [
        r
        for r in find_runs(cfg.paths.runs, cfg.paths.get("data"))
        if r.finished or r.state == DAMAGED or not finished_only
    ]
    if not runs:
        from afuse.experiment import preset_names

        where = runs_elsewhere(cfg.paths.runs) or ": train some first, point paths.runs=<dir> at a runs tree"
        raise MissingInputError(
            f"no {'finished ' if finished_only else ''}runs under {cfg.paths.runs}{where}, "
            f"or pass experiment=<name>, one of: {' '.join(preset_names())}"
        )
    by_group: dict[str, list[FoundRun]] = defaultdict(list)
    for run in runs:
        key = f"{run.model}/{run.variant}" + (f"/{run.task}" if run.variant == MT_A else "")
        by_group[key].append(run)
    ordered = sorted(by_group, key=lambda k: (by_group[k][0].stage, k))
    groups = {label: _group(label, by_group[label]) for label in ordered}
    models = sorted({r.model for r in runs})
    description = f"every finished run under {cfg.paths.runs}, by model and variant (no experiment preset)"
    data_root = cfg.paths.get("data")
    return Experiment(
        discovered_name(cfg),
        ", ".join(models),
        Path(cfg.paths.runs),
        groups,
        description,
        {},
        Path(data_root) if data_root else None,
    )


def status_text(cfg: DictConfig) -> str:
    """Runs per (model, variant) and state, then the runs that are not done."""
    from afuse.commands.status import State, format_table, shown_dir

    check_runs_root(cfg.paths.runs)
    runs = find_runs(cfg.paths.runs, cfg.paths.get("data"))
    if not runs:
        where = runs_elsewhere(cfg.paths.runs)
        if where.startswith(";"):
            where += ", or pass experiment=<preset> for a preset's runs"
        else:
            where += " (paths.runs=<dir> to look elsewhere, or pass experiment=<preset>)"
        return f"no runs under {cfg.paths.runs}{where}"
    states = sorted({r.state for r in runs}, key=[str(state) for state in State].index)  # status's order
    counts: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for run in runs:
        counts[(f"stage{run.stage}", run.model, run.variant)][run.state] += 1
    rows = [
        [*key, str(sum(c.values())), *(str(c.get(s, 0)) for s in states)] for key, c in sorted(counts.items())
    ]
    parts = [
        f"runs under {cfg.paths.runs} (no experiment preset: every run directory found)",
        "",
        format_table(["stage", "model", "variant", "runs", *states], rows),
    ]
    pending = [r for r in runs if not r.done]
    if pending:
        table = [[r.state, r.variant, r.task, str(r.seed), shown_dir(r.run_dir), r.note] for r in pending]
        parts += ["", format_table(["state", "variant", "task", "seed", "run dir", "note"], table)]
        parts += ["", *_what_to_rerun({r.state for r in pending})]
    if any(r.done for r in runs):
        parts += ["", f"`afuse report paths.runs={cfg.paths.runs}` tabulates the finished ones."]
    return "\n".join(parts)


def _what_to_rerun(states: set[str]) -> list[str]:
    # A plain rerun skips a finished run: only force=true replaces a damaged or stale one.
    lines = []
    if states - {DAMAGED, STALE, "running"}:
        lines.append(
            "Rerun an incomplete or failed run's own command to resume it (its config.yaml holds the settings)."
        )
    if states & {DAMAGED, STALE}:
        lines.append(
            "A plain rerun skips a finished run: rerun a damaged or stale run's own command with force=true "
            "to train it again."
        )
    return lines
