"""afuse status: job states from run directories, counts, and the commands for what is left."""

import os
import re
import subprocess
import sys
import time

import pytest

from afuse.commands.status import State, job_state, job_states, status_text, to_launch
from afuse.experiment import load_experiment
from tests.synthetic import fail, finished_fusion, lock, saved_config, write_adapter, write_run


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_states(tmp_path):
    assert job_state(tmp_path / "nothing") == (State.MISSING, "")
    assert job_state(write_run(tmp_path / "done", 0.5)) == (State.DONE, "")
    assert job_state(write_run(tmp_path / "started", None)) == (State.INCOMPLETE, "")
    lock(tmp_path / "running", os.getpid())
    assert job_state(tmp_path / "running")[0] is State.RUNNING
    fail(tmp_path / "failed")
    assert job_state(tmp_path / "failed") == (State.FAILED, "RuntimeError: CUDA out of memory")


def test_a_dead_pids_lock_is_stale(tmp_path):
    pid = dead_pid()
    lock(tmp_path / "crashed", pid)
    assert job_state(tmp_path / "crashed") == (State.INCOMPLETE, f"stale lock (pid {pid} is not running)")
    fail(tmp_path / "crashed")
    assert job_state(tmp_path / "crashed")[0] is State.FAILED


def test_a_lock_from_another_host_counts_as_running(tmp_path):
    lock(tmp_path / "on_node", 4242, host="gpu-node-17")
    state, note = job_state(tmp_path / "on_node", host="login-node")
    assert state is State.RUNNING and "pid 4242 on gpu-node-17 (not checked" in note


def test_metrics_win_over_leftovers(tmp_path):
    run = write_run(tmp_path / "retried", 0.5)
    fail(run)
    lock(run, dead_pid())
    assert job_state(run)[0] is State.DONE


def test_unreadable_lock_and_failure_files(tmp_path):
    run = tmp_path / "odd"
    run.mkdir()
    (run / ".lock").write_text("{half")
    assert job_state(run) == (State.INCOMPLETE, "stale lock (unreadable lock)")
    (run / "failed.json").write_text("[]")
    assert job_state(run) == (State.FAILED, "no error message")


def test_status_text_counts_and_launch_lines(compose_preset):
    experiment = load_experiment(compose_preset("cpu_small", "status"))
    st_a = {job.task: job for job in experiment.groups["st_a"].jobs}
    for task in ("sst2", "mrpc", "rte"):
        write_run(st_a[task].run_dir, 0.6)
    fail(st_a["cb"].run_dir)
    head_rte = experiment.groups["head"].jobs[1]
    lock(head_rte.run_dir, os.getpid())
    states = job_states(experiment)
    assert [job.task for job in to_launch(states) if job.group == "head"] == ["mrpc", "cb"]  # rte runs
    text = status_text(experiment, states)
    words = " ".join(text.split())  # column widths follow the longest variant name
    assert "st_a 1 train-adapter pfeiffer_rf16 4 3 0 1" in words
    assert "total 10 3 1 1 0 5" in words
    assert "failed st_a cb 1 " in words and "RuntimeError: CUDA out of memory" in text
    assert (
        "afuse train-adapter -m experiment=cpu_small adapter=pfeiffer adapter.reduction_factor=16 trainer.lr=1e-3 task=cb seed=1"
        in text
    )
    assert "afuse finetune -m experiment=cpu_small mode=head trainer.lr=1e-3 task=mrpc,cb seed=1" in text
    assert "stage 2 (3 of these jobs wait for stage-1 runs that are not done)" in text
    assert "5 missing job(s) not listed" in text


def test_status_is_fast_for_hundreds_of_runs(compose_preset):
    experiment = load_experiment(compose_preset("paper_table1", "status"))
    for index, job in enumerate(experiment.jobs()):
        if index % 3 == 0:
            write_run(job.run_dir, 0.7)
        elif index % 3 == 1:
            fail(job.run_dir)
    started = time.perf_counter()
    states = job_states(experiment)
    text = status_text(experiment, states, every_job=True)
    elapsed = time.perf_counter() - started
    assert len(states) == 291 and text.count("\n") > 291
    assert elapsed < 1.0, f"status of 291 jobs took {elapsed:.2f} s"


@pytest.mark.parametrize("every_job", [False, True])
def test_nothing_to_launch_when_all_done(compose_preset, every_job):
    experiment = load_experiment(compose_preset("cpu_small", "status"))
    for job in experiment.jobs():
        write_run(job.run_dir, 0.5)
    text = status_text(experiment, job_states(experiment), every_job=every_job)
    assert text.endswith("Nothing to launch.")
    assert bool(re.search(r"^done +st_a", text, re.MULTILINE)) is every_job


def test_a_run_made_with_other_settings_is_not_done(compose_preset, tmp_path):
    """A quick `afuse run experiment=cpu_small data.max_train_examples=48` and then the preset
    itself: its runs counted as done, so `afuse run` reported the quick runs as the preset's
    results; README: a finished run made with other settings is never silently reused."""
    experiment = load_experiment(compose_preset("cpu_small", "status"))
    rte = next(job for job in experiment.groups["st_a"].jobs if job.task == "rte")
    saved_config(write_run(rte.run_dir, 0.6), tmp_path)
    assert job_states(experiment)[rte] == (State.DONE, "")

    saved_config(rte.run_dir, tmp_path, "data.max_train_examples=48", "trainer.max_epochs=1")
    state, note = job_states(experiment)[rte]
    assert state is State.STALE
    assert "data.max_train_examples: 48 -> 400" in note and "trainer.max_epochs: 1 -> 3" in note
    assert "task=rte seed=1 force=true" in note  # the line that retrains it with the preset's settings
    assert rte not in to_launch(job_states(experiment))
    assert "stale st_a rte 1" in " ".join(status_text(experiment, job_states(experiment)).split())


def test_a_stale_runs_retrain_line_reads_its_data_where_it_was_made_from(compose_preset, tmp_path):
    """data.source and data.raw_dir say where the data came from, not what a run computes, so they
    are not compared: status asked without them showed a force=true line that retrained the run on
    the preset's source (another copy, the Hub, or a raw_dir that is not there). The line carries
    the run's own, unless the status line gave them (then it follows them, as asked)."""
    from afuse.commands.status import data_origin

    cfg = compose_preset("cpu_small", "status")
    experiment = load_experiment(cfg)
    rte = next(job for job in experiment.groups["st_a"].jobs if job.task == "rte")
    saved_config(
        write_run(rte.run_dir, 0.6), tmp_path, "data.raw_dir=/elsewhere/data", "trainer.max_epochs=1"
    )

    def retrain_line(*passed_on):
        state, note = job_states(experiment, passed_on, origin=data_origin(cfg))[rte]
        assert state is State.STALE, note
        return note.split("retrain it: ")[1]

    line = retrain_line()
    assert "data.raw_dir=/elsewhere/data" in line and "force=true" in line
    assert "data.source" not in line  # local, as the preset's
    line = retrain_line("data.raw_dir=/mine")
    assert "data.raw_dir=/mine" in line and "/elsewhere" not in line
    saved_config(rte.run_dir, tmp_path, "trainer.max_epochs=1")  # made from the preset's own raw_dir
    assert "data." not in retrain_line()


def test_status_shows_absolute_run_folders(tmp_path, monkeypatch):
    # paths.runs is relative by default; the folders shown are pasted into other shells.
    from tests.from_conf import compose_config

    monkeypatch.chdir(tmp_path)
    experiment = load_experiment(compose_config("status", ["experiment=cpu_small", "paths.runs=runs"]))
    rte = next(job for job in experiment.groups["st_a"].jobs if job.task == "rte")
    fail(tmp_path / rte.run_dir)
    text = status_text(experiment, job_states(experiment))
    assert f" {tmp_path / rte.run_dir} " in text, text


def test_afuse_runs_last_line_does_not_promise_to_resume_a_stale_run(compose_preset, tmp_path):
    # A rerun skips stale runs (only force=true replaces one): "`afuse run` again resumes" sent
    # users round in a loop.
    from afuse.commands.run import _how_to_go_on

    experiment = load_experiment(compose_preset("cpu_small", "status"))
    rte = next(job for job in experiment.groups["st_a"].jobs if job.task == "rte")
    not_done = [job for job in experiment.jobs() if job is not rte]
    assert _how_to_go_on(experiment, not_done) == "`afuse run` again resumes"
    saved_config(write_run(rte.run_dir, 0.6), tmp_path, "trainer.max_epochs=1")
    line = _how_to_go_on(experiment, [*not_done, rte])
    assert "not the 1 stale or damaged run(s)" in line and "force=true" in line


# --- a Fusion over source adapters retrained since ------------------------------------------------


def test_a_fusion_over_a_retrained_source_adapter_is_stale(compose_preset, tmp_path):
    """`afuse train-adapter task=cb force=true` after the Fusion for CB was trained: the Fusion
    result no longer describes the adapters it names, but status counted it done and `afuse run`
    skipped it (only configs were compared)."""
    experiment = load_experiment(compose_preset("cpu_small", "status"))
    job = finished_fusion(experiment, tmp_path)
    assert job_states(experiment)[job] == (State.DONE, "")

    write_adapter(job.needs[list(experiment.groups["fusion_st_a"].sources).index("cb")], 0.2)
    state, note = job_states(experiment)[job]
    assert state is State.STALE, note
    assert "source adapter(s) cb" in note and "retrained since" in note
    assert "mrpc" not in note.split("retrain it:")[0]  # only the changed source is named
    assert "afuse fuse experiment=cpu_small" in note and "target=cb seed=1 force=true" in note
    assert job not in to_launch(job_states(experiment))
    text = status_text(experiment, job_states(experiment))
    assert "stale fusion_st_a cb 1" in " ".join(text.split())


def test_a_fusion_without_recorded_source_digests_is_not_checked(compose_preset, tmp_path):
    # metrics.json of runs made before afuse recorded source_sha256: nothing to compare with.
    experiment = load_experiment(compose_preset("cpu_small", "status"))
    job = finished_fusion(experiment, tmp_path, record_digests=False)
    write_adapter(job.needs[0], 0.3)
    assert job_states(experiment)[job] == (State.DONE, "")


def test_status_hashes_each_source_adapter_once(compose_preset, tmp_path, monkeypatch):
    # Every Fusion job of a preset fuses the same adapters: one hash per file, not per job.
    import hashlib

    experiment = load_experiment(compose_preset("cpu_small", "status"))
    for target in ("mrpc", "rte", "cb"):
        finished_fusion(experiment, tmp_path, target)
    hashed = []
    real = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda f, d: hashed.append(f.name) or real(f, d))
    states = job_states(experiment)
    assert {s for s, _ in states.values()} >= {State.DONE}
    assert len(hashed) == len(set(hashed)) == len(experiment.groups["fusion_st_a"].sources)


# --- a run trained on data that were prepared again since ---------------------------------------


def test_a_run_whose_prepared_data_changed_since_is_stale(compose_preset, tmp_path):
    """A finished run is skipped whatever its raw files hold now: status counted it done after its
    task was prepared again from edited raw files. Its metrics.json names the prepared files it
    read; the copy under paths.data, made with the same settings, now holds others."""
    from afuse.atomic import atomic_write_json
    from afuse.data_record import prepared_record

    cfg = compose_preset("cpu_small", "status", f"paths.data={tmp_path}/data")
    experiment = load_experiment(cfg)
    rte = next(job for job in experiment.groups["st_a"].jobs if job.task == "rte")
    manifest = {
        "fingerprint": "f",
        "splits": {s: {"file": f"{s}.parquet", "sha256": s * 8} for s in ("train", "test")},
    }
    path = tmp_path / "data" / "prepared" / "rte" / "manifest.json"
    path.parent.mkdir(parents=True)
    atomic_write_json(path, manifest)
    saved_config(write_run(rte.run_dir, 0.6, prepared_data={"rte": prepared_record(manifest)}), tmp_path)
    assert job_states(experiment)[rte] == (State.DONE, "")

    manifest["splits"]["train"]["sha256"] = "edited" * 8
    atomic_write_json(path, manifest)  # as `afuse prepare-data task=rte` after the raw files changed
    state, note = job_states(experiment)[rte]
    assert state is State.STALE, note
    assert f"trained on other data: its prepared splits under {tmp_path}/data/prepared/ were made" in note
    assert note.split("retrain it: ")[0].endswith("from other raw files: rte (train); ")
    assert "task=rte seed=1 force=true" in note.split("retrain it: ")[1]
    assert rte not in to_launch(job_states(experiment))
