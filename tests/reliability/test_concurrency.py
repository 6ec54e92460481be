"""Issue 8, item 4: runs, sweeps and data preparation started at the same time on the same trees.

- a second process on a running run's directory exits at once ("already running (pid, host)");
  the lock of a process that died is taken over;
- two overlapping multiruns on one runs/ tree: every run is trained exactly once, every run
  directory ends complete, the data of each task is prepared and tokenised once, and status and
  report read the tree.
"""

import itertools
import socket
import threading
import time
from collections import Counter

import pytest
from omegaconf import OmegaConf

from afuse.commands.status import State, job_state
from afuse.config import task_config
from afuse.paths import conf_dir
from afuse.runs import RunLock, read_metrics

from .harness import (
    copy_reference_run,
    finish,
    overrides,
    results,
    run_dir,
    start,
    status_totals,
    wait_until_stopped,
    write_preset,
)


@pytest.mark.slow  # a child process
def test_a_second_process_is_refused_and_a_dead_holders_lock_is_taken_over(work, reference, afuse_inproc):
    args = overrides(work, reference.raw_dir)
    run = run_dir(work)
    holder = start("train-adapter", args, work, fault="SIGSTOP@3")  # stops itself, holding the lock
    try:
        wait_until_stopped(holder)
        config = (run / "config.yaml").read_bytes()
        second = afuse_inproc("train-adapter", *args)
        assert second.code == 2, second.out
        assert f"{run} is already running (pid {holder.pid}, host {socket.gethostname()})" in second.out
        assert (run / "config.yaml").read_bytes() == config  # refused before touching anything
        assert job_state(run) == (State.RUNNING, f"pid {holder.pid}")
    finally:
        holder.kill()  # SIGKILL: the holder dies with the lock file still naming it
        holder.wait()
    assert job_state(run) == (State.INCOMPLETE, f"stale lock (pid {holder.pid} is not running)")
    third = afuse_inproc("train-adapter", *args)
    assert third.code == 0, third.out
    assert results(read_metrics(run)) == results(reference.metrics)


TASKS = ("cb",)
# Seed 3 is in both sweeps, and first in both: their first jobs are the same run, at the same time.
SWEEP_A, SWEEP_B = (3, 1, 2), (3, 4, 5)


def sweep(root, raw_dir, name: str, seeds) -> list[str]:
    settings = [a for a in overrides(root, raw_dir) if not a.startswith(("task=", "trainer.max_epochs="))]
    return [
        "-m",
        *settings,
        "trainer.max_epochs=1",
        f"task={','.join(TASKS)}",
        f"seed={','.join(map(str, seeds))}",
        "hydra/launcher=local_parallel",
        "hydra.launcher.n_jobs=1",  # one job at a time per sweep: the two sweeps run side by side
        f"hydra.sweep.dir={root}/logs/{name}",
    ]


@pytest.mark.slow  # two child processes
def test_two_overlapping_sweeps_train_each_run_once(tmp_path, reference, afuse_inproc):
    # No prepared data: the first jobs of both sweeps prepare and tokenise the same tasks at once.
    raw = reference.raw_dir
    sweeps = [
        start("train-adapter", sweep(tmp_path, raw, n, s), tmp_path)
        for n, s in (("a", SWEEP_A), ("b", SWEEP_B))
    ]
    out = "".join(finish(s, timeout=600).out for s in sweeps)

    seeds = sorted(set(SWEEP_A) | set(SWEEP_B))
    for task, seed in itertools.product(TASKS, seeds):
        run = run_dir(tmp_path, seed, task)
        trained = out.count(f"-> {run / 'metrics.json'}")
        assert trained == 1, f"{run} was trained {trained} times\n{out}"
        metrics = read_metrics(run)
        assert (metrics["task"], metrics["seed"]) == (task, seed) and 0 <= metrics["test"]["accuracy"] <= 1
    # The overlapping jobs of the later sweep were refused (or skipped): no other error.
    errors = [line for line in out.splitlines() if ": error: " in line]
    assert all("is already running (pid" in line for line in errors), "\n".join(errors)
    for task in TASKS:  # the data locks: one job prepares and tokenises, the others wait and reuse
        assert out.count(f"{task}: prepared train ") == 1, f"{task} prepared more than once\n{out}"
        assert out.count(f"{task}: tokenised with ") == 1, f"{task} tokenised more than once\n{out}"

    # the sweeps' one epoch too: status counts runs made with other settings than it is given as stale
    preset = [
        *write_preset(tmp_path, list(TASKS), seeds),
        *overrides(tmp_path, raw)[-4:],
        "trainer.max_epochs=1",
    ]
    status = afuse_inproc("status", *preset)
    totals = status_totals(status.out)
    assert status.code == 0 and totals["jobs"] == totals["done"] == len(seeds) * len(TASKS), status.out
    report = afuse_inproc("report", *preset)
    assert report.code == 0, report.out
    table = (tmp_path / "results" / "reliability" / "accuracy.md").read_text()
    assert table.count(f"({len(seeds)})") == len(TASKS), table  # mean ± std (n seeds) per task


def test_concurrent_jobs_prepare_and_tokenise_a_task_once(
    tmp_path, shared_data, minilm_tokenizer, monkeypatch
):
    """Three jobs ask for the same task's tokens at the same moment (threads here, for a start
    that is really simultaneous): one reads and tokenises, the others wait for its lock and reuse."""
    from afuse.data import prepare, tokenize
    from afuse.modeling.backbone import tokenizer_id

    calls = Counter()

    def slowed(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            time.sleep(0.5)  # long enough for the other jobs to arrive while this one works
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(prepare, "_read_source", slowed("read", prepare._read_source))
    monkeypatch.setattr(tokenize, "_build_cache", slowed("tokenise", tokenize._build_cache))
    data = OmegaConf.merge(
        OmegaConf.load(conf_dir() / "data" / "default.yaml"), {"source": "local", "raw_dir": str(shared_data)}
    )
    paths = OmegaConf.create({"data": str(tmp_path / "data")})
    task, token_id = task_config("cb"), tokenizer_id(minilm_tokenizer)
    start_together = threading.Barrier(3)
    sizes = []

    def job():
        start_together.wait()
        sizes.append(len(tokenize.load_tokenized(task, data, paths, minilm_tokenizer, token_id)["train"]))

    threads = [threading.Thread(target=job) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert calls == {"read": 1, "tokenise": 1}
    assert len(sizes) == 3 and len(set(sizes)) == 1


def test_a_run_finished_by_another_process_while_waiting_for_its_lock_is_not_trained_again(
    work, reference, afuse_inproc, monkeypatch
):
    """An overlapping sweep: the run was incomplete when this job looked, and complete by the time
    it held the lock. Training it again would replace a finished result."""
    acquire = RunLock.acquire

    def finished_by_the_other_sweep(self):
        copy_reference_run(reference, work)  # the other process finishes it just before we lock
        return acquire(self)

    monkeypatch.setattr(RunLock, "acquire", finished_by_the_other_sweep)
    second = afuse_inproc("train-adapter", *overrides(work, reference.raw_dir))
    assert second.code == 0, second.out
    assert "already complete" in second.out and "run directory:" not in second.out
    assert (run_dir(work) / "metrics.json").read_bytes() == (reference.run / "metrics.json").read_bytes()
