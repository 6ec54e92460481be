"""The report's tables from per-seed accuracies: Table 1 layout, ours vs the paper, Table 2.

Statistics: a cell is the mean over the seeds that finished and the sample standard deviation
(ddof=1, as numpy.std(ddof=1) / pandas .std()); a cell from one seed has no std and shows the
mean alone. A cell with fewer seeds than the preset asks for is marked partial. Missing cells are
shown as missing, never as 0. Numbers are accuracy in percent with 2 decimals, like the paper.

Each table is built twice: as a DataFrame of display strings (Unicode symbols: ± † ‡ – ↑ → ↓;
afuse.report.formats turns them into LaTeX) and as a numeric DataFrame for CSV.
"""

import numpy as np
import pandas as pd

from afuse.config import PAPER_TASKS, paper_order, task_config, task_names
from afuse.report.layout import Layout
from afuse.report.paper import PaperTable, paper_comparisons, paper_row_label
from afuse.result_check import DAMAGED

UP, SAME, DOWN = "up", "same", "down"
PM, PARTIAL, PARTIAL_MEAN, MISSING = "±", "†", "‡", "–"
LEFT_OUT, SAMPLED = "§", "⁎"  # a stale or damaged run left out of the cell; a test split cut to a sample
CARVED = "°"  # a test split that is a carved part of the official dev set (local BoolQ, CosmosQA, HellaSwag)
ARROWS = {UP: "↑", SAME: "→", DOWN: "↓"}
MEAN_ROW = "Mean"
COMMON_MEAN_ROW = "Mean, common tasks"  # only when the columns cover different tasks


# --- per-cell statistics ---------------------------------------------------------------------


def summarize(accuracies: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """One row per (column, task): mean, std (ddof=1), n finished seeds, expected seeds, missing
    seeds, `left_out` ((seed, why) of finished runs that are stale, not counted) and `sampled`
    (how the test split was cut, "" when it was scored whole). Ordered by the layout's columns,
    then the paper's task order."""
    counted = accuracies.accuracy.where(accuracies.left_out == "")
    ordered = accuracies.assign(
        counted=counted,
        column=pd.Categorical(accuracies.column, [c.label for c in layout.columns], ordered=True),
        task=pd.Categorical(accuracies.task, paper_order(accuracies.task), ordered=True),
    ).sort_values(["column", "task", "seed"])
    grouped = ordered.groupby(["column", "task"], observed=True, sort=True)
    summary = grouped.counted.agg(mean="mean", std="std", n="count")
    summary["expected"] = grouped.seed.size()
    frames = [frame for _, frame in grouped]
    summary["missing_seeds"] = [  # not finished; a damaged run (no accuracy read) is left out instead
        tuple(int(s) for s in frame.seed[frame.accuracy.isna() & (frame.left_out == "")]) for frame in frames
    ]
    summary["left_out"] = [
        tuple((int(s), why) for s, why in zip(frame.seed, frame.left_out, strict=True) if why)
        for frame in frames
    ]
    summary["sampled"] = [_sampled(frame[frame.counted.notna()]) for frame in frames]
    summary["carved"] = ["; ".join(dict.fromkeys(_carved(frame[frame.counted.notna()]))) for frame in frames]
    return summary.reset_index().astype({"column": str, "task": str})


def _sampled(runs: pd.DataFrame) -> str:
    """How the counted runs' test split was cut (data.max_test_examples), "" when it was not.
    Every seed scores the same sample (drawn with data.split_seed): a size one run recorded also
    describes the runs of an older afuse that scored as many rows."""
    scored = runs.dropna(subset=["test_n"])  # a hand-made metrics.json may lack test.n
    known = scored.dropna(subset=["test_rows"])
    said = [
        f"tested on a seeded sample of {run.test_n} of the {run.test_rows} examples of its test split "
        "(data.max_test_examples)"
        for run in known.itertuples()
        if run.test_n < run.test_rows
    ]
    older = scored[scored.test_rows.isna() & ~scored.test_n.isin(known.test_n)].dropna(subset=["test_limit"])
    said += [
        f"tested on {run.test_n} examples, at most data.max_test_examples={run.test_limit} of its test split "
        "(a seeded sample if the split is larger; a run of an older afuse did not record the split's size)"
        for run in older.itertuples()
        if run.test_n >= run.test_limit
    ]
    return "; ".join(dict.fromkeys(said))


def _carved(runs: pd.DataFrame) -> list[str]:
    return [how for how in runs.get("test_carved", pd.Series(dtype=str)).fillna("") if how]


def display_name(task: str) -> str:
    """The task's display_name from conf/task/, else its label in the paper's Table 1 (MNLI, SST,
    WGrande, ...), else its name."""
    if task in task_names():
        return str(task_config(task).get("display_name") or task)
    return paper_row_label(task) or task


def cell_text(mean: float, std: float, n: int, expected: int) -> str:
    """'84.32 ± 0.41 (3)'; one seed: '84.32 (1)'; partial: '84.32 ± 0.41 (2/3)†'; none: '–'."""
    if n == 0 or np.isnan(mean):
        return MISSING
    text = f"{mean:.2f}" if n < 2 else f"{mean:.2f} {PM} {std:.2f}"
    return f"{text} ({n})" if n >= expected else f"{text} ({n}/{expected}){PARTIAL}"


def marked_cell(row) -> str:
    """cell_text of a summary row (a dict or Series), marked § when stale runs were left out of it,
    ⁎ when its test split was a sample and ° when that split is a carved part of the dev set."""
    text = cell_text(row["mean"], row["std"], row["n"], row["expected"])
    marks = (LEFT_OUT, row["left_out"]), (SAMPLED, row["sampled"]), (CARVED, row.get("carved"))
    return text + "".join(mark for mark, said in marks if said)


def delta_text(delta: float) -> str:
    """Signed, 2 decimals; -0.004 shows as +0.00 rather than -0.00."""
    rounded = round(float(delta), 2)
    return f"{rounded + 0.0:+.2f}"


# --- Table 1 layout --------------------------------------------------------------------------


def accuracy_table(summary: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """Rows = tasks (paper order) + Mean, columns = the layout's columns, cells = mean ± std (n)."""
    cells = summary.assign(text=[marked_cell(r) for r in summary.to_dict("records")])
    table = cells.pivot(index="task", columns="column", values="text")
    table = table.reindex(index=paper_order(summary.task), columns=[c.label for c in layout.columns])
    table = table.fillna(MISSING)
    table.loc[MEAN_ROW] = [_mean_cell(summary[summary.column == c.label]) for c in layout.columns]
    common = common_tasks(summary)
    if common:
        means = _common_means(summary, common)
        table.loc[COMMON_MEAN_ROW] = [
            f"{means[c.label]:.2f}{_partial_mark(summary[(summary.column == c.label) & summary.task.isin(common)])}"
            if c.label in means
            else MISSING
            for c in layout.columns
        ]
    return _with_display_index(table)


def _partial_mark(cells: pd.DataFrame) -> str:
    """† when a mean averages a cell with fewer seeds than the preset asks for: a mean quoted
    without its cells must still show that a seed is missing or left out."""
    found = cells[cells.n > 0]
    return PARTIAL if (found.n < found.expected).any() else ""


def best_cells(summary: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """Which cells of accuracy_table hold their task row's best mean, compared as shown (2
    decimals; ties are all best): the cells a paper sets in bold. Only rows where two or more
    columns have a result; never the Mean rows (their columns may average other tasks)."""
    table = accuracy_table(summary, layout)
    best = pd.DataFrame(False, index=table.index, columns=table.columns)
    shown = summary[summary.n > 0].assign(shown=lambda cells: cells["mean"].round(2))
    for task, cells in shown.groupby("task", sort=False):
        if len(cells) > 1:
            winners = cells[cells.shown == cells.shown.max()].column
            best.loc[display_name(task), list(winners)] = True
    return best


def common_tasks(summary: pd.DataFrame) -> list[str]:
    """The tasks every column with a result has, when the columns do not all have the same
    tasks (ST-A on 15 sources, Fusion on 4 targets): their means compare like for like, the
    Mean row's do not. Empty when the columns agree or share no task."""
    found = summary[summary.n > 0]
    per_column = [set(frame.task) for _, frame in found.groupby("column")]
    if len(per_column) < 2 or all(tasks == per_column[0] for tasks in per_column):
        return []
    shared = set.intersection(*per_column)
    return [t for t in paper_order(summary.task) if t in shared]


def _common_means(summary: pd.DataFrame, common: list[str]) -> dict[str, float]:
    found = summary[(summary.n > 0) & summary.task.isin(common)]
    return found.groupby("column")["mean"].mean().to_dict()


def _mean_cell(column_summary: pd.DataFrame) -> str:
    found = column_summary[column_summary.n > 0]
    if found.empty:
        return MISSING
    text = f"{found['mean'].mean():.2f}"
    if len(found) < len(column_summary):
        text = f"{text} ({len(found)}/{len(column_summary)}){PARTIAL_MEAN}"
    return text + _partial_mark(found)


def accuracy_numbers(summary: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """The Table 1 layout as numbers, for CSV: per column its mean, std, n and expected seeds."""
    wide = summary.pivot(index="task", columns="column", values=["mean", "std", "n", "expected"])
    labels = [c.label for c in layout.columns]
    parts = {
        f"{label} {stat}": wide[stat].get(label, np.nan)
        for label in labels
        for stat in ("mean", "std", "n", "expected")
    }
    table = pd.DataFrame(parts).reindex(paper_order(summary.task))
    table.loc[MEAN_ROW.lower()] = {  # the mean of the task means, as in the Markdown table
        f"{label} mean": summary[(summary.column == label) & (summary.n > 0)]["mean"].mean()
        for label in labels
    }
    common = common_tasks(summary)
    if common:
        means = _common_means(summary, common)
        table.loc["mean_common_tasks"] = {f"{label} mean": means.get(label, np.nan) for label in labels}
    for label in labels:  # counts are integers; absent columns stay empty
        for stat in ("n", "expected"):
            table[f"{label} {stat}"] = table[f"{label} {stat}"].astype("Int64")
    table.index.name = "task"
    return table


def footnotes(summary: pd.DataFrame) -> list[str]:
    notes = [
        "Test accuracy (%) on each task's test split: its official dev set, all of it unless marked "
        f"{SAMPLED} (a sample) or {CARVED} (the part a task config carves, where a local copy has no other "
        "split to train on; see the task's manifest.json); mean ± sample standard deviation (ddof=1) over "
        "seeds, (n) = seeds. "
        f"One seed: the mean alone. {MISSING} = no finished run.",
    ]
    for row in summary[(summary.n < summary.expected) & (summary.n > 0)].itertuples():
        why = [f"missing seed {', '.join(map(str, row.missing_seeds))}"] if row.missing_seeds else []
        why += [f"seed {seed} left out {LEFT_OUT}" for seed, _ in row.left_out]
        notes.append(
            f"{PARTIAL} {display_name(row.task)} · {row.column}: {row.n}/{row.expected} seeds ({'; '.join(why)})."
        )
    for row in summary[summary.left_out.map(bool)].itertuples():
        why = "; ".join(f"seed {seed} left out: {reason}" for seed, reason in row.left_out)
        notes.append(f"{LEFT_OUT} {display_name(row.task)} · {row.column}: {why}.")
    if summary.left_out.map(bool).any():
        notes.append(
            f"{LEFT_OUT} = finished runs left out of the cell (and of the heatmaps): stale ones no longer describe the "
            "preset's settings or the adapters they name; `afuse status` lists each with the force=true line "
            "that retrains it, and runs made with other settings on purpose count once the report is given the "
            "data.* / trainer.* overrides they were made with (runs.csv keeps their accuracy)"
            + (
                "; damaged ones do not read, and their note says what retrains them."
                if _any_damaged(summary)
                else "."
            )
        )
    for mark, key in ((SAMPLED, "sampled"), (CARVED, "carved")):
        marked = summary[summary[key] != ""]
        for how, cells in marked.groupby(key, sort=False):  # one note per kind of sample or carving
            names = ", ".join(f"{display_name(row.task)} · {row.column}" for row in cells.itertuples())
            notes.append(f"{mark} {names}: {how}.")
    notes.append(
        f"Mean: over the tasks with a result in the column; {PARTIAL_MEAN} (k/m) = over k of "
        "the column's m tasks, so not comparable with a full mean."
        + (
            f" {PARTIAL} on a mean: it averages a cell with fewer seeds than asked for."
            if ((summary.n > 0) & (summary.n < summary.expected)).any()
            else ""
        )
    )
    common = common_tasks(summary)
    if common:
        notes.append(_common_tasks_note(summary, common))
    return notes


def _common_tasks_note(summary: pd.DataFrame, common: list[str]) -> str:
    """Which tasks the common row is over, and, when some column has no result at all (every run
    of it missing, stale or damaged), which columns it compares."""
    names = ", ".join(display_name(t) for t in common)
    columns = list(dict.fromkeys(summary.column))
    with_results = set(summary[summary.n > 0].column)
    if len(with_results) == len(columns):
        return f"{COMMON_MEAN_ROW}: over the tasks every column has ({names}); compare columns on this row."
    without = [c for c in columns if c not in with_results]
    return (
        f"{COMMON_MEAN_ROW}: over the tasks every column with a result has ({names}): it compares "
        f"{_listed([c for c in columns if c in with_results])}; {_listed(without)} "
        f"{'has' if len(without) == 1 else 'have'} no result."
    )


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _any_damaged(summary: pd.DataFrame) -> bool:
    return any(why.startswith(DAMAGED) for reasons in summary.left_out for _, why in reasons)


# --- ours vs the paper -----------------------------------------------------------------------


def paper_comparison(summary: pd.DataFrame, layout: Layout, paper: PaperTable) -> pd.DataFrame:
    """Per compared column: ours, the paper's and ours − paper, per task and for the mean over the
    tasks both have. Columns whose label is not in the paper's table are left out."""
    tasks = paper_order(summary.task)
    columns = {}
    for label in _compared(layout, paper):
        ours = summary[summary.column == label].set_index("task")
        texts, papers, deltas, pairs = [], [], [], []
        for task in tasks:
            row = ours.loc[task] if task in ours.index else None
            has_ours = row is not None and row.n > 0
            cell = paper.cell(label, task)
            texts.append(marked_cell(row) if row is not None else MISSING)
            papers.append(cell.text() if cell else MISSING)
            deltas.append(delta_text(row["mean"] - cell.mean) if has_ours and cell else MISSING)
            if has_ours and cell:
                pairs.append((row["mean"], cell.mean))
        ours_mean, paper_mean = (
            (np.mean([p[0] for p in pairs]), np.mean([p[1] for p in pairs])) if pairs else (None, None)
        )
        texts.append(f"{ours_mean:.2f}" if pairs else MISSING)
        papers.append(f"{paper_mean:.2f}" if pairs else MISSING)
        deltas.append(delta_text(ours_mean - paper_mean) if pairs else MISSING)
        columns[f"{label} (ours)"], columns[f"{label} (paper)"], columns[f"{label} Δ"] = texts, papers, deltas
    return _with_display_index(pd.DataFrame(columns, index=[*tasks, MEAN_ROW]))


def paper_comparison_numbers(summary: pd.DataFrame, layout: Layout, paper: PaperTable) -> pd.DataFrame:
    tasks = paper_order(summary.task)
    parts = {}
    for label in _compared(layout, paper):
        ours = summary[summary.column == label].set_index("task")["mean"]
        cells = [paper.cell(label, t) for t in tasks]
        ours_values = [ours.get(t, np.nan) for t in tasks]
        parts[f"{label} ours"] = ours_values
        parts[f"{label} paper"] = [c.mean if c else np.nan for c in cells]
        parts[f"{label} paper std"] = [c.std if c and c.std is not None else np.nan for c in cells]
        parts[f"{label} delta"] = [
            o - c.mean if c else np.nan for o, c in zip(ours_values, cells, strict=True)
        ]
    table = pd.DataFrame(parts, index=pd.Index(tasks, name="task"))
    return table


def paper_notes(
    layout: Layout, paper: PaperTable, model: str, summary: pd.DataFrame | None = None
) -> list[str]:
    notes = [
        f"Paper: {paper.title}. Δ = ours − paper in accuracy points. Mean: over the tasks that have "
        "both numbers, the paper's side computed from its rows."
    ]
    marks = []  # only the marks this table uses
    if summary is not None and summary.left_out.map(bool).any():
        marks.append(f"{LEFT_OUT} stale or damaged runs left out")
    if summary is not None and (summary.sampled != "").any():
        marks.append(f"{SAMPLED} a sample of the test split")
    if summary is not None and (summary.carved != "").any():
        marks.append(f"{CARVED} a part of the dev set carved by the task config")
    if marks:
        notes.append(f"{', '.join(marks)}: the accuracy table's notes say which.")
    if model != paper.model:
        notes.append(
            f"The paper's numbers are {paper.model} on the full training sets; ours are {model} "
            "with this preset's data and training settings: compare trends, not values."
        )
    absent = [c.label for c in layout.columns if c.label not in paper.columns]
    if absent:
        notes.append(f"Not in the paper's table: {', '.join(absent)}.")
    return notes


def _compared(layout: Layout, paper: PaperTable) -> list[str]:
    return [c.label for c in layout.columns if c.label in paper.columns]


# --- Table 2 ---------------------------------------------------------------------------------


def arrow(delta: float, tolerance: float) -> str:
    """↑ / → / ↓ for a difference in points, decided on the 2-decimal value the table shows."""
    shown = round(float(delta), 2)
    return UP if shown > tolerance else DOWN if shown < -tolerance else SAME


def comparison_frame(summary: pd.DataFrame, layout: Layout, tolerance: float) -> pd.DataFrame:
    """One row per (comparison, task) with both means: delta = fusion − baseline and its arrow."""
    means = summary[summary.n > 0].pivot(index="task", columns="column", values="mean")
    rows = []
    for fusion, baseline in layout.comparisons:
        for task in paper_order(summary.task):
            if fusion in means and baseline in means and task in means.index:  # a task no column has
                f, b = means.at[task, fusion], means.at[task, baseline]
                if not (np.isnan(f) or np.isnan(b)):
                    rows.append((fusion, baseline, task, f - b, arrow(f - b, tolerance)))
    return pd.DataFrame(rows, columns=["fusion", "baseline", "task", "delta", "arrow"])


def table2(summary: pd.DataFrame, layout: Layout, tolerance: float, with_paper: bool) -> pd.DataFrame:
    """Rows = tasks + Improved, one column per comparison ('↑ +1.23'), and the paper's arrow beside
    it where the paper's Table 2 has that comparison."""
    compared = comparison_frame(summary, layout, tolerance)
    tasks = paper_order(summary.task)
    paper = paper_comparisons()
    columns = {}
    for fusion, baseline in layout.comparisons:
        found = compared[(compared.fusion == fusion) & (compared.baseline == baseline)].set_index("task")
        cells = [
            f"{ARROWS[found.at[t, 'arrow']]} {delta_text(found.at[t, 'delta'])}"
            if t in found.index
            else MISSING
            for t in tasks
        ]
        columns[f"{fusion} vs {baseline}"] = [*cells, f"{(found.arrow == UP).sum()}/{len(found)}"]
        pair = (fusion, baseline)
        if with_paper and pair in paper.comparisons:
            paper_cells = [paper.arrows.get((pair, t), MISSING) for t in tasks]
            improved = _paper_improved(paper, pair, list(found.index))
            columns[f"{fusion} vs {baseline} (paper)"] = [*paper_cells, improved]
    return _with_display_index(pd.DataFrame(columns, index=[*tasks, "Improved"]))


def _paper_improved(paper, pair: tuple[str, str], ours: list[str]) -> str:
    """The paper's Improved count (over its 16 tasks) and, where ours compares fewer tasks, the
    paper's count over those: the k/n to set beside ours."""
    counted = [t for t in ours if (pair, t) in paper.arrows]
    if len(counted) == len(PAPER_TASKS) or not counted:
        return paper.improved[pair]
    up = sum(paper.arrows[(pair, t)] == ARROWS[UP] for t in counted)
    return f"{paper.improved[pair]} ({up}/{len(counted)} of ours)"


def table2_notes(tolerance: float, with_paper: bool = True) -> list[str]:
    """`with_paper`: the table has a paper column (its Improved cell is explained)."""
    return [
        f"{ARROWS[UP]} / {ARROWS[DOWN]}: the Fusion column is more than {tolerance:.2f} accuracy points "
        f"above / below the baseline (mean over seeds); {ARROWS[SAME]}: within ±{tolerance:.2f} "
        "(report.same_tolerance). Improved k/n: k improved of the n tasks that have both columns"
        + (
            "; the paper's is over its 16 tasks, followed by its count over the tasks ours compares."
            if with_paper
            else "."
        ),
        "The paper states no tolerance; 0.3 reproduces 62 of the 64 arrows of its Table 2 from its Table 1.",
    ]


# --- shared ----------------------------------------------------------------------------------


def _with_display_index(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table.index = [t if t in (MEAN_ROW, COMMON_MEAN_ROW) else display_name(t) for t in table.index]
    table.index.name = "Task"
    return table
