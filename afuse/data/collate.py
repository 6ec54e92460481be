"""Collator: pad a batch of tokenised examples (from load_tokenized) to its longest member.

Dynamic padding: a batch of short SST-2 sentences is not padded to max_length. Multiple-choice
examples hold one sequence per choice; they are padded to the longest choice of the whole batch
and returned as (batch, choices, length) tensors. `pad_to_multiple_of` rounds the length up (a
few static shapes for trainer.cuda_graphs; the attention mask hides the extra positions).
"""

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

# Sequence columns and their padding value (None: the tokenizer's pad token id).
PADDED_COLUMNS = {"input_ids": None, "attention_mask": 0, "token_type_ids": 0}


class Collator:
    def __init__(
        self, pad_token_id: int, multiple_choice: bool = False, pad_to_multiple_of: int | None = None
    ):
        if pad_token_id is None:
            raise ValueError("Collator needs the tokenizer's pad_token_id (got None)")
        self.pad_token_id = int(pad_token_id)
        self.multiple_choice = multiple_choice
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("Collator got an empty batch")
        batch = {}
        for column, pad_value in PADDED_COLUMNS.items():
            if column in features[0]:
                value = self.pad_token_id if pad_value is None else pad_value
                batch[column] = self._pad([feature[column] for feature in features], value)
        if "labels" in features[0]:
            batch["labels"] = torch.tensor([int(feature["labels"]) for feature in features], dtype=torch.long)
        return batch

    def _pad(self, sequences: list, value: int) -> torch.Tensor:
        if not self.multiple_choice:
            padded = pad_sequence(
                [torch.as_tensor(s, dtype=torch.long) for s in sequences],
                batch_first=True,
                padding_value=value,
            )
            return self._round_up(padded, value)
        num_choices = {len(example) for example in sequences}
        if len(num_choices) != 1:
            raise ValueError(
                f"multiple-choice examples in one batch have different numbers of choices: {num_choices}"
            )
        flat = [torch.as_tensor(choice, dtype=torch.long) for example in sequences for choice in example]
        padded = self._round_up(pad_sequence(flat, batch_first=True, padding_value=value), value)
        return padded.view(len(sequences), num_choices.pop(), padded.shape[-1])

    def _round_up(self, padded: torch.Tensor, value: int) -> torch.Tensor:
        if not self.pad_to_multiple_of:
            return padded
        extra = -padded.shape[-1] % self.pad_to_multiple_of
        return F.pad(padded, (0, extra), value=value) if extra else padded
