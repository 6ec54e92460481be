"""The commands as a user runs them (child processes): errors, dry run, end-of-multirun report."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from afuse.experiment import preset_names
from tests.synthetic import write_run

pytestmark = pytest.mark.slow  # child processes: a few seconds each

REPO = Path(__file__).resolve().parents[2]


def afuse(*args, tmp_path, env=None):
    paths = [
        f"paths.runs={tmp_path}/runs",
        f"paths.results={tmp_path}/results",
        f"paths.logs={tmp_path}/logs",
    ]
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "afuse.cli", *args, *paths],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_without_a_preset_or_runs_lists_the_presets(tmp_path):
    (tmp_path / "runs").mkdir()  # an empty runs tree (a paths.runs that is not there: exit 2)
    result = afuse("report", tmp_path=tmp_path)
    assert result.returncode == 3
    assert "no finished runs under" in result.stderr
    assert f"pass experiment=<name>, one of: {' '.join(preset_names())}" in result.stderr


def test_unknown_preset_lists_the_options(tmp_path):
    # Issue 14, item 13: one line with the valid presets, exit 2, without Hydra's config search path.
    result = afuse("status", "experiment=paper_table2", tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"afuse status: error: unknown experiment 'paper_table2'; valid: {' '.join(preset_names())}; "
        "did you mean experiment=paper_table4?"
    ]


def test_run_dry_run_passes_launcher_and_overrides_on(tmp_path):
    result = afuse(
        "run",
        "experiment=cpu_small",
        "dry_run=true",
        "run.report=true",
        "hydra/launcher=local_parallel",
        "hydra.launcher.n_jobs=3",
        "trainer.num_threads=1",
        "experiment.seeds=[1,2]",
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[1:]] == [
        "[stage 1] st_a (8 jobs)",
        "[stage 1] head (6 jobs)",
        "[stage 2] fusion_st_a (6 jobs)",
        "[report] report",
    ]
    assert (
        "task=sst2,mrpc,rte,cb seed=1,2 trainer.num_threads=1 'experiment.seeds=[1,2]' paths.runs="
        in lines[1]
    )
    assert lines[4].startswith(
        "[report] report: afuse report experiment=cpu_small trainer.num_threads=1 'experiment.seeds=[1,2]' paths.runs"
    )
    assert f"paths.logs={tmp_path}/logs hydra/launcher=local_parallel hydra.launcher.n_jobs=3 " in lines[1]
    assert (
        "dry_run=" not in result.stdout
        and "run.report" not in result.stdout
        and lines[1].count("experiment=cpu_small") == 1
    )
    assert not (tmp_path / "runs").exists()


# A training sweep whose one job is already finished: it skips the job before torch is imported,
# so it is a cheap sweep that ends as a real training sweep does.
SKIPPED_SWEEP = ("train-adapter", "-m", "task=rte", "seed=1", "trainer.lr=1e-3")


@pytest.mark.parametrize("command", ["status", "report"])
def test_a_sweep_of_a_command_that_trains_nothing_writes_no_report_of_its_own(tmp_path, command):
    """`afuse status -m experiment=X` wrote X's report (status only reads), and `afuse report -m
    experiment=X` wrote it twice: the end-of-sweep report fired after every command's sweep."""
    write_run(tmp_path / "runs/stage1/minilm/pfeiffer_rf16/rte/seed1", 0.6)
    result = afuse(command, "-m", "experiment=cpu_small", tmp_path=tmp_path, env={"AFUSE_AUTO_REPORT": "1"})
    assert result.returncode == 0, result.stderr
    written = (result.stdout + result.stderr).count("files in ")
    assert written == (1 if command == "report" else 0), result.stderr
    assert (tmp_path / "results/cpu_small").exists() is (command == "report")


def test_every_presets_multirun_ends_with_the_report(tmp_path):
    """gpu_check had no report callback (each preset had to register its own): its sweeps ended
    without the report the README promises for every preset's multirun."""
    write_run(tmp_path / "runs/stage1/tiny/pfeiffer_rf16/rte/seed1", 0.6)
    result = afuse(*SKIPPED_SWEEP, "experiment=gpu_check", tmp_path=tmp_path, env={"AFUSE_AUTO_REPORT": "1"})
    assert result.returncode == 0, result.stderr
    assert "| RTE | 60.00 (1) | – |" in (tmp_path / "results/gpu_check/accuracy.md").read_text()


def test_status_command(tmp_path):
    write_run(tmp_path / "runs/stage1/minilm/pfeiffer_rf16/rte/seed1", 0.6)
    result = afuse("status", "experiment=cpu_small", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "total" in result.stdout and "task=sst2,mrpc,cb seed=1" in result.stdout


@pytest.mark.parametrize("auto_report", ["1", "0"])
def test_a_presets_multirun_ends_with_the_report(tmp_path, auto_report):
    write_run(tmp_path / "runs/stage1/minilm/pfeiffer_rf16/rte/seed1", 0.6)
    result = afuse(
        *SKIPPED_SWEEP, "experiment=cpu_small", tmp_path=tmp_path, env={"AFUSE_AUTO_REPORT": auto_report}
    )
    assert result.returncode == 0, result.stderr
    report = tmp_path / "results/cpu_small/accuracy.md"
    assert report.exists() is (auto_report == "1")
    if auto_report == "1":
        assert "| RTE | – | 60.00 (1) | – |" in report.read_text()


def test_the_end_of_sweep_report_of_a_preset_run_on_another_model(tmp_path):
    """`afuse train-adapter -m experiment=cpu_small model=tiny ...` ended with "the end-of-sweep
    report failed: Key 'tokenizer_package' is not in struct": the sweep's model was merged into the
    preset's (MiniLM) instead of replacing it."""
    write_run(tmp_path / "runs/stage1/tiny/pfeiffer_rf16/rte/seed1", 0.6)
    result = afuse(
        *SKIPPED_SWEEP,
        "experiment=cpu_small",
        "model=tiny",
        tmp_path=tmp_path,
        env={"AFUSE_AUTO_REPORT": "1"},
    )
    assert result.returncode == 0 and "report for cpu_small failed" not in result.stderr, result.stderr
    report = (tmp_path / "results/cpu_small/accuracy.md").read_text()
    assert "## Accuracy: cpu_small (tiny)" in report and "| RTE | – | 60.00 (1) | – |" in report


def test_the_end_of_sweep_report_counts_runs_made_with_the_sweeps_settings(tmp_path):
    """A quick pass `afuse train-adapter -m experiment=cpu_small ... data.max_train_examples=48`
    ended with a report that left its own runs out as made with other settings: the report knew
    only the preset's. It takes the sweep's data.* / trainer.* overrides, for the sweep's
    command's groups only (trainer.lr=1e-3 here is ST-A's, not the Fusion's or Head's)."""
    from tests.synthetic import saved_config

    run = write_run(tmp_path / "runs/stage1/minilm/pfeiffer_rf16/rte/seed1", 0.6)
    saved_config(run, tmp_path, "data.max_train_examples=48")
    group = ["adapter=pfeiffer", "adapter.reduction_factor=16", "trainer.lr=1e-3"]
    sweep = ["train-adapter", "-m", "experiment=cpu_small", *group, "task=rte", "data.max_train_examples=48"]
    result = afuse(*sweep, tmp_path=tmp_path, env={"AFUSE_AUTO_REPORT": "1"})
    assert result.returncode == 0 and "already complete" in result.stdout + result.stderr, result.stderr
    report = (tmp_path / "results/cpu_small/accuracy.md").read_text()
    assert "| RTE | – | 60.00 (1) | – |" in report and "§" not in report


@pytest.mark.parametrize("launcher", ["local", "local_parallel"])
def test_a_sweep_whose_jobs_fail_on_bad_input_shows_their_lines_not_tracebacks(tmp_path, launcher):
    """Each job's error is its one line; the sweep then names every failed job in one line,
    without the traceback Hydra prints for an unexpected error, and its exit code is non-zero. Hydra also repeated
    the first failed job's line and added its HYDRA_FULL_ERROR hint, which is for tracebacks."""
    result = afuse(
        "fuse", "-m", f"hydra/launcher={launcher}", "model=tiny", "target=rte,cb", "fusion.sources=[rte,cb]",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    for target in ("rte", "cb"):  # the sweep went on after the first failure
        line = (
            rf"\[{target} seed 1\] \[[\d:]+\] afuse fuse: error: fusion for target {target} needs 2 stage-1"
        )
        assert re.search(line, result.stderr), result.stderr
        assert result.stderr.count(f"fusion for target {target} needs") == 1, result.stderr
    # Hydra's "Error executing job with overrides: [...]" named the first failed job alone.
    assert "Error executing job" not in result.stderr, result.stderr
    assert "afuse fuse: 2 of 2 jobs failed: [rte seed 1], [cb seed 1]" in result.stderr
    assert "HYDRA_FULL_ERROR" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    "args", [["status", "experiment=paper_table1", "status.all=true"], ["list", "tasks"]]
)
def test_output_into_a_closed_pipe_is_no_traceback(tmp_path, args):
    """`afuse status ... | head`: the reader leaves early; the rest of the output has nowhere to go."""
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "afuse.cli", *args, f"paths.runs={tmp_path}/runs", f"paths.logs={tmp_path}/logs"],
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout.readline()
    process.stdout.close()  # as `head -1` does
    stderr = process.stderr.read()
    process.wait(timeout=120)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_the_usage_into_a_closed_pipe_is_no_traceback(tmp_path, args):
    """`afuse --help | head -3`: the usage is printed before any command runs, where the closed
    pipe ended in a BrokenPipeError traceback. The pipe's reader is gone before the first write."""
    reader, writer = os.pipe()
    os.close(reader)
    environment = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "afuse.cli", *args],
        cwd=tmp_path, env=environment, stdout=writer, stderr=subprocess.PIPE, text=True, timeout=120,
    )  # fmt: skip
    os.close(writer)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr


def test_a_users_own_presets_are_listed_and_named(tmp_path):
    """Presets from hydra.searchpath ran, but `afuse list presets` left them out and an unknown
    name's message listed only the shipped ones."""
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    mine = (REPO / "conf/experiment/gpu_check.yaml").read_text().replace("name: gpu_check", "name: mine")
    (tmp_path / "conf" / "experiment" / "mine.yaml").write_text(mine)
    searchpath = f"hydra.searchpath=[file://{tmp_path}/conf]"
    listed = afuse("list", "presets", searchpath, tmp_path=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^mine +tiny +2 +2 +4 ", listed.stdout, re.MULTILINE), listed.stdout
    typo = afuse("status", "experiment=mien", searchpath, tmp_path=tmp_path)
    assert typo.returncode == 2 and "did you mean experiment=mine?" in typo.stderr, typo.stderr


@pytest.mark.parametrize("sweep", [[], ["-m", "seed=1,2"]])
def test_an_error_line_shows_with_hydras_logging_disabled(tmp_path, sweep):
    """hydra/job_logging=disabled silences afuse's console; a job refused on bad input then exited
    2 without a word (its one line went to the disabled logger)."""
    result = afuse(
        "train-adapter", *sweep, "task=cb", "model=tiny", "trainer.lr=-1", "hydra/job_logging=disabled",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == (1 if sweep else 2)
    errors = [line for line in result.stderr.splitlines() if "error: trainer.lr must be" in line]
    assert len(errors) == (2 if sweep else 1) and "Traceback" not in result.stderr
