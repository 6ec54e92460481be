"""experiments/frozen_probe.py: the linear probe and the pooled features it reads."""

import torch

from experiments.frozen_probe import encode, probe_accuracy


def test_probe_reads_a_linearly_separable_label_and_not_a_random_one():
    generator = torch.Generator().manual_seed(0)
    train_x, test_x = torch.randn(400, 16, generator=generator), torch.randn(200, 16, generator=generator)
    readable = lambda x: (x[:, 3] - x[:, 7] > 0).long()  # noqa: E731
    assert probe_accuracy(train_x, readable(train_x), test_x, readable(test_x), 1e-3) > 0.95
    noise = torch.randint(0, 2, (400,), generator=generator), torch.randint(0, 2, (200,), generator=generator)
    assert abs(probe_accuracy(train_x, noise[0], test_x, noise[1], 1e-3) - 0.5) < 0.12


class Echo(torch.nn.Module):
    """An 'encoder' whose hidden state at each position is that token's id, three times."""

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        hidden = input_ids.float()[..., None].expand(-1, -1, 3)
        return type("Output", (), {"last_hidden_state": hidden})()


def test_mean_feature_leaves_out_padding():
    rows = [{"input_ids": [5, 7, 9], "labels": 1}, {"input_ids": [4, 8], "labels": 0}]

    def collate(batch):
        width = max(len(r["input_ids"]) for r in batch)
        ids = [r["input_ids"] + [0] * (width - len(r["input_ids"])) for r in batch]
        mask = [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in batch]
        labels = [r["labels"] for r in batch]
        return {
            "input_ids": torch.tensor(ids),
            "attention_mask": torch.tensor(mask),
            "labels": torch.tensor(labels),
        }

    first, mean, labels = encode(Echo(), rows, collate, batch_size=2)
    assert first[:, 0].tolist() == [5.0, 4.0]
    assert mean[:, 0].tolist() == [7.0, 6.0]  # (5+7+9)/3 and (4+8)/2, not (4+8+0)/3
    assert labels.tolist() == [1, 0]
