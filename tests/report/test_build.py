"""afuse report end to end on synthetic runs: the files, byte-for-byte reruns, bad input, wandb."""

import hashlib
import json
import sys
import types
from pathlib import Path

import pytest

from afuse.errors import AfuseError
from afuse.experiment import load_experiment
from afuse.report.build import build_report
from afuse.run_identity import fusion_variant_name
from tests.synthetic import write_activations, write_multitask_run, write_run

# cpu_small fuses the adapters of its four tasks: a subset of the 16, so the variant carries a hash.
FUSION_VARIANT = fusion_variant_name("dynamic", "pfeiffer_rf16", ["sst2", "mrpc", "rte", "cb"])


def digest(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def cpu_small_runs(compose_preset):
    """cpu_small with every run finished; 2 layers of activations (MiniLM has 6: fewer figures, quicker)."""
    cfg = compose_preset("cpu_small", "report", "report.heatmap_formats=[png]")
    experiment = load_experiment(cfg)
    for index, job in enumerate(experiment.jobs()):
        write_run(job.run_dir, 0.5 + index / 100)
        if job.stage == 2:
            sources = list(experiment.groups[job.group].sources)
            row = [0.1, 0.2, 0.3, 0.4]
            write_activations(job.run_dir, sources, [row, row[::-1]])
    return cfg


def test_report_files(cpu_small_runs, tmp_path):
    out = build_report(cpu_small_runs)
    assert out == tmp_path / "results" / "cpu_small"
    files = set(digest(out))
    for stem in ("accuracy", "paper_comparison", "table2"):
        assert {f"{stem}.md", f"{stem}.csv", f"{stem}.tex"} <= files
    heatmaps = f"heatmaps/{FUSION_VARIANT}"
    assert {f"{heatmaps}/layer{n:02d}.png" for n in (1, 2)} | {f"{heatmaps}/grid.png"} <= files
    assert {"report.md", "runs.csv", "report_files.txt", f"{heatmaps}/activations.csv"} <= files
    page = (out / "report.md").read_text()
    assert "10 of 10 jobs finished" in page and f"![{heatmaps}/grid.png]({heatmaps}/grid.png)" in page
    assert (out / "report_files.txt").read_text().splitlines() == sorted(files - {"report_files.txt"})
    tex = (out / "accuracy.tex").read_text()
    assert "\\begin{tabular}{l" + "r@{\\ }l" * 3 + "}" in tex and "cpu\\_small" in tex


def test_rerun_is_byte_for_byte_identical(cpu_small_runs):
    out = build_report(cpu_small_runs)
    first = digest(out)
    build_report(cpu_small_runs)
    assert digest(out) == first


def test_files_of_an_older_report_are_removed(cpu_small_runs, tmp_path):
    cpu_small_runs.report.heatmaps = False
    cpu_small_runs.report.heatmaps = True
    out = build_report(cpu_small_runs)
    cpu_small_runs.report.heatmaps = False
    (out / "README.md").write_text("written by hand, not by the report")
    with open(out / "report_files.txt", "a") as manifest:
        manifest.write("heatmaps/old_variant/grid.png\n")
    (out / "heatmaps/old_variant").mkdir()
    (out / "heatmaps/old_variant/grid.png").write_bytes(b"old")
    build_report(cpu_small_runs)
    assert not (out / "heatmaps/old_variant/grid.png").exists()
    assert not (out / f"heatmaps/{FUSION_VARIANT}/grid.png").exists()  # heatmaps=false this time
    assert (out / "README.md").exists()  # not the report's: kept


def test_only_files_inside_the_report_folder_are_removed(cpu_small_runs, tmp_path):
    # report_files.txt is read back to remove a previous report's files: a damaged or edited one
    # must never make the report delete outside its folder (a run's metrics.json here).
    out = build_report(cpu_small_runs)
    [job] = [j for j in load_experiment(cpu_small_runs).jobs() if j.stage == 1][:1]
    outside = job.run_dir / "metrics.json"
    with open(out / "report_files.txt", "a") as manifest:
        manifest.write(f"{Path('..', '..', outside.relative_to(tmp_path))}\n{outside}\nheatmaps\n")
    build_report(cpu_small_runs)  # nor fail on a folder's name
    assert outside.is_file() and (out / "heatmaps").is_dir()


def test_report_of_nothing_writes_nothing(compose_preset, caplog):
    # Issue 14, item 16: no finished run, no report that claims tables.
    cfg = compose_preset("cpu_small")
    with caplog.at_level("INFO", logger="afuse"):
        assert build_report(cfg) is None
    assert "nothing to report yet (0 of 10 jobs finished)" in caplog.text
    assert not (Path(cfg.paths.results) / "cpu_small").exists()


def test_report_of_one_run_shows_missing_cells(compose_preset):
    cfg = compose_preset("cpu_small")
    write_run(load_experiment(cfg).groups["st_a"].jobs[0].run_dir, 0.61)
    out = build_report(cfg)
    table = (out / "accuracy.md").read_text()
    assert "| RTE | – | – | – |" in table and "0.00" not in table
    assert not (out / "heatmaps").exists()


def test_multitask_column_reads_per_task_results(compose_preset):
    cfg = compose_preset("paper_table1", "report", "report.heatmaps=false", "experiment.seeds=[1]")
    experiment = load_experiment(cfg)
    accuracies = {task: 0.5 for task in experiment.groups["mt_a"].tasks} | {"rte": 0.7761, "cb": 0.8909}
    write_multitask_run(experiment.groups["mt_a"].jobs[0].run_dir, accuracies)
    out = build_report(cfg)
    accuracy = (out / "accuracy.md").read_text()
    assert "| RTE | – | – | – | 77.61 (1) | – | – | – |" in accuracy
    comparison = (out / "paper_comparison.csv").read_text().splitlines()
    rte = next(line for line in comparison if line.startswith("rte,"))
    assert ",77.6100,77.6100,3.2100,0.0000," in rte  # MT-A: ours, paper, paper std, delta


@pytest.mark.parametrize(
    "content, damage",
    [
        ('{"test": {"accuracy": 0.65', "metrics.json: not readable JSON"),  # cut short
        (json.dumps({"test": {"accuracy": 65.3}}), "test.accuracy 65.3 is not a fraction in [0, 1]"),
        (json.dumps({"validation": {"accuracy": 0.6}}), "no test accuracy (test.accuracy)"),
    ],
)
def test_a_damaged_metrics_json_is_left_out_of_the_report_not_the_end_of_it(
    cpu_small_runs, caplog, content, damage
):
    """One damaged file among a preset's runs stopped the whole report: no tables for the others.
    The run is left out (never a number from a damaged file), its cell marked §, the note naming
    the run, the damage and the force=true line; the console says so."""
    cpu_small_runs.report.heatmaps = False
    experiment = load_experiment(cpu_small_runs)
    sst2 = experiment.groups["st_a"].jobs[0]  # ST-A SST-2 seed 1, the only seed of its cell
    (sst2.run_dir / "metrics.json").write_text(content)
    out = build_report(cpu_small_runs)
    table = (out / "accuracy.md").read_text()
    assert "| SST-2 | – | –§ | – |" in table and "65.30" not in table  # the cell holds no number
    note = next(line for line in table.splitlines() if "§ SST-2 · ST-A" in line)
    assert f"{sst2.run_dir}" in note and damage in note, note
    assert (
        "afuse train-adapter experiment=cpu_small" in note
        and "task=sst2 seed=1" in note
        and "force=true" in note
    )
    assert "| MRPC | 54.00 (1) | 51.00 (1) | 57.00 (1) |" in table  # the other runs are reported
    assert "(1 of them damaged, left out of the numbers: §)" in (out / "report.md").read_text()
    sst2_row = next(line for line in (out / "runs.csv").read_text().splitlines() if str(sst2.run_dir) in line)
    assert f',{sst2.run_dir},,"damaged, not read:' in sst2_row  # no accuracy, and why
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(str(sst2.run_dir) in w and damage in w for w in warned), warned


def test_a_fusion_runs_damaged_or_missing_activations_say_what_to_rerun(cpu_small_runs, caplog):
    experiment = load_experiment(cpu_small_runs)
    runs = [job.run_dir for job in experiment.jobs() if job.stage == 2]
    (runs[0] / "activations.json").write_text('{"sources": ["sst2"')
    with pytest.raises(AfuseError, match=r"activations.json: .*rerun that Fusion run with force=true"):
        build_report(cpu_small_runs)
    for run in runs:
        (run / "activations.json").unlink()
    out = build_report(cpu_small_runs)
    assert not (out / "heatmaps").exists()
    assert f"{runs[0]}: a finished Fusion run without activations.json" in caplog.text
    assert "force=true" in caplog.text


def test_wandb_logger_logs_tables_and_figures(cpu_small_runs, monkeypatch):
    logged, finished = [], []
    run = types.SimpleNamespace(log=logged.append, finish=lambda: finished.append(True))
    fake = types.SimpleNamespace(
        init=lambda **kwargs: run,
        Table=lambda dataframe: ("table", len(dataframe)),
        Image=lambda path: ("image", path),
    )
    monkeypatch.setitem(sys.modules, "wandb", fake)
    cpu_small_runs.logger = {
        "name": "wandb",
        "project": "afuse",
        "entity": None,
        "mode": "offline",
        "tags": [],
    }
    build_report(cpu_small_runs)
    keys = [key for entry in logged for key in entry]
    assert keys == [
        "report/accuracy",
        "report/paper_comparison",
        "report/table2",
        f"report/heatmaps/{FUSION_VARIANT}",
    ]
    assert finished == [True]


def test_wandb_missing_is_a_clear_error(cpu_small_runs, monkeypatch):
    cpu_small_runs.report.heatmaps = False
    monkeypatch.setitem(sys.modules, "wandb", None)
    cpu_small_runs.logger = {"name": "wandb"}
    with pytest.raises(AfuseError, match="pip install 'afuse\\[wandb\\]'"):
        build_report(cpu_small_runs)


# --- results that no longer describe what the table says -------------------------------------


def test_a_stale_run_is_left_out_of_the_cells_and_footnoted(compose_preset, tmp_path):
    """A Fusion over a source adapter retrained since (and a run made with other settings) was
    averaged into the tables as if it were the preset's result."""
    from tests.synthetic import finished_fusion, write_adapter

    cfg = compose_preset("cpu_small", "report", "report.heatmap_formats=[png]")
    experiment = load_experiment(cfg)
    fused = finished_fusion(experiment, tmp_path, "cb")
    write_activations(fused.run_dir, list(experiment.groups["fusion_st_a"].sources), [[0.25] * 4] * 2)
    finished_fusion(experiment, tmp_path, "rte", record_digests=False)  # older run: not checked
    out = build_report(cfg)
    assert "| CB | – | 60.00 (1) | 70.00 (1) |" in (out / "accuracy.md").read_text()

    source = next(job for job in experiment.groups["st_a"].jobs if job.task == "cb")
    write_adapter(source.run_dir, 0.2)  # afuse train-adapter task=cb force=true
    build_report(cfg)
    table = (out / "accuracy.md").read_text()
    assert "| CB | – | 60.00 (1) | –§ |" in table  # left out of the cell, and marked
    assert "jobs finished (1 of them stale, left out of the numbers: §)" in (out / "report.md").read_text()
    assert "| RTE | – | 60.00 (1) | 70.00 (1) |" in table
    assert "§ CB · F. w/ ST-A: seed 1 left out: source adapter(s) cb were retrained since" in table
    assert "afuse status" in table and "\\S" in (out / "accuracy.tex").read_text()
    assert (
        "–§" in (out / "paper_comparison.md").read_text()
        and "runs left out" in (out / "paper_comparison.md").read_text()
    )
    runs = (out / "runs.csv").read_text()
    assert ",70.0000,source adapter(s) cb" in next(
        line for line in runs.splitlines() if str(fused.run_dir) in line
    )
    assert not list((out / "heatmaps").rglob("*.csv"))  # its activations are not in the heatmaps either


def test_a_sampled_test_split_is_footnoted(compose_preset, tmp_path):
    """`data.max_test_examples` cut the test split, but the table said "official dev set"."""
    cfg = compose_preset("cpu_small", "report", "report.heatmaps=false")
    experiment = load_experiment(cfg)
    st_a = {job.task: job for job in experiment.groups["st_a"].jobs}
    test = {"accuracy": 0.75, "n": 500, "majority_rate": 0.5}
    write_run(st_a["sst2"].run_dir, 0.75, test={**test, "split_rows": 872})
    write_run(
        st_a["mrpc"].run_dir, 0.7, test={**test, "accuracy": 0.7, "n": 408, "split_rows": 408}
    )  # all of it
    table = (build_report(cfg) / "accuracy.md").read_text()
    assert "| SST-2 | – | 75.00 (1)⁎ |" in table and "| MRPC | – | 70.00 (1) |" in table
    assert "⁎ SST-2 · ST-A: tested on a seeded sample of 500 of the 872 examples of its test split" in table
    assert "official dev set" in table and "MRPC ·" not in table


def test_the_committed_records_test_samples_are_footnoted_from_their_configs(compose_preset):
    # Their metrics.json predate split_rows: a config limit the run reached says it may be a
    # sample (SST-2's dev set has 872 rows, cpu_minilm scored 500); RTE's 277 were all scored.
    records = Path(__file__).resolve().parents[2] / "results" / "cpu_minilm" / "runs"
    cfg = compose_preset("cpu_minilm", "report", "report.heatmaps=false", f"paths.runs={records}")
    table = (build_report(cfg) / "accuracy.md").read_text()
    assert "| SST-2 | – | – | 75.80 (1)⁎ | – |" in table
    assert "| RTE | 51.38 ± 1.16 (3) | 52.47 ± 0.21 (3) | 50.42 ± 1.27 (3) | 53.07 ± 0.72 (3) |" in table
    [note] = [line for line in table.splitlines() if line.startswith("- ⁎")]  # one note for one kind
    assert "SST-2 · ST-A" in note and "RTE" not in note
    assert note.endswith("tested on 500 examples, at most data.max_test_examples=500 of its test split "
                         "(a seeded sample if the split is larger; a run of an older afuse did not record "
                         "the split's size).")  # fmt: skip
    assert "§" not in table  # every record is the preset's own result
    paper = (build_report(cfg) / "paper_comparison.md").read_text()
    assert "⁎ a sample of the test split" in paper and "§" not in paper  # only the marks it uses


def test_cells_tested_on_a_carved_part_of_the_dev_set_are_marked(compose_preset):
    # BoolQ, CosmosQA and HellaSwag ship only their dev set here: 70% of it is carved into train
    # and the test split is the rest. Their cells said so only in the general note.
    records = Path(__file__).resolve().parents[2] / "results" / "cpu_minilm" / "runs"
    cfg = compose_preset("cpu_minilm", "report", "report.heatmaps=false", f"paths.runs={records}")
    out = build_report(cfg)
    table = (out / "accuracy.md").read_text()
    for row in ("| BoolQ | – | – | 60.60 (1)⁎° | – |", "| HSwag | – | – | 28.00 (1)⁎° | – |",
                "| CosQA | – | – | 30.40 (1)⁎° | – |", "| SST-2 | – | – | 75.80 (1)⁎ | – |"):  # fmt: skip
        assert row in table, table
    [note] = [line for line in table.splitlines() if line.startswith("- °")]
    assert "HSwag · ST-A, CosQA · ST-A, BoolQ · ST-A:" in note and "SST-2" not in note
    assert "the rest of its official dev set after 70% of it was carved into train" in note, note
    assert "$^{\\circ}$" in (out / "accuracy.tex").read_text()
    assert "° a part of the dev set" in (out / "paper_comparison.md").read_text()


def test_the_report_takes_the_settings_the_runs_were_made_with(tmp_path):
    """`afuse run experiment=cpu_small data.max_test_examples=100` ends with its report: the report
    must compare the runs with those settings (it refused data.* keys the preset does not set, and
    `afuse run` did not pass data.* on to it)."""
    from afuse.cli import main
    from tests.synthetic import saved_config

    paths = [
        f"paths.runs={tmp_path}/runs",
        f"paths.results={tmp_path}/results",
        f"paths.logs={tmp_path}/logs",
    ]
    cfg = load_experiment_of("cpu_small", tmp_path)
    rte = next(job for job in cfg.groups["st_a"].jobs if job.task == "rte")
    saved_config(write_run(rte.run_dir, 0.6), tmp_path, "data.max_test_examples=100")
    report = ["report", "experiment=cpu_small", *paths, "report.heatmaps=false"]

    main([*report, "data.max_test_examples=100"])
    table = (tmp_path / "results" / "cpu_small" / "accuracy.md").read_text()
    page = (tmp_path / "results" / "cpu_small" / "report.md").read_text()  # the settings it compared with
    selector = (
        f"experiment=cpu_small paths.runs={tmp_path}/runs paths.results={tmp_path}/results "
        "data.max_test_examples=100"
    )  # paths.results too: the same command line writes the report where this one is
    assert f"Written by `afuse report {selector}`" in page and f"`afuse status {selector}` lists" in page
    assert "| RTE | – | 60.00 (1)⁎ | – |" in table and "§" not in table  # its 100 of RTE's dev set
    main(report)  # the preset's own settings: that run is not the preset's result
    table = (tmp_path / "results" / "cpu_small" / "accuracy.md").read_text()
    assert "| RTE | – | –§ | – |" in table
    assert (
        "§ RTE · ST-A: seed 1 left out: made with other settings (run -> preset: data.max_test_examples: 100 -> None)"
        in table
    )


def load_experiment_of(name: str, tmp_path):
    from tests.from_conf import compose_config

    return load_experiment(compose_config("report", [f"experiment={name}", f"paths.runs={tmp_path}/runs"]))


def test_the_latex_tables_compile_into_a_paper(cpu_small_runs, compile_latex):
    """A researcher \\input's the .tex files into an article with the packages they name."""
    out = build_report(cpu_small_runs)
    compile_latex(*sorted(out.glob("*.tex")))
    # LaTeX numbers the table itself: a caption of "Table 2: ..." printed "Table 2: Table 2: ...".
    assert "\\caption{Table" not in (out / "table2.tex").read_text()


def test_the_csvs_read_as_a_researcher_reads_them(cpu_small_runs):
    """pd.read_csv: numbers are numeric, a missing seed is empty (never 0), the cells re-derive
    from runs.csv, and the columns are those docs/contracts.md documents."""
    import pandas as pd

    unfinished = next(
        j for j in load_experiment(cpu_small_runs).jobs() if j.group == "st_a" and j.task == "rte"
    )
    (unfinished.run_dir / "metrics.json").unlink()
    out = build_report(cpu_small_runs)
    accuracy = pd.read_csv(out / "accuracy.csv", index_col="task")
    runs = pd.read_csv(out / "runs.csv")
    assert all(pd.api.types.is_numeric_dtype(accuracy[c]) for c in accuracy.columns)
    assert runs.accuracy.isna().sum() == 1 and (runs.accuracy > 0).sum() == len(runs) - 1
    assert accuracy.loc["rte", "ST-A n"] == 0 and pd.isna(accuracy.loc["rte", "ST-A mean"])
    cells = runs[runs.left_out.isna()].groupby(["column", "task"]).accuracy.agg(["mean", "std", "count"])
    for (column, task), cell in cells.iterrows():
        assert accuracy.loc[task, f"{column} n"] == cell["count"]
        assert accuracy.loc[task, f"{column} mean"] == pytest.approx(cell["mean"], abs=1e-3, nan_ok=True)

    contracts = (Path(__file__).resolve().parents[2] / "docs" / "contracts.md").read_text()
    documented = contracts.split("- `runs.csv`:", 1)[1].split("`")[1]
    assert list(runs.columns) == " ".join(documented.split()).split(", ")
    assert list(pd.read_csv(out / "table2.csv").columns) == ["fusion", "baseline", "task", "delta", "arrow"]
    assert "`fusion, baseline, task, delta, arrow`" in contracts
    for label in ("Head", "ST-A", "F. w/ ST-A"):
        assert [c for c in accuracy.columns if c.startswith(f"{label} ")] == [
            f"{label} {stat}" for stat in ("mean", "std", "n", "expected")
        ]


def test_the_heatmaps_know_how_many_seeds_the_preset_asks_for(compose_preset, monkeypatch):
    from matplotlib.figure import Figure

    from afuse.report import build

    cfg = compose_preset("cpu_small", "report", "report.heatmap_formats=[png]", "experiment.seeds=[1,2,3]")
    experiment = load_experiment(cfg)
    for job in experiment.groups["fusion_st_a"].jobs:
        if job.seed == 1 or job.task != "cb":  # CB: seed 1 of 3
            write_run(job.run_dir, 0.5)
            write_activations(job.run_dir, list(experiment.groups["fusion_st_a"].sources), [[0.25] * 4] * 2)
    drawn = []
    monkeypatch.setattr(build, "grid_figure", lambda cube, model: drawn.append(cube) or Figure())
    build_report(cfg)
    [cube] = drawn
    assert cube.expected == {"mrpc": 3, "rte": 3, "cb": 3} and cube.seeds["cb"] == 1


def test_table2_without_a_paper_column_does_not_explain_one(cpu_small_runs):
    cpu_small_runs.experiment.report.paper_table = None
    table2 = (build_report(cpu_small_runs) / "table2.md").read_text()
    assert "(paper)" not in table2 and "the paper's is over its 16 tasks" not in table2
