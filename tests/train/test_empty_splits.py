"""The loop refuses to start on an empty train or validation split (a run that "finishes" having
learnt nothing), before it touches the model or the run directory."""

import pytest
import torch
from datasets import Dataset

from afuse.errors import AfuseError
from afuse.train.loop import TaskData, fit
from afuse.train.multitask import MultiTaskData

from .settings import trainer_cfg


def split(n: int) -> Dataset:
    return Dataset.from_dict({"input_ids": [[1, 2, 3]] * n, "labels": [i % 2 for i in range(n)]})


def task_data(train: int, validation: int) -> TaskData:
    splits = {"train": split(train), "validation": split(validation), "test": split(4)}
    return TaskData(splits, collate=None, batch_size=2, eval_batch_size=2, seed=1)


class Untouchable(torch.nn.Module):
    """Any use of the model (moving it, asking for its parameters) fails the test."""

    def to(self, *args, **kwargs):
        raise AssertionError("the loop used the model before refusing the data")

    def named_parameters(self, *args, **kwargs):
        raise AssertionError("the loop used the model before refusing the data")


@pytest.mark.parametrize(
    ("train", "validation", "named"),
    [(0, 4, "the train split"), (8, 0, "the validation split"), (0, 0, "the train and validation split")],
)
def test_fit_refuses_an_empty_split(train, validation, named, tmp_path):
    with pytest.raises(AfuseError) as error:
        fit(Untouchable(), task_data(train, validation), trainer_cfg(), tmp_path / "run", seed=1)
    assert str(error.value).startswith(f"nothing to train on: {named}(s) have 0 rows; ")
    assert error.value.exit_code == 2
    assert not (tmp_path / "run").exists()


def test_multitask_names_the_task_whose_split_is_empty(tmp_path):
    data = MultiTaskData({"rte": task_data(8, 4), "cb": task_data(0, 4)}, "anneal", max_epochs=2, seed=1)
    with pytest.raises(AfuseError, match=r"^nothing to train on: the cb train split\(s\) have 0 rows"):
        fit(Untouchable(), data, trainer_cfg(), tmp_path / "run", seed=1)
