"""Collator: dynamic padding for pair and multiple-choice batches."""

import pytest
import torch

from afuse.data import Collator, load_tokenized

PAD = 0


def test_pair_batch_is_padded_to_its_longest_member():
    features = [{"input_ids": [101, 7, 102], "attention_mask": [1, 1, 1], "token_type_ids": [0, 0, 0], "labels": 1},
                {"input_ids": [101, 7, 8, 9, 102], "attention_mask": [1] * 5, "token_type_ids": [0, 0, 1, 1, 1],
                 "labels": 0}]  # fmt: skip
    batch = Collator(pad_token_id=PAD)(features)
    assert {k: tuple(v.shape) for k, v in batch.items()} == {
        "input_ids": (2, 5), "attention_mask": (2, 5), "token_type_ids": (2, 5), "labels": (2,)
    }  # fmt: skip
    assert batch["input_ids"][0].tolist() == [101, 7, 102, PAD, PAD]
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 0, 0]
    assert batch["labels"].tolist() == [1, 0] and batch["labels"].dtype == torch.long


def test_pad_token_id_is_used_for_input_ids_only():
    batch = Collator(pad_token_id=1)(
        [{"input_ids": [5], "attention_mask": [1]}, {"input_ids": [5, 6], "attention_mask": [1, 1]}]
    )
    assert batch["input_ids"].tolist() == [[5, 1], [5, 6]] and batch["attention_mask"].tolist() == [
        [1, 0],
        [1, 1],
    ]
    assert "labels" not in batch


def test_multiple_choice_batch_is_batch_by_choices_by_longest():
    features = [{"input_ids": [[1, 2], [1, 2, 3], [1]], "attention_mask": [[1, 1], [1, 1, 1], [1]], "labels": 2},
                {"input_ids": [[1, 2, 3, 4], [1], [1, 2]], "attention_mask": [[1] * 4, [1], [1, 1]], "labels": 0}]  # fmt: skip
    batch = Collator(pad_token_id=PAD, multiple_choice=True)(features)
    assert tuple(batch["input_ids"].shape) == (2, 3, 4)
    assert batch["input_ids"][0].tolist() == [[1, 2, 0, 0], [1, 2, 3, 0], [1, 0, 0, 0]]
    assert batch["attention_mask"][1].sum(dim=-1).tolist() == [4, 1, 2]


def test_multiple_choice_rejects_ragged_choice_counts_and_empty_batches():
    collate = Collator(pad_token_id=PAD, multiple_choice=True)
    with pytest.raises(ValueError, match="different numbers of choices"):
        collate([{"input_ids": [[1], [1]]}, {"input_ids": [[1]]}])
    with pytest.raises(ValueError, match="empty batch"):
        collate([])


@pytest.mark.parametrize("task", ["rte", "csqa"])
def test_collates_load_tokenized_output(task, task_cfg, data_cfg, paths_cfg, minilm_tokenizer):
    test = load_tokenized(task_cfg(task), data_cfg(), paths_cfg, minilm_tokenizer, "minilm")["test"]
    multiple_choice = task == "csqa"
    sequences = [seq for example in test["input_ids"] for seq in (example if multiple_choice else [example])]
    batch = Collator(minilm_tokenizer.pad_token_id, multiple_choice)([test[i] for i in range(len(test))])
    longest = max(len(seq) for seq in sequences)
    assert tuple(batch["input_ids"].shape) == (
        (len(test), 5, longest) if multiple_choice else (len(test), longest)
    )
    assert batch["attention_mask"].sum().item() == sum(len(seq) for seq in sequences)
    assert (batch["input_ids"][batch["attention_mask"] == 0] == minilm_tokenizer.pad_token_id).all()


def test_pad_to_multiple_of_rounds_every_column_up_and_masks_the_extra_positions():
    features = [{"input_ids": [101, 7, 102], "attention_mask": [1, 1, 1], "token_type_ids": [0, 1, 1], "labels": 1},
                {"input_ids": [101] * 33, "attention_mask": [1] * 33, "token_type_ids": [0] * 33, "labels": 0}]  # fmt: skip
    short = Collator(pad_token_id=3, pad_to_multiple_of=32)(features[:1])
    assert short["input_ids"].tolist() == [[101, 7, 102] + [3] * 29]
    assert short["attention_mask"].sum().item() == 3 and short["token_type_ids"].tolist() == [
        [0, 1, 1] + [0] * 29
    ]
    both = Collator(pad_token_id=3, pad_to_multiple_of=32)(features)
    assert {tuple(v.shape) for k, v in both.items() if k != "labels"} == {(2, 64)}
    choices = Collator(pad_token_id=3, multiple_choice=True, pad_to_multiple_of=8)(
        [{"input_ids": [[1, 2], [1, 2, 3]], "attention_mask": [[1, 1], [1, 1, 1]], "labels": 0}]
    )
    assert (
        tuple(choices["input_ids"].shape) == (1, 2, 8)
        and choices["input_ids"][0, 0].tolist() == [1, 2] + [3] * 6
    )
