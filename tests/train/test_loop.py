"""The training loop on a stand-in model: determinism, resume after interruption, early stopping,
numerical faults and checkpoint validation. (The real models are covered in tests/modeling.)"""

import json
import os
import signal

import pytest
import torch
from datasets import Dataset

from afuse.errors import CorruptCheckpointError, TrainingDiverged
from afuse.train import step_hooks
from afuse.train.checkpoint import find_checkpoint, load_checkpoint
from afuse.train.loop import EpochOrder, TaskData, _linear_schedule, fit
from afuse.train.signals import Preempted

from .settings import trainer_cfg


class BagOfTokens(torch.nn.Module):
    """Mean token embedding -> dropout -> linear: small, but with dropout so RNG state matters."""

    def __init__(self, vocab=50, dim=8, labels=2):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.dropout = torch.nn.Dropout(0.3)
        self.out = torch.nn.Linear(dim, labels)

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1)
        return self.out(self.dropout(pooled))


def make_split(n, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 50, (n, 6), generator=g)
    labels = (ids[:, 0] > 25).long()  # learnable from the first token
    return Dataset.from_dict({"input_ids": ids.tolist(), "labels": labels.tolist()})


def collate(features):
    ids = torch.tensor([f["input_ids"] for f in features])
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "labels": torch.tensor([f["labels"] for f in features]),
    }


SPLITS = {"train": make_split(96, 0), "validation": make_split(40, 1), "test": make_split(40, 2)}


def run(tmp_path, name, extra_loss=None, **overrides):
    torch.manual_seed(123)  # model init
    model = BagOfTokens()
    cfg = trainer_cfg(**overrides)
    data = TaskData(SPLITS, collate, cfg.batch_size, cfg.eval_batch_size, seed=7)
    return model, fit(model, data, cfg, tmp_path / name, seed=7, extra_loss=extra_loss)


def test_same_seed_same_metrics(tmp_path):
    _, a = run(tmp_path, "a")
    _, b = run(tmp_path, "b")
    assert a.history == b.history
    assert a.test == b.test
    assert a.test["accuracy"] > a.test["majority_rate"]  # it did learn something


def test_resume_after_preemption_matches_uninterrupted(tmp_path):
    _, reference = run(tmp_path, "reference")
    steps = {"n": 0}

    def preempt_at_step_9():  # mid-epoch 2 (6 optimizer steps per epoch)
        steps["n"] += 1
        if steps["n"] == 9 * 2:  # 2 micro-batches per optimizer step
            os.kill(os.getpid(), signal.SIGUSR1)
        return torch.zeros(())

    with pytest.raises(Preempted):
        run(tmp_path, "interrupted", extra_loss=preempt_at_step_9)
    state = load_checkpoint(find_checkpoint(tmp_path / "interrupted")).state
    assert (state.epoch, state.step_in_epoch) == (1, 3)
    _, resumed = run(tmp_path, "interrupted")
    assert resumed.history == reference.history
    assert resumed.test == reference.test


def test_early_stopping_keeps_best_epoch(tmp_path):
    _, result = run(tmp_path, "es", lr=0.0, max_epochs=6, patience=2)  # lr 0: no epoch ever improves
    assert result.epochs_run == 3 and result.stopped_early and result.best_epoch == 1


def test_nan_loss_stops_with_step_and_lr(tmp_path):
    calls = {"n": 0}

    def nan_after_first_epoch():
        calls["n"] += 1
        return torch.tensor(float("nan")) if calls["n"] > 12 else torch.zeros(())

    with pytest.raises(TrainingDiverged, match=r"step 7, learning rate"):
        run(tmp_path, "nan", extra_loss=nan_after_first_epoch)
    assert load_checkpoint(find_checkpoint(tmp_path / "nan")).state.epoch == 1  # last good one kept


def test_corrupt_checkpoint_is_refused(tmp_path):
    run(tmp_path, "c", max_epochs=1)
    ckpt = find_checkpoint(tmp_path / "c")
    data = (ckpt / "trainable.safetensors").read_bytes()
    (ckpt / "trainable.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptCheckpointError, match="trainable.safetensors"):
        run(tmp_path, "c", max_epochs=2)
    meta = json.loads((ckpt / "state.json").read_text())
    assert meta["loop"]["epoch"] == 1


def test_epoch_order_is_a_seeded_permutation_that_can_start_midway():
    full = EpochOrder(10, seed=1, epoch=0).order()
    assert sorted(full) == list(range(10))
    assert list(EpochOrder(10, seed=1, epoch=0, start=4)) == full[4:]
    assert EpochOrder(10, seed=1, epoch=1).order() != full


def test_finite_loss_with_nan_gradients_stops_before_the_step(tmp_path):
    holder = {}

    def nan_gradient():  # value 0, but d/dw sqrt(|w - w|) at 0 is inf * 0 = nan
        weight = holder["model"].out.weight
        return torch.sqrt((weight - weight.detach()).abs()).sum()

    torch.manual_seed(123)
    model = BagOfTokens()
    holder["model"] = model
    cfg = trainer_cfg()
    data = TaskData(SPLITS, collate, cfg.batch_size, cfg.eval_batch_size, seed=7)
    before = model.out.weight.detach().clone()
    with pytest.raises(TrainingDiverged, match="gradient norm nan"):
        fit(model, data, cfg, tmp_path / "nangrad", seed=7, extra_loss=nan_gradient)
    assert torch.equal(model.out.weight.detach(), before)  # the bad step never reached the weights


def test_the_extra_loss_is_in_the_gradient_the_optimizer_steps_on(tmp_path, monkeypatch):
    """Fusion's λ·Σ||V - I||² (paper 4.1) must reach the optimizer: the first step's gradient is
    that of (mean task loss over the accumulated micro-batches) + the extra loss, computed here
    by hand on the same rows."""
    lam, anchor = 0.7, torch.full((2, 8), 0.5)
    holder, seen = {}, {}

    def penalty():  # λ·||W - anchor||², standing in for λ·||V - I||²
        return lam * (holder["model"].out.weight - anchor).pow(2).sum()

    def capture(step, losses):
        if step == 1:
            seen["grad"] = holder["model"].out.weight.grad.detach().clone()

    monkeypatch.setattr(step_hooks, "BEFORE_STEP", [capture])
    torch.manual_seed(123)
    model = BagOfTokens()
    model.dropout.p = 0.0  # the reference below has no dropout masks to match
    holder["model"] = model
    reference = BagOfTokens()
    reference.load_state_dict(model.state_dict())
    reference.dropout.p = 0.0
    cfg = trainer_cfg(max_epochs=1, max_grad_norm=1.0e9)  # no clipping: the raw gradient
    data = TaskData(SPLITS, collate, cfg.batch_size, cfg.eval_batch_size, seed=7)
    fit(model, data, cfg, tmp_path / "extra", seed=7, extra_loss=penalty)

    first = EpochOrder(len(SPLITS["train"]), seed=7, epoch=0).order()[: cfg.batch_size * cfg.grad_accum_steps]
    task_losses = []
    for part in range(cfg.grad_accum_steps):
        batch = collate(
            [SPLITS["train"][i] for i in first[part * cfg.batch_size : (part + 1) * cfg.batch_size]]
        )
        logits = reference(batch["input_ids"], batch["attention_mask"])
        task_losses.append(torch.nn.functional.cross_entropy(logits, batch["labels"]))
    total = sum(task_losses) / len(task_losses) + lam * (reference.out.weight - anchor).pow(2).sum()
    total.backward()
    torch.testing.assert_close(seen["grad"], reference.out.weight.grad, rtol=1e-5, atol=1e-7)


def test_the_learning_rate_decays_linearly_to_zero_over_every_epochs_steps():
    """Paper 4.1: AdamW with a linear learning-rate decay; afuse starts at the full rate
    (warmup_ratio 0, the default) and reaches 0 after max_epochs of steps."""
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([weight], lr=1.0e-4)
    schedule = _linear_schedule(optimizer, warmup_steps=0, total_steps=8)
    rates = []
    for _ in range(8):
        rates.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    expected = [1.0e-4 * (8 - k) / 8 for k in range(8)]  # 1e-4, 0.875e-4, ..., 0.125e-4
    assert rates == pytest.approx(expected, rel=1e-9)
    assert schedule.get_last_lr()[0] == 0.0
