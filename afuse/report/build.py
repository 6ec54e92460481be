"""`afuse report`: read a preset's finished runs, write its tables and heatmaps.

Everything goes to <paths.results>/<experiment>/:

    report.md                       all of the below in one page, heatmap grids inline
    accuracy.{md,csv,tex}           Table 1 layout: tasks x columns, mean ± std (n) over seeds
    paper_comparison.{md,csv,tex}   ours, the paper's number and the difference, per column
    table2.{md,csv,tex}             Fusion vs baselines: ↑ → ↓ per task, Improved k/n
    runs.csv                        every expected (column, task, seed): its run dir, accuracy, why it
                                    is left out (stale) and its test split's size
    heatmaps/<fusion variant>/      layerNN.{png,pdf}, grid.{png,pdf}, activations.csv (a variant of
                                    several columns: heatmaps/<column>/, e.g. tiny_dynamic_pfeiffer_rf16)
    report_files.txt                the files this report wrote (older ones not in it are removed)

Writes are atomic and the output depends only on the runs and the config: rerunning on the same
runs rewrites the same bytes.
"""

import logging
import re
import shlex
from dataclasses import replace
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from afuse.atomic import atomic_write_bytes, atomic_write_text
from afuse.commands.status import damaged_reasons, data_origin, stale_reasons
from afuse.discovered import discovered_experiment
from afuse.experiment import Experiment, load_experiment, preset_requested
from afuse.report import formats, tables
from afuse.report.collect import expected_runs, read_accuracies, read_activations
from afuse.report.heatmaps import activation_cubes, cube_frame, figure_bytes, grid_figure, layer_figure
from afuse.report.layout import Layout, report_layout
from afuse.report.paper import paper_table
from afuse.run_identity import parse_run_dir
from afuse.runs import is_complete

log = logging.getLogger("afuse")

MANIFEST = "report_files.txt"


class ReportFiles:
    """The files of one report, collected in memory and then written together."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.tables: dict[str, pd.DataFrame] = {}  # for experiment trackers
        self.sections: list[str] = []  # Markdown sections of report.md

    def add(self, name: str, content: str | bytes) -> None:
        self.files[name] = content.encode("utf-8") if isinstance(content, str) else content

    def add_table(self, stem, title, text_table, numbers, notes, label, caption=None, bold=None) -> None:
        """`caption`: the LaTeX caption where the title will not do (LaTeX numbers the table
        itself); `bold`: the cells the LaTeX sets in bold (formats.latex_table)."""
        self.add(f"{stem}.md", formats.markdown_document(title, text_table, notes))
        self.add(f"{stem}.csv", formats.csv_text(numbers))
        self.add(f"{stem}.tex", formats.latex_table(text_table, caption or title, label, notes, bold))
        self.tables[stem] = text_table
        self.sections.append(formats.markdown_document(title, text_table, notes))

    def write(self, out: Path) -> None:
        previous = _previous_files(out)
        for name, content in sorted(self.files.items()):
            atomic_write_bytes(out / name, content)
        atomic_write_text(out / MANIFEST, "".join(f"{name}\n" for name in sorted(self.files)))
        for stale in sorted(previous - set(self.files)):
            if (out / stale).is_file():  # a damaged list may name a folder
                (out / stale).unlink()


def build_report(cfg: DictConfig, settings: dict[str, list[str]] | None = None) -> Path | None:
    """Write the report of a preset (or, without one, of every finished run under paths.runs);
    None, and nothing written, while no run of the preset is finished. `settings`: the data.* /
    trainer.* overrides the jobs were made with, per command (afuse.experiment.GroupComposer)."""
    preset = preset_requested(cfg)
    experiment = load_experiment(cfg, settings) if preset else discovered_experiment(cfg)
    selector = _selector(cfg, experiment, preset)
    layout = report_layout(experiment)  # a mistake in it is one now, not once a run has finished
    jobs = experiment.jobs()
    if not any(is_complete(job.run_dir) for job in jobs):
        log.info(
            "afuse report: nothing to report yet (0 of %d jobs finished); `afuse status %s` "
            "says what to launch",
            len(jobs),
            selector,
        )
        return None
    settings = cfg.report
    out = Path(cfg.paths.results) / experiment.name
    report = ReportFiles()

    # Finished, but no longer the preset's result (stale) or not readable (damaged): not counted.
    damaged = damaged_reasons(experiment, *_retrain_settings(cfg), preset=preset)
    for why in damaged.values():
        log.warning("afuse report: left out of the numbers: %s", why)
    left_out = stale_reasons(experiment, damaged) | damaged
    accuracies = read_accuracies(expected_runs(layout), left_out, frozenset(damaged))
    summary = tables.summarize(accuracies, layout)
    _accuracy_tables(report, experiment, layout, summary)
    if layout.paper_table:
        _paper_tables(report, experiment, layout, summary)
    if layout.comparisons:
        _table2(report, experiment, layout, summary, float(settings.same_tolerance))
    report.add("runs.csv", formats.csv_text(accuracies.drop(columns="multitask").set_index("column")))
    figures = _heatmaps(report, experiment, layout, settings, left_out) if settings.heatmaps else []
    left_out_counts = {"stale": len(left_out) - len(damaged), "damaged": len(damaged)}
    report.add("report.md", _report_page(experiment, selector, report.sections, figures, left_out_counts))
    report.write(out)
    log.info("afuse report: %d files in %s", len(report.files), out)
    if cfg.get("logger", {}).get("name") == "wandb":
        from afuse.report.tracking import log_to_wandb

        log_to_wandb(cfg.logger, experiment.name, report.tables, [out / f for f in figures])
    return out


def _accuracy_tables(report, experiment: Experiment, layout: Layout, summary: pd.DataFrame) -> None:
    report.add_table(
        "accuracy",
        f"Accuracy: {experiment.name} ({experiment.model})",
        tables.accuracy_table(summary, layout),
        tables.accuracy_numbers(summary, layout),
        tables.footnotes(summary),
        f"tab:{experiment.name}-accuracy",
        bold=tables.best_cells(summary, layout),
    )


def _paper_tables(report, experiment: Experiment, layout: Layout, summary: pd.DataFrame) -> None:
    paper = paper_table(layout.paper_table)
    report.add_table(
        "paper_comparison",
        f"Ours vs the paper: {paper.title.split(' (')[0]}",
        tables.paper_comparison(summary, layout, paper),
        tables.paper_comparison_numbers(summary, layout, paper),
        tables.paper_notes(layout, paper, experiment.model, summary),
        f"tab:{experiment.name}-paper",
    )


def _table2(report, experiment: Experiment, layout: Layout, summary: pd.DataFrame, tolerance: float) -> None:
    numbers = tables.comparison_frame(summary, layout, tolerance).set_index(["fusion", "baseline", "task"])
    table = tables.table2(summary, layout, tolerance, with_paper=layout.paper_table == "table1")
    report.add_table(
        "table2",
        "Table 2: Fusion compared to its baselines",
        table,
        numbers,
        tables.table2_notes(tolerance, with_paper=any(c.endswith("(paper)") for c in table.columns)),
        f"tab:{experiment.name}-table2",
        caption="Fusion compared to its baselines, as in the paper's Table 2",
    )


def _heatmaps(
    report, experiment: Experiment, layout: Layout, settings, left_out: dict[str, str]
) -> list[str]:
    """Write each Fusion variant's heatmaps (stale runs left out); return the grid figures' paths
    (for report.md)."""
    grids = []
    cubes = activation_cubes(read_activations(layout, left_out))
    shared = {cube.variant for cube in cubes if sum(c.variant == cube.variant for c in cubes) > 1}
    for cube in cubes:
        cube = replace(cube, expected=_expected_seeds(layout.column(cube.column), cube))
        folder = f"heatmaps/{_folder_name(cube.column) if cube.variant in shared else cube.variant}"
        model = _column_model(layout.column(cube.column)) or experiment.model
        annotate = len(cube.targets) * len(cube.sources) <= int(settings.annotate_max_cells)
        figures = {
            f"layer{layer:02d}": layer_figure(cube, layer, model, annotate)
            for layer in range(1, cube.layers + 1)
        }
        figures["grid"] = grid_figure(cube, model)
        for stem, figure in figures.items():
            for fmt in settings.heatmap_formats:
                report.add(f"{folder}/{stem}.{fmt}", figure_bytes(figure, fmt))
        report.add(f"{folder}/activations.csv", formats.csv_text(cube_frame(cube).set_index("layer")))
        grids.append(f"{folder}/grid.png")
    return grids


def _expected_seeds(column, cube) -> dict[str, int]:
    """Per target of the cube, how many seeds its column's jobs of that Fusion variant are."""
    jobs = [job for group in column.groups if group.variant == cube.variant for job in group.jobs]
    return {target: sum(job.task == target for job in jobs) for target in cube.targets}


def _column_model(column) -> str | None:
    """The model of a column's runs (a runs tree may hold several models' runs), from its run
    directories; None if they do not say."""
    runs = [parse_run_dir(job.run_dir) for group in column.groups for job in group.jobs]
    models = {run.model for run in runs if run is not None}
    return models.pop() if len(models) == 1 else None


def _folder_name(column: str) -> str:
    """A column's label as one folder name: for Fusion columns sharing a variant name (two models'
    `<model>/<variant>` columns of one runs tree), whose heatmaps would otherwise overwrite each other."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", column).strip("_")


# What a report's numbers depend on besides the runs (the preset's jobs and settings as given),
# and where it was written (a rerun without paths.results would write a second copy elsewhere).
SELECTING = ("model", "data.", "trainer.", "paths.runs", "paths.results", "experiment.", "hydra.searchpath")


def _selector(cfg: DictConfig, experiment: Experiment, preset: bool) -> str:
    """What selects these runs (and the settings they are compared with) on a command line, for
    the report page's `afuse report ...` and `afuse status ...`: a discovered "experiment" is
    named after the runs folder, which is no preset."""
    if not preset:
        return f"paths.runs={cfg.paths.runs}"
    chosen = [o for o in _given_overrides(("experiment",)) if o.lstrip("+~").startswith(SELECTING)]
    return " ".join([f"experiment={experiment.name}", *map(shlex.quote, chosen)])


def _retrain_settings(cfg: DictConfig) -> tuple[tuple[str, ...], dict]:
    """What a retrain line given by the report passes on: its command line's overrides, and the
    data origin they compose (as `afuse status` gives them)."""
    return _given_overrides(("experiment", "report.")), data_origin(cfg)


def _given_overrides(own: tuple[str, ...]) -> tuple[str, ...]:
    """The report command line's overrides but its `own` keys; none when no Hydra app runs (a
    report built from Python)."""
    from hydra.core.hydra_config import HydraConfig

    from afuse.experiment import passed_on_overrides

    return passed_on_overrides(own) if HydraConfig.initialized() else ()


def _report_page(
    experiment: Experiment, selector: str, sections: list[str], grids: list[str], left_out: dict[str, int]
) -> str:
    jobs = experiment.jobs()
    done = sum(is_complete(job.run_dir) for job in jobs)
    kinds = [f"{n} {kind}" for kind, n in left_out.items() if n]
    stale_note = (
        f" ({' and '.join(kinds).replace(' ', ' of them ', 1)}, left out of the numbers: §)" if kinds else ""
    )
    head = [
        f"# afuse report: {experiment.name}",
        "",
        *([experiment.description, ""] if experiment.description else []),
        f"Model {experiment.model}; runs under `{experiment.runs_root}`; {done} of {len(jobs)} jobs finished{stale_note}. "
        f"Written by `afuse report {selector}` from the runs' metrics.json and activations.json; "
        f"`afuse status {selector}` lists what is missing.",
        "",
    ]
    figures = ["## Fusion activations", ""] if grids else []
    for grid in grids:
        figures += [f"![{grid}]({grid})", "", f"Per layer: `{Path(grid).parent}/layerNN.png` (and .pdf).", ""]
    return "\n".join(head + [s for section in sections for s in (section, "")] + figures).rstrip("\n") + "\n"


def _previous_files(out: Path) -> set[str]:
    manifest = out / MANIFEST
    names = set(manifest.read_text().split()) if manifest.is_file() else set()
    # Only names a report writes: inside `out`. A damaged or edited list must not delete elsewhere.
    return {name for name in names if not Path(name).is_absolute() and ".." not in Path(name).parts}
