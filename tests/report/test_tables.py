"""Table cells against hand-computed values: means, sample stds, n, partial and missing cells,
deltas to the paper, Table 2 arrows (the preset and its numbers: conftest.HAND_PRESET)."""

import math

import numpy as np
import pandas as pd
import pytest

from afuse.config import PAPER_TASKS
from afuse.experiment import load_experiment
from afuse.report import tables
from afuse.report.collect import expected_runs, read_accuracies
from afuse.report.layout import report_layout
from afuse.report.paper import paper_comparisons, paper_table
from tests.synthetic import write_run


@pytest.fixture
def summary_and_layout(hand_config):
    layout = report_layout(load_experiment(hand_config))
    return tables.summarize(read_accuracies(expected_runs(layout)), layout), layout


def test_summary_statistics(summary_and_layout):
    summary, _ = summary_and_layout
    cell = summary.set_index(["column", "task"])
    st_a_rte = cell.loc[("ST-A", "rte")]
    assert st_a_rte["mean"] == pytest.approx(72.0) and st_a_rte["std"] == pytest.approx(2.0)  # ddof=1
    assert (st_a_rte.n, st_a_rte.expected) == (3, 3)
    fusion_rte = cell.loc[("F. w/ ST-A", "rte")]
    assert fusion_rte["mean"] == pytest.approx(76.0) and fusion_rte["std"] == pytest.approx(math.sqrt(2))
    assert (fusion_rte.n, fusion_rte.missing_seeds) == (2, (3,))
    st_a_cb = cell.loc[("ST-A", "cb")]
    assert st_a_cb.n == 1 and np.isnan(st_a_cb["std"]) and st_a_cb.missing_seeds == (2, 3)
    assert cell.loc[("Head", "rte")].n == 0 and np.isnan(cell.loc[("Head", "rte")]["mean"])


def test_accuracy_table_cells(summary_and_layout):
    table = tables.accuracy_table(*summary_and_layout)
    assert list(table.columns) == ["Head", "ST-A", "F. w/ ST-A"]
    assert list(table.index) == ["RTE", "CB", "Mean"]  # paper row labels, paper order
    assert table.loc["RTE"].tolist() == ["–", "72.00 ± 2.00 (3)", "76.00 ± 1.41 (2/3)†"]
    assert table.loc["CB"].tolist() == ["–", "80.00 (1/3)†", "80.00 ± 1.00 (3)"]
    # missing is never 0; a mean over a cell with a missing seed says so as the cell does
    assert table.loc["Mean"].tolist() == ["–", "76.00†", "78.00†"]


def test_a_mean_over_a_cell_with_a_missing_seed_is_marked(summary_and_layout):
    """A seed that failed or never finished was marked in its cell but averaged into the Mean
    row unmarked: a paper quoting the Mean did not see it."""
    summary, layout = summary_and_layout
    notes = tables.footnotes(summary)
    assert any(
        note.endswith("† on a mean: it averages a cell with fewer seeds than asked for.") for note in notes
    )
    # The same runs, had the preset asked for only the seeds that finished:
    complete = summary.assign(expected=summary.n.where(summary.n > 0, summary.expected))
    assert "†" not in "".join(tables.accuracy_table(complete, layout).loc["Mean"])
    assert not any("on a mean" in note for note in tables.footnotes(complete))


def test_partial_seeds_are_footnoted(summary_and_layout):
    notes = tables.footnotes(summary_and_layout[0])
    assert "† RTE · F. w/ ST-A: 2/3 seeds (missing seed 3)." in notes
    assert "† CB · ST-A: 1/3 seeds (missing seed 2, 3)." in notes
    assert any("ddof=1" in note for note in notes)


def test_mean_over_fewer_tasks_is_marked(hand_config):
    experiment = load_experiment(hand_config)
    (
        experiment.groups["st_a"].jobs[3].run_dir / "metrics.json"
    ).unlink()  # CB seed 1: CB has no ST-A run left
    layout = report_layout(experiment)
    table = tables.accuracy_table(tables.summarize(read_accuracies(expected_runs(layout)), layout), layout)
    assert table.loc["CB", "ST-A"] == "–"
    assert table.loc["Mean", "ST-A"] == "72.00 (1/2)‡"


def test_accuracy_numbers_for_csv(summary_and_layout):
    numbers = tables.accuracy_numbers(*summary_and_layout)
    assert numbers.loc["rte", "F. w/ ST-A mean"] == pytest.approx(76.0)
    assert numbers.loc["rte", "F. w/ ST-A n"] == 2 and numbers.loc["rte", "F. w/ ST-A expected"] == 3
    assert np.isnan(numbers.loc["rte", "Head mean"])
    assert numbers.loc["mean", "ST-A mean"] == pytest.approx(76.0)


def test_paper_comparison_deltas(summary_and_layout):
    summary, layout = summary_and_layout
    table = tables.paper_comparison(summary, layout, paper_table("table1"))
    # Paper Table 1: ST-A RTE 71.04 ± 1.62, CB 86.07 ± 3.87; F. w/ ST-A RTE 76.82 ± 1.68, CB 92.14 ± 0.97
    assert table.loc["RTE", "ST-A (paper)"] == "71.04 ± 1.62"
    assert table.loc["RTE", "ST-A Δ"] == "+0.96"  # 72.00 - 71.04
    assert table.loc["CB", "ST-A Δ"] == "-6.07"  # 80.00 - 86.07
    assert table.loc["RTE", "F. w/ ST-A Δ"] == "-0.82"  # 76.00 - 76.82
    assert table.loc["Mean", "F. w/ ST-A (ours)"] == "78.00"
    assert table.loc["Mean", "F. w/ ST-A (paper)"] == "84.48"  # (76.82 + 92.14) / 2
    assert table.loc["Mean", "F. w/ ST-A Δ"] == "-6.48"
    assert table.loc["RTE", "Head (ours)"] == "–" and table.loc["RTE", "Head Δ"] == "–"
    assert table.loc["RTE", "Head (paper)"] == "61.37 ± 1.17"


def test_paper_notes_warn_about_other_models(summary_and_layout):
    _, layout = summary_and_layout
    notes = tables.paper_notes(layout, paper_table("table1"), "minilm")
    assert any("bert-base-uncased on the full training sets; ours are minilm" in note for note in notes)


def test_table2_arrows_and_improved_row(summary_and_layout):
    summary, layout = summary_and_layout
    table = tables.table2(summary, layout, tolerance=0.3, with_paper=True)
    assert table.loc["RTE", "F. w/ ST-A vs ST-A"] == "↑ +4.00"  # 76.00 - 72.00
    assert table.loc["CB", "F. w/ ST-A vs ST-A"] == "→ +0.00"  # 80.00 - 80.00
    assert table.loc["Improved", "F. w/ ST-A vs ST-A"] == "1/2"
    assert table.loc["RTE", "F. w/ ST-A vs ST-A (paper)"] == "↑"
    # The paper's count is over its 16 tasks; beside it, its count over the 2 tasks ours compares.
    assert table.loc["Improved", "F. w/ ST-A vs ST-A (paper)"] == "10/16 (2/2 of ours)"
    wide = tables.table2(summary, layout, tolerance=5.0, with_paper=False)
    assert wide.loc["RTE", "F. w/ ST-A vs ST-A"] == "→ +4.00"
    assert list(wide.columns) == ["F. w/ ST-A vs ST-A"]


@pytest.mark.parametrize(
    ("ours", "expected"),
    [
        (["mnli", "sst2", "winogrande"], "10/16 (1/3 of ours)"),  # the paper's →, ↑, ↓ (its Table 2)
        (list(PAPER_TASKS), "10/16"),  # ours compares every task: the paper's count alone
        ([], "10/16"),
    ],
)
def test_the_papers_improved_count_over_the_tasks_ours_compares(ours, expected):
    assert tables._paper_improved(paper_comparisons(), ("F. w/ ST-A", "ST-A"), ours) == expected


@pytest.mark.parametrize(
    ("delta", "expected"),
    [(0.30, "same"), (0.304, "same"), (0.31, "up"), (-0.30, "same"), (-0.31, "down"), (0.0, "same")],
)
def test_arrow_decides_on_the_shown_two_decimals(delta, expected):
    assert tables.arrow(delta, 0.3) == expected


def test_cell_and_delta_text():
    assert tables.cell_text(84.321, 0.4149, 3, 3) == "84.32 ± 0.41 (3)"
    assert tables.cell_text(84.321, np.nan, 1, 1) == "84.32 (1)"
    assert tables.cell_text(np.nan, np.nan, 0, 3) == "–"
    assert tables.delta_text(-0.004) == "+0.00"
    assert tables.delta_text(-1.006) == "-1.01"


def test_columns_over_different_tasks_get_a_common_tasks_mean(hand_config):
    experiment = load_experiment(hand_config)
    (experiment.groups["st_a"].jobs[3].run_dir / "metrics.json").unlink()  # ST-A: RTE only
    layout = report_layout(experiment)
    summary = tables.summarize(read_accuracies(expected_runs(layout)), layout)
    assert tables.common_tasks(summary) == ["rte"]
    table = tables.accuracy_table(summary, layout)
    assert list(table.index) == ["RTE", "CB", "Mean", "Mean, common tasks"]
    # Mean: ST-A over RTE, Fusion over RTE and CB; the common row: both over RTE alone.
    # (Fusion's RTE cell has 2 of 3 seeds: both its means say so.)
    assert table.loc["Mean"].tolist() == ["–", "72.00 (1/2)‡", "78.00†"]
    assert table.loc["Mean, common tasks"].tolist() == ["–", "72.00", "76.00†"]
    numbers = tables.accuracy_numbers(summary, layout)
    assert numbers.loc["mean_common_tasks", "F. w/ ST-A mean"] == pytest.approx(76.0)
    # Head has no result at all: the row compares the other two columns, and says so.
    note = next(n for n in tables.footnotes(summary) if n.startswith("Mean, common tasks:"))
    assert note.startswith("Mean, common tasks: over the tasks every column with a result has (RTE)"), note
    assert "compares ST-A and F. w/ ST-A; Head has no result" in note, note


def test_common_tasks_note_says_every_column_when_every_column_has_results(hand_config):
    experiment = load_experiment(hand_config)
    (experiment.groups["st_a"].jobs[3].run_dir / "metrics.json").unlink()  # ST-A: RTE only
    write_run(experiment.groups["head"].jobs[0].run_dir, 0.6)  # Head: RTE
    layout = report_layout(experiment)
    summary = tables.summarize(read_accuracies(expected_runs(layout)), layout)
    note = next(n for n in tables.footnotes(summary) if n.startswith("Mean, common tasks:"))
    assert note == "Mean, common tasks: over the tasks every column has (RTE); compare columns on this row."


def test_columns_over_the_same_tasks_get_no_second_mean(summary_and_layout):
    summary, layout = summary_and_layout
    assert tables.common_tasks(summary) == []
    assert "Mean, common tasks" not in tables.accuracy_table(summary, layout).index


def test_a_stale_seed_is_left_out_of_its_cell_and_said_so(hand_config):
    # ST-A RTE seeds 1-3 ran 70, 72, 74; seed 2 is stale: the cell is the mean of 70 and 74.
    experiment = load_experiment(hand_config)
    layout = report_layout(experiment)
    seed2 = str(next(j.run_dir for j in experiment.groups["st_a"].jobs if (j.task, j.seed) == ("rte", 2)))
    why = "made with other settings (run -> preset: trainer.max_epochs: 1 -> 3)"
    accuracies = read_accuracies(expected_runs(layout), {seed2: why})
    summary = tables.summarize(accuracies, layout)
    assert tables.accuracy_table(summary, layout).loc["RTE", "ST-A"] == f"72.00 ± {math.sqrt(8):.2f} (2/3)†§"
    notes = tables.footnotes(summary)
    assert "† RTE · ST-A: 2/3 seeds (seed 2 left out §)." in notes
    assert f"§ RTE · ST-A: seed 2 left out: {why}." in notes
    assert accuracies.set_index("run_dir").loc[seed2, "accuracy"] == pytest.approx(72.0)  # kept in runs.csv
    # Both ways back into the numbers: retrain it, or (made so on purpose) give the report the setting.
    key = next(note for note in notes if note.startswith("§ = "))
    assert "force=true" in key and "the report is given the data.* / trainer.* overrides" in key, key


def test_a_sample_size_one_seed_recorded_speaks_for_older_seeds_of_the_same_size(hand_config):
    # ST-A RTE: seed 1 recorded 100 of 277 rows; seeds 2 and 3 (an older afuse) only that they
    # scored 100 with data.max_test_examples=100. All seeds score the same sample: one statement.
    layout = report_layout(load_experiment(hand_config))
    accuracies = read_accuracies(expected_runs(layout))
    rte = (accuracies.column == "ST-A") & (accuracies.task == "rte")
    accuracies.loc[rte, "test_limit"] = 100
    accuracies.loc[rte & (accuracies.seed == 1), "test_rows"] = 277
    cell = tables.summarize(accuracies, layout).set_index(["column", "task"]).loc[("ST-A", "rte")]
    assert (
        cell.sampled
        == "tested on a seeded sample of 100 of the 277 examples of its test split (data.max_test_examples)"
    )
    accuracies.loc[rte, "test_rows"] = pd.NA  # none recorded it: the older statement
    cell = tables.summarize(accuracies, layout).set_index(["column", "task"]).loc[("ST-A", "rte")]
    assert cell.sampled.startswith("tested on 100 examples, at most data.max_test_examples=100")


def test_the_best_mean_of_each_task_row_is_marked_for_bold(summary_and_layout):
    """A paper sets each row's best in bold; the researcher did that by hand in every .tex."""
    best = tables.best_cells(*summary_and_layout)
    assert best.loc["RTE"].tolist() == [False, False, True]  # 72.00 vs 76.00; Head has no run
    assert best.loc["CB"].tolist() == [False, True, True]  # 80.00 and 80.00: a tie, both
    assert not best.loc["Mean"].any()  # means over other tasks are not compared


def test_table2_notes_explain_a_paper_column_only_when_there_is_one():
    # A preset without paper_table got a note on "the paper's" Improved count it did not show.
    assert "the paper's is over its 16 tasks" in tables.table2_notes(0.3, with_paper=True)[0]
    assert "the paper's" not in tables.table2_notes(0.3, with_paper=False)[0]
