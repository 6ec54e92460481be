"""trainer.cuda_graphs without a GPU: which steps are captured and when, that a replayed step
trains exactly as the eager loop does (a stand-in capture that re-runs the step instead of a
CUDA graph), and the settings it refuses. The real capture runs in the GPU check
(experiments/gpu/graphed_training.py: graphed against eager training on CUDA)."""

import os
import signal

import pytest
import torch

from afuse.errors import AfuseError, ConfigError
from afuse.train import cuda_graphs, step_hooks
from afuse.train.checkpoint import find_checkpoint, load_checkpoint
from afuse.train.cuda_graphs import WARMUP, GraphedSteps, stand_in_capture
from afuse.train.loop import TaskData, fit
from afuse.train.signals import Preempted
from afuse.validate import check_cuda_graphs

from .settings import trainer_cfg
from .test_loop import SPLITS, BagOfTokens, collate


def fake_batch(rows, length, value=0):
    return {"input_ids": torch.full((rows, length), value), "labels": torch.zeros(rows, dtype=torch.long)}


def test_a_full_batch_shape_is_captured_after_its_warmup_then_replayed_and_other_sizes_stay_eager():
    eager, captured, replays = [], [], []

    def body(batch):
        eager.append(tuple(batch["input_ids"].shape))
        return (batch["input_ids"].float().mean(),) * 3

    def capture(body_, inputs):
        captured.append(tuple(inputs["input_ids"].shape))
        return (inputs["input_ids"].float().mean(),) * 3, lambda: replays.append(
            inputs["input_ids"][0, 0].item()
        )

    steps = GraphedSteps(body, batch_size=4, capture=capture)
    for value in range(WARMUP + 2):
        steps(fake_batch(4, 32, value))
    steps(fake_batch(3, 32))  # an epoch's last, smaller batch
    steps(fake_batch(4, 64, 9))
    assert eager == [(4, 32)] * WARMUP + [(3, 32), (4, 64)]
    assert captured == [(4, 32)]
    assert replays == [WARMUP, WARMUP + 1]  # each replay reads the batch copied into the buffers


def test_a_capture_that_fails_stops_the_run_with_what_to_do():
    def refusing_capture(body, inputs):
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing\nmore")

    steps = GraphedSteps(lambda batch: (torch.zeros(()),) * 3, batch_size=4, capture=refusing_capture)
    for _ in range(WARMUP):
        steps(fake_batch(4, 32))
    with pytest.raises(
        AfuseError, match="not permitted when stream is capturing\\); rerun with trainer.cuda_graphs=false"
    ):
        steps(fake_batch(4, 32))


def run(tmp_path, name, monkeypatch=None, **overrides):
    """The loop tests' run in batches of 10; with `monkeypatch`, graphed with a stand-in capture."""
    torch.manual_seed(123)
    model = BagOfTokens()
    if monkeypatch:
        monkeypatch.setattr(cuda_graphs, "check_supported", lambda *args, **kwargs: None)
        monkeypatch.setattr(cuda_graphs, "cuda_graph_capture", lambda: stand_in_capture(model))
        overrides["cuda_graphs"] = True
    cfg = trainer_cfg(**{"grad_accum_steps": 1, "batch_size": 10, "max_epochs": 3, **overrides})
    data = TaskData(SPLITS, collate, cfg.batch_size, cfg.eval_batch_size, seed=7)
    return fit(model, data, cfg, tmp_path / name, seed=7)


def test_replayed_steps_train_exactly_as_the_eager_loop(tmp_path, monkeypatch):
    """96 rows in batches of 10: nine full batches an epoch (warm-up, capture, replays) and a
    last one of 6 (eager) -- the same losses at every step and the same metrics as without graphs."""
    losses = {}

    def record(name):
        return lambda step, step_losses: losses.setdefault(name, []).append(step_losses["loss"])

    monkeypatch.setattr(step_hooks, "BEFORE_STEP", [record("eager")])
    eager = run(tmp_path, "eager")
    monkeypatch.setattr(step_hooks, "BEFORE_STEP", [record("graphed")])
    graphed = run(tmp_path, "graphed", monkeypatch)
    assert len(losses["graphed"]) == 3 * 10
    assert losses["graphed"] == losses["eager"]
    assert graphed.history == eager.history and graphed.test == eager.test


def test_a_graphed_run_preempted_mid_epoch_resumes_to_the_same_metrics(tmp_path, monkeypatch):
    """Stopped at step 14 (epoch 2, after its shape was captured); the new process warms up and
    captures again and ends where the uninterrupted run does."""
    reference = run(tmp_path, "reference", monkeypatch)

    def preempt_at_14(step, losses):
        if step == 14:
            os.kill(os.getpid(), signal.SIGUSR1)

    monkeypatch.setattr(step_hooks, "BEFORE_STEP", [preempt_at_14])
    with pytest.raises(Preempted):
        run(tmp_path, "interrupted", monkeypatch)
    state = load_checkpoint(find_checkpoint(tmp_path / "interrupted")).state
    assert (state.epoch, state.step_in_epoch) == (1, 4)
    monkeypatch.setattr(step_hooks, "BEFORE_STEP", [])
    resumed = run(tmp_path, "interrupted", monkeypatch)
    assert resumed.history == reference.history and resumed.test == reference.test


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"device": "cpu"}, "needs a CUDA device, and this run trains on cpu"),
        ({"device": "cpu", "grad_accum_steps": 4}, "trainer.grad_accum_steps is 4"),
    ],
)
def test_settings_a_captured_step_cannot_honour_are_refused_before_training(tmp_path, overrides, says):
    with pytest.raises(ConfigError, match=says) as refused:
        run(tmp_path, "refused", **overrides, cuda_graphs=True)
    assert "trainer.cuda_graphs=false" in str(refused.value)
    assert not (tmp_path / "refused").exists()


def test_the_cli_checks_cuda_graphs_with_the_other_settings():
    from omegaconf import OmegaConf

    with pytest.raises(ConfigError, match="true or false"):
        check_cuda_graphs(OmegaConf.create({"trainer": {"cuda_graphs": "yes", "device": "cpu"}}))
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        check_cuda_graphs(
            OmegaConf.create({"trainer": {"cuda_graphs": True, "device": "auto", "grad_accum_steps": 1}})
        )
    check_cuda_graphs(OmegaConf.create({"trainer": {"cuda_graphs": False, "device": "cpu"}}))
