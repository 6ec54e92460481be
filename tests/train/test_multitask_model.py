"""MT-A with a real (tiny) encoder: gradient routing per task, and resume through the one loop."""

import os
import signal

import pytest
import torch
from datasets import Dataset
from omegaconf import OmegaConf
from transformers import BertConfig, BertModel

from afuse.modeling import AdapterSpec, AfuseModel
from afuse.train.loop import TaskData, fit
from afuse.train.multitask import MultiTaskData, MultiTaskModel
from afuse.train.signals import Preempted
from tests.from_conf import tiny_bert_settings

from .settings import trainer_cfg

TASKS = {
    "pairs": OmegaConf.create({"name": "pairs", "kind": "pair", "labels": ["a", "b"], "num_choices": None}),
    "choices": OmegaConf.create(
        {"name": "choices", "kind": "multiple_choice", "labels": None, "num_choices": 3}
    ),
    "triples": OmegaConf.create(
        {"name": "triples", "kind": "pair", "labels": ["x", "y", "z"], "num_choices": None}
    ),
}


def mt_model(seed=0):
    torch.manual_seed(seed)
    config = BertConfig(**tiny_bert_settings())
    model = AfuseModel(BertModel(config, add_pooling_layer=False), family="bert")
    for name, task in TASKS.items():
        model.add_adapter(name, AdapterSpec("pfeiffer", 4, "relu"))
        model.add_head(name, task)
    model.trainable_for("multitask")
    return model


def inputs(task, batch=4, length=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (batch, 3, length) if TASKS[task].kind == "multiple_choice" else (batch, length)
    ids = torch.randint(1, 60, shape, generator=g)
    classes = 3 if task in ("choices", "triples") else 2
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}, torch.randint(
        0, classes, (batch,), generator=g
    )


def grad_norms(module: torch.nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


@pytest.mark.parametrize("task", list(TASKS))
def test_a_batch_reaches_only_its_own_adapter_and_head_and_the_shared_encoder(task):
    model = mt_model()
    wrapper = MultiTaskModel(model)
    batch, labels = inputs(task)
    torch.nn.functional.cross_entropy(wrapper(task=task, **batch), labels).backward()
    for name in TASKS:
        own = name == task
        assert (grad_norms(model.adapters[name]) > 0) == own, name
        assert (grad_norms(model.heads[name]) > 0) == own, name
    assert grad_norms(model.encoder) > 0  # the encoder learns from every task


def test_adamw_leaves_other_tasks_untouched_over_a_sequence_of_batches():
    model = mt_model()
    wrapper = MultiTaskModel(model)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for step, task in enumerate(["pairs", "pairs", "choices"]):  # "triples" never sampled
        batch, labels = inputs(task, seed=step)
        torch.nn.functional.cross_entropy(wrapper(task=task, **batch), labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # None grads: AdamW skips those parameters entirely
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert not any(".triples." in n or n.startswith(("adapters.triples", "heads.triples")) for n in changed)
    assert any(n.startswith("heads.choices") for n in changed) and any(
        n.startswith("encoder.") for n in changed
    )


def task_data(task, n, seed):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        batch, label = inputs(task, batch=1, seed=int(torch.randint(0, 10**6, (1,), generator=g)))
        rows.append({"input_ids": batch["input_ids"][0].tolist(), "labels": int(label[0])})
    ds = Dataset.from_list(rows)

    def collate(features):
        ids = torch.tensor([f["input_ids"] for f in features])
        return {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "labels": torch.tensor([f["labels"] for f in features]),
        }

    return TaskData(
        {"train": ds, "validation": ds.select(range(8)), "test": ds.select(range(8, 16))},
        collate,
        batch_size=4,
        eval_batch_size=8,
        seed=5,
    )


def run_mt(tmp_path, name, extra_loss=None):
    data = MultiTaskData(
        {"pairs": task_data("pairs", 40, 1), "choices": task_data("choices", 24, 2)},
        "anneal",
        max_epochs=3,
        seed=5,
    )
    cfg = trainer_cfg(
        lr=5e-3,
        max_epochs=3,
        patience=5,
        batch_size=4,
        eval_batch_size=8,
        grad_accum_steps=1,
        warmup_ratio=0.0,
        log_every_steps=100,
    )
    return fit(MultiTaskModel(mt_model()), data, cfg, tmp_path / name, seed=5, extra_loss=extra_loss)


def test_multitask_resume_after_preemption_matches_uninterrupted(tmp_path):
    reference = run_mt(tmp_path, "reference")
    calls = {"n": 0}

    def preempt_mid_epoch_two():
        calls["n"] += 1
        if calls["n"] == 16 + 5:  # 16 batches per epoch
            os.kill(os.getpid(), signal.SIGUSR1)
        return torch.zeros(())

    with pytest.raises(Preempted):
        run_mt(tmp_path, "interrupted", extra_loss=preempt_mid_epoch_two)
    resumed = run_mt(tmp_path, "interrupted")
    assert resumed.history == reference.history
    assert resumed.test == reference.test
    assert set(reference.test["tasks"]) == {"pairs", "choices"}
    mean = sum(r["accuracy"] for r in reference.test["tasks"].values()) / 2
    assert reference.test["accuracy"] == pytest.approx(mean)  # model selection uses the task mean
