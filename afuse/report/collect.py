"""What the finished runs of a preset say: accuracies and Fusion activations, as tidy tables.

Only the preset's own jobs are read (a stray seed-4 run in the same tree is not), and a job
counts once its metrics.json exists. Accuracies are stored as fractions (docs/contracts.md) and
reported in percent, like the paper.
"""

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from afuse.errors import AfuseError
from afuse.report.layout import Layout
from afuse.result_check import read_run_config
from afuse.runs import CONFIG, METRICS, is_complete
from afuse.sites import FFN

ACTIVATIONS = "activations.json"

log = logging.getLogger(__name__)


def expected_runs(layout: Layout) -> pd.DataFrame:
    """One row per (column, task, seed) the preset should produce, with the run that holds it."""
    rows = []
    for column in layout.columns:
        for group in column.groups:
            for job in group.jobs:
                # An MT-A run holds every one of its tasks; other runs hold one task.
                tasks = group.tasks if group.is_multitask else (job.task,)
                for task in tasks:
                    rows.append((column.label, task, job.seed, str(job.run_dir), group.is_multitask))
    frame = pd.DataFrame(rows, columns=["column", "task", "seed", "run_dir", "multitask"])
    duplicated = frame[frame.duplicated(["column", "task", "seed"], keep=False)]
    if not duplicated.empty:
        first = duplicated.iloc[0]
        raise AfuseError(
            f"experiment.report.columns: column {first.column!r} gets {first.task} seed {first.seed} "
            "from more than one job group; give each (task, seed) one group"
        )
    return frame


def read_accuracies(
    expected: pd.DataFrame, left_out: dict[str, str] | None = None, unread: frozenset[str] = frozenset()
) -> pd.DataFrame:
    """`expected` plus, per run: `accuracy` (test accuracy in percent; NaN where the run is not
    complete), `left_out` (why a finished run is not the preset's result, "" when it is: see
    afuse.commands.status.stale_reasons and damaged_reasons), what its test split was: `test_n`
    rows scored, `test_rows` rows of the split (runs before afuse recorded it: NaN) and
    `test_limit` (the run's data.max_test_examples, read only for those older runs), and
    `test_carved` (how the split was carved from the official ones, "" when it is the official dev
    set: afuse.data.splits). Runs in `unread` (damaged: status.damaged_reasons) are not read: no
    number comes from a damaged file."""
    left_out = left_out or {}
    finished = [run_dir for run_dir in expected.run_dir.unique() if run_dir not in unread]
    metrics = {run_dir: _read_metrics(Path(run_dir)) for run_dir in finished}
    configs = {
        run_dir: read_run_config(Path(run_dir) / CONFIG) if metrics[run_dir] else None for run_dir in finished
    }
    rows = [
        _run_row(metrics.get(row.run_dir), configs.get(row.run_dir), row.task, row.multitask, row.run_dir)
        for row in expected.itertuples()
    ]
    read = pd.DataFrame(
        rows, columns=["accuracy", "test_n", "test_rows", "test_limit", "test_carved"], index=expected.index
    )
    reasons = [left_out.get(run_dir, "") for run_dir in expected.run_dir]
    counts = read[["test_n", "test_rows", "test_limit"]].astype("Int64")  # integers, blank where unknown
    return expected.assign(accuracy=read.accuracy, left_out=reasons, **counts, test_carved=read.test_carved)


def _run_row(metrics: dict | None, config: dict | None, task: str, multitask: bool, run_dir: str) -> tuple:
    if metrics is None:
        return (np.nan,) * 4 + ("",)
    scope = metrics.get("tasks", {}).get(task, {}) if multitask else metrics
    test = scope.get("test", {})
    accuracy = _test_accuracy(test, task, multitask, run_dir)
    rows = test.get("split_rows")
    limit = np.nan if isinstance(rows, int) else _test_limit(config)
    carved = "" if multitask else test_carving(config)  # an MT-A config holds no one task's carving
    return accuracy, _count(test.get("n")), _count(rows), limit, carved


def _count(value) -> float:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else np.nan


def _test_limit(config: dict | None) -> float:
    """data.max_test_examples of the run (as its command applied it to its task), NaN if none."""
    data = (config or {}).get("data")
    return _count(data.get("max_test_examples")) if isinstance(data, dict) else np.nan


def test_carving(config: dict | None) -> str:
    """How the run's test split was carved (its task config's `carve` rules for the data.source it
    read, afuse.data.splits), in words; "" when the split is the official dev set as it is."""
    config = config or {}
    source = (config.get("data") or {}).get("source")
    task = config.get("task") if isinstance(config.get("task"), dict) else {}
    rules = (task.get(source) or {}).get("carve") if isinstance(task.get(source), dict) else None
    said = []
    for split, rule in (rules or {}).items():
        if not isinstance(rule, dict):
            continue
        if rule.get("from") == "test":
            said.append(
                f"the rest of its official dev set after {rule.get('fraction', 0):.0%} of it was carved into {split}"
            )
        elif split == "test":
            said.append(f"{rule.get('fraction', 0):.0%} carved from its official {rule.get('from')} split")
    if not said:
        return ""
    return f"tested on {' and '.join(said)} (data.source={source}: see the task's manifest.json)"


def _read_metrics(run_dir: Path) -> dict | None:
    if not is_complete(run_dir):
        return None
    try:
        return json.loads((run_dir / METRICS).read_text())
    except ValueError as exc:
        raise AfuseError(
            f"{run_dir / METRICS}: not valid JSON ({exc}); rerun that job with force=true"
        ) from exc


def _test_accuracy(test: dict, task: str, multitask: bool, run_dir: str) -> float:
    where = f"{Path(run_dir) / METRICS}"
    accuracy = test.get("accuracy")
    if not isinstance(accuracy, int | float):
        key = f"tasks.{task}.test.accuracy" if multitask else "test.accuracy"
        raise AfuseError(f"{where}: no {key} (docs/contracts.md: metrics.json)")
    if not 0.0 <= accuracy <= 1.0:
        raise AfuseError(f"{where}: test accuracy {accuracy} is not a fraction in [0, 1]")
    return 100.0 * accuracy


def read_activations(layout: Layout, left_out: dict[str, str] | None = None) -> pd.DataFrame:
    """Mean Fusion weights of every finished Fusion run of the layout's columns, one row per
    (column, variant, target, seed, layer, source); layers count from 1 as in the paper. Runs in
    `left_out` (stale: see read_accuracies) are not read."""
    left_out = left_out or {}
    rows = []
    for column in layout.columns:
        if not column.is_fusion:
            continue
        for group in column.groups:
            for job in group.jobs:
                path = job.run_dir / ACTIVATIONS
                if not is_complete(job.run_dir) or str(job.run_dir) in left_out:
                    continue
                if not path.is_file():  # stage 2 writes it before metrics.json: removed since
                    log.warning(
                        "%s: a finished Fusion run without %s: left out of the heatmaps "
                        "(rerun it with force=true to write it again)",
                        job.run_dir,
                        ACTIVATIONS,
                    )
                    continue
                for site, layer, source, weight in _activation_cells(path):
                    rows.append(
                        (column.label, group.variant, job.task, job.seed, site, layer, source, weight)
                    )
    columns = ["column", "variant", "target", "seed", "site", "layer", "source", "weight"]
    return pd.DataFrame(rows, columns=columns)


def _activation_cells(path: Path):
    """(site, layer, source, weight): the FFN `matrix`, or every site's of a fusion at several."""
    try:
        data = json.loads(path.read_text())
        sources = list(data["sources"])
        sites = dict(data["sites"]) if "sites" in data else {FFN: data["matrix"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise AfuseError(
            f"{path}: expected {{'sources': [...], 'matrix': layers x sources}} ({exc}); "
            "rerun that Fusion run with force=true to write it again"
        ) from exc
    for site, matrix in sites.items():
        for layer, weights in enumerate(matrix, start=1):
            if len(weights) != len(sources):
                raise AfuseError(
                    f"{path}: layer {layer} has {len(weights)} weights for {len(sources)} sources"
                )
            yield from ((site, layer, source, float(w)) for source, w in zip(sources, weights, strict=True))
