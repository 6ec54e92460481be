"""Length-sorted inference gives each example what it gets alone, unpadded, in the split's order."""

import datasets
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from afuse.config import task_config
from afuse.data import Collator
from afuse.inference.batching import infer, length_batches, token_counts
from afuse.modeling import AdapterSpec, AfuseModel, load_backbone
from afuse.paths import conf_dir


def test_length_batches_are_sorted_longest_first_and_cover_every_row():
    counts = np.array([3, 9, 1, 9, 5, 2, 7])
    batches = length_batches(counts, 3)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(7)) and len(batches) == 3
    assert [counts[i] for i in flat] == sorted(counts, reverse=True)
    assert flat[:2] == [1, 3]  # ties keep their order


@pytest.mark.parametrize("task", ["rte", "csqa"])
def test_batched_probabilities_equal_one_example_at_a_time(task, minilm_tokenizer):
    torch.manual_seed(0)
    task_cfg = task_config(task)
    encoder, tokenizer, _ = load_backbone(OmegaConf.load(conf_dir() / "model" / "tiny.yaml"))
    model = AfuseModel(encoder, family="bert")
    model.add_adapter(task, AdapterSpec("pfeiffer", 4, "relu"))
    torch.nn.init.normal_(model.adapters[task].at(1, "ffn").up.weight, std=0.5)
    model.add_head(task, task_cfg)
    model.set_active(adapter=task, head=task)
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "while", "dogs", "barked", "loudly"]

    def text():
        return " ".join(rng.choice(words, size=int(rng.integers(1, 30))))

    multiple = task_cfg.kind == "multiple_choice"
    features = []
    for _ in range(13):
        if multiple:
            encoded = [tokenizer(text(), text()) for _ in range(task_cfg.num_choices)]
            features.append(
                {k: [e[k] for e in encoded] for k in ("input_ids", "attention_mask", "token_type_ids")}
            )
        else:
            encoded = tokenizer(text(), text())
            features.append({k: encoded[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
        features[-1]["labels"] = int(rng.integers(0, 2))
    dataset = datasets.Dataset.from_list(features)
    collate = Collator(tokenizer.pad_token_id, multiple_choice=multiple)
    assert len(set(token_counts(dataset).tolist())) > 3  # lengths vary: the sort matters

    result = infer(model, dataset, collate, 4, torch.device("cpu"), progress=False)
    model.eval()
    with torch.no_grad():
        alone = np.stack(
            [
                model(**{k: v for k, v in collate([f]).items() if k != "labels"}).softmax(-1)[0].numpy()
                for f in features
            ]
        )
    np.testing.assert_allclose(result.probabilities, alone, atol=1e-5)
    logits = np.log(alone)
    labels = np.array([f["labels"] for f in features])
    assert result.loss == pytest.approx(-logits[np.arange(13), labels].mean(), rel=1e-4)


def test_token_counts_follow_a_subsample():
    """A run's subsampled split (data.max_test_examples / max_train_examples) is a `select` of the
    tokenised split: the counts must be those of the selected rows, in their order, not of the whole
    table underneath (which made `afuse evaluate` fail with an IndexError on such runs)."""
    lengths = [1, 5, 2, 9, 3, 7, 4]
    dataset = datasets.Dataset.from_dict({"input_ids": [[0] * n for n in lengths]})
    keep = [5, 1, 3]
    assert token_counts(dataset.select(keep)).tolist() == [lengths[i] for i in keep]
    choices = datasets.Dataset.from_dict({"input_ids": [[[0] * n, [0] * (n + 1)] for n in lengths]})
    assert token_counts(choices.select(keep)).tolist() == [lengths[i] + 1 for i in keep]
