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
    assert "\\begin{tabular}{lrrr}" in tex and "cpu\\_small" in tex


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


def test_bad_metrics_name_the_file(cpu_small_runs):
    cpu_small_runs.report.heatmaps = False
    experiment = load_experiment(cpu_small_runs)
    metrics = experiment.groups["st_a"].jobs[0].run_dir / "metrics.json"
    metrics.write_text(json.dumps({"test": {"accuracy": 65.3}}))
    with pytest.raises(AfuseError, match=r"sst2/seed1/metrics.json: test accuracy 65.3 is not a fraction"):
        build_report(cpu_small_runs)
    metrics.write_text(json.dumps({"validation": {"accuracy": 0.6}}))
    with pytest.raises(AfuseError, match="no test.accuracy"):
        build_report(cpu_small_runs)


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
