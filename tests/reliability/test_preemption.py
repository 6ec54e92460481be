"""Issue 8, item 2: SIGTERM / SIGUSR1 / SIGUSR2 (what SLURM sends before it preempts or requeues a
job) make a run write a checkpoint and exit with 128 + the signal number, after handing the signal
to the handler that was there before (submitit's, which requeues the job; see
afuse.cli.exit_for_requeue). The rerun resumes and ends exactly like an uninterrupted run."""

import json
import random
import shutil
import signal

import pytest

from afuse.runs import FAILED, is_complete, read_metrics

from .harness import (
    STEPS_PER_EPOCH,
    TOTAL_STEPS,
    checkpoint_state,
    overrides,
    results,
    run_afuse,
    run_dir,
)


def resume_line(step: int) -> str:
    """The log line of a run resumed after step `step` was finished and saved."""
    epoch, in_epoch = divmod(step - 1, STEPS_PER_EPOCH)
    return f"epoch {epoch + 1}, step {in_epoch + 1} of {STEPS_PER_EPOCH}"


def check_interrupted(run, step: int) -> None:
    # The step in progress when the signal came is finished, then saved: nothing is lost.
    assert checkpoint_state(run)["global_step"] == step
    assert not is_complete(run) and not (run / FAILED).exists()  # preempted is not failed


def check_resumed(work, reference, afuse_inproc, step: int) -> None:
    resumed = afuse_inproc("train-adapter", *overrides(work, reference.raw_dir))
    assert resumed.code == 0, resumed.out
    assert resume_line(step) in resumed.out, f"interrupted after step {step}"
    assert results(read_metrics(run_dir(work))) == results(reference.metrics), f"after step {step}"


@pytest.mark.slow  # a child process: the exit code is what the OS (and SLURM) sees
def test_sigterm_checkpoints_exits_143_and_the_rerun_resumes(work, reference, afuse_inproc):
    step = random.randint(1, TOTAL_STEPS)
    child = run_afuse("train-adapter", overrides(work, reference.raw_dir), work, fault=f"SIGTERM@{step}")
    assert child.code == 128 + signal.SIGTERM == 143, f"SIGTERM at step {step}:\n{child.out}"
    assert "received SIGTERM: checkpoint written, stopping for requeue" in child.out
    check_interrupted(run_dir(work), step)
    check_resumed(work, reference, afuse_inproc, step)


@pytest.mark.parametrize("name", ["SIGUSR1", "SIGUSR2"])
def test_sigusr_checkpoints_hands_over_to_the_requeue_handler_and_resumes(
    name, work, reference, afuse_inproc
):
    """In this process, with a stand-in for submitit's handler installed before afuse runs."""
    signum = signal.Signals[name]
    run, step = run_dir(work), random.randint(1, TOTAL_STEPS)
    handed_over = []  # (signal, the saved step when the handler ran)

    def requeue_handler(sig, frame):
        handed_over.append((sig, (checkpoint_state(run) or {}).get("global_step")))

    previous = signal.signal(signum, requeue_handler)
    try:
        interrupted = afuse_inproc(
            "train-adapter", *overrides(work, reference.raw_dir), fault=f"{name}@{step}"
        )
    finally:
        signal.signal(signum, previous)
    assert interrupted.code == 128 + signum, f"{name} at step {step}:\n{interrupted.out}"
    # The requeue handler ran once, after the checkpoint was written (not when the signal came).
    assert handed_over == [(signum, step)]
    check_interrupted(run, step)
    check_resumed(work, reference, afuse_inproc, step)


@pytest.mark.slow  # a child process
def test_a_resumed_runs_training_time_counts_its_earlier_processes(work, reference, afuse_inproc):
    child = run_afuse(
        "train-adapter", overrides(work, reference.raw_dir), work, fault=f"SIGTERM@{TOTAL_STEPS // 2}"
    )
    assert child.code == 143, child.out
    state_file = run_dir(work) / "checkpoint" / "state.json"
    state = json.loads(state_file.read_text())
    assert state["loop"]["train_s"] > 0  # the interrupted process's seconds are checkpointed
    # As if the first process had trained for 1000 s: the resumed run's time must include them.
    state["loop"]["train_s"] = 1000.0
    state_file.write_text(json.dumps(state))
    resumed = afuse_inproc("train-adapter", *overrides(work, reference.raw_dir))
    assert resumed.code == 0, resumed.out
    assert 1000.0 < read_metrics(run_dir(work))["timing"]["train_s"] < 1000.0 + 300


@pytest.mark.slow  # a child process
def test_a_first_run_that_tokenised_its_data_resumes(work, reference, afuse_inproc):
    """A new user's first run tokenises its task, then is stopped; the rerun reads the same rows
    back from the tokenised cache and must take them for the data its checkpoint was made on."""
    shutil.rmtree(work / "data" / "cache")
    step = random.randint(1, TOTAL_STEPS)
    child = run_afuse("train-adapter", overrides(work, reference.raw_dir), work, fault=f"SIGTERM@{step}")
    assert child.code == 143, f"SIGTERM at step {step}:\n{child.out}"
    assert "tokenised with" in child.out  # this process built the cache
    check_interrupted(run_dir(work), step)
    check_resumed(work, reference, afuse_inproc, step)
