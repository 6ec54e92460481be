"""MT-A task sampling: the alpha schedule, empirical task frequencies, and resumable batch order."""

import pytest
import torch
from datasets import Dataset

from afuse.errors import ConfigError
from afuse.train.loop import TaskData
from afuse.train.multitask import MultiTaskData, sampling_alpha, task_probabilities


def test_anneal_alpha_runs_from_one_to_point_two():
    assert sampling_alpha("anneal", 1, 11) == pytest.approx(1.0)
    assert sampling_alpha("anneal", 6, 11) == pytest.approx(0.6)
    assert sampling_alpha("anneal", 11, 11) == pytest.approx(0.2)
    assert sampling_alpha("anneal", 1, 1) == 1.0
    assert [sampling_alpha(r, 3, 5) for r in ("prop", "sqrt", "uniform")] == [1.0, 0.5, 0.0]
    with pytest.raises(ConfigError, match="anneal, prop, sqrt, uniform"):
        sampling_alpha("temperature", 1, 3)


def test_probabilities_follow_size_to_the_alpha():
    probs = task_probabilities({"a": 100, "b": 400}, 0.5)  # sqrt: 10 : 20
    assert probs == pytest.approx({"a": 1 / 3, "b": 2 / 3})


def _task(n, seed):
    ids = torch.arange(n).unsqueeze(1).tolist()
    ds = Dataset.from_dict({"input_ids": ids, "labels": [0] * n})

    def collate(features):
        return {
            "input_ids": torch.tensor([f["input_ids"] for f in features]),
            "labels": torch.tensor([f["labels"] for f in features]),
        }

    return TaskData({"train": ds}, collate, batch_size=4, eval_batch_size=4, seed=seed)


def make_data(sampling="anneal", epochs=5, seed=3):
    tasks = {"big": _task(900, 1), "mid": _task(300, 1), "small": _task(40, 1)}
    return MultiTaskData(tasks, sampling, epochs, seed=seed)


@pytest.mark.parametrize("sampling,epoch", [("prop", 0), ("sqrt", 2), ("uniform", 1), ("anneal", 4)])
def test_empirical_frequencies_match_the_rule(sampling, epoch):
    expected = make_data(sampling).probabilities(epoch)
    # The real schedules of this epoch under 10 run seeds: 3100 draws.
    draws = [t for seed in range(10) for t in make_data(sampling, seed=seed).schedule(epoch)]
    n = len(draws)
    chi2 = sum((draws.count(t) - n * p) ** 2 / (n * p) for t, p in expected.items())
    assert chi2 < 13.8, (chi2, expected)  # 2 degrees of freedom: 13.8 is the 0.1% level
    for task, p in expected.items():  # and each frequency within 4 standard errors
        assert abs(draws.count(task) / n - p) < 4 * (p * (1 - p) / n) ** 0.5, task


def test_anneal_flattens_the_distribution_over_epochs():
    data = make_data("anneal", epochs=5)
    first, last = data.probabilities(0), data.probabilities(4)
    assert first["small"] < last["small"] and first["big"] > last["big"]
    assert first["big"] == pytest.approx(900 / 1240)


def test_batches_resume_midway_in_the_same_order():
    data = make_data()
    full = [(b["task"], b["input_ids"].tolist()) for b in data.batches(epoch=2)]
    resumed = [(b["task"], b["input_ids"].tolist()) for b in make_data().batches(epoch=2, start=37)]
    assert resumed == full[37:]
    assert len(full) == data.num_batches(2) == 225 + 75 + 10
    assert {t for t, _ in full} == {"big", "mid", "small"}
