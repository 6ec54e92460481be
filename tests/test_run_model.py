"""`afuse.run_model.load_run_model(run_dir, task=...)`: a task the run has no head for is refused
in one line naming the run's own task(s), never answered with another task's model; a run that is
not finished says whether it is training, failed or stopped (every command that rebuilds a run)."""

import os

import pytest

from afuse.errors import ConfigError, MissingInputError
from afuse.run_identity import multitask_dir
from afuse.run_model import load_run_model, read_run
from tests.synthetic import fail, lock, write_run
from tests.test_export import adapter_run


def multitask_record(root):
    """A finished MT-A run's config and metrics over rte and cb (its weights are not needed:
    the task is checked before any is read)."""
    from afuse.runs import write_config, write_metrics
    from tests.from_conf import compose_config

    cfg = compose_config("train_multitask", ["model=tiny", "tasks=[rte,cb]"])
    run_dir = multitask_dir(root / "runs", "tiny", "rte-cb", 1)
    write_config(run_dir, cfg)
    write_metrics(run_dir, {"command": "train-multitask", "kind": "mt_a", "test": {"accuracy": 0.5}})
    return run_dir


def test_an_adapter_run_asked_for_another_task_is_refused(tmp_path):
    """It returned the cb model for task="rte", as if it were an RTE model."""
    run_dir = adapter_run(tmp_path)
    with pytest.raises(ConfigError, match=r"predicts cb, not rte: leave task= out"):
        load_run_model(run_dir, task="rte")
    assert load_run_model(run_dir, task="cb").heads  # its own task is fine


def test_an_mt_a_run_asked_for_a_task_it_was_not_trained_on_names_its_tasks(tmp_path):
    """It failed looking for adapters/sst2/, an error about a missing file rather than the task."""
    with pytest.raises(ConfigError, match=r"MT-A run over 2 tasks \(rte, cb\): task=sst2 is not one of them"):
        load_run_model(multitask_record(tmp_path), task="sst2")


def test_a_head_baseline_run_is_rebuilt_like_evaluate_rebuilds_it(tmp_path):
    """load_run_model refused a Head run ('a finetune run has no adapter or fusion to load'), one
    that afuse evaluate and predict rebuild; the Python API gives the same model they score."""
    import torch

    from afuse.inference.rebuild import load_run
    from tests.inference.conftest import untrained_head_run

    run_dir = untrained_head_run(tmp_path, "cb")
    model = load_run_model(run_dir)
    ids = torch.randint(1000, 2000, (2, 7), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = model(ids, torch.ones_like(ids)), load_run(run_dir).model(ids, torch.ones_like(ids))
    assert not model.training and ours.shape == (2, 3)
    torch.testing.assert_close(ours, theirs, atol=0, rtol=0)


@pytest.mark.parametrize(
    ("state", "says"),
    [
        ("running", f"it is still training (pid {os.getpid()}); use it once it is done"),
        ("failed", "it failed (RuntimeError: CUDA out of memory); rerun the command that made it to resume"),
        (
            "stopped",
            "it stopped before the end; rerun the command that made it to resume from its last checkpoint",
        ),
    ],
)
def test_an_unfinished_run_says_whether_it_is_training_failed_or_stopped(tmp_path, state, says):
    run_dir = write_run(tmp_path / "run", None)  # config.yaml, no metrics.json
    if state == "running":
        lock(run_dir, os.getpid())
    elif state == "failed":
        fail(run_dir)
    with pytest.raises(MissingInputError) as refused:
        read_run(run_dir)
    assert f"run={run_dir}: the run is not finished (no metrics.json): {says}" in str(refused.value)
