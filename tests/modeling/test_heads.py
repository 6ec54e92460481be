"""Heads: shapes per task kind, multiple choice scores each choice independently."""

import pytest
import torch
from omegaconf import OmegaConf

from afuse.errors import ConfigError
from afuse.paths import conf_dir

from .conftest import batch, task, tiny_model


def test_classification_head_from_the_rte_config():
    model = tiny_model().eval()
    head = model.add_head("rte", OmegaConf.load(conf_dir() / "task" / "rte.yaml"))
    assert head.kind == "classification" and head.num_labels == 2
    model.set_active(head="rte")
    ids, mask = batch(b=4)
    assert model(ids, mask).shape == (4, 2)


def test_single_sentence_three_labels():
    model = tiny_model().eval()
    model.add_head("t", task("single", labels=["a", "b", "c"]))
    model.set_active(head="t")
    ids, mask = batch(b=2)
    assert model(ids, mask).shape == (2, 3)


@pytest.mark.parametrize("choices", [2, 3, 4, 5])
def test_multiple_choice_shapes_and_choice_independence(choices):
    model = tiny_model().eval()
    model.add_head("mc", task("multiple_choice", labels=None, num_choices=choices))
    model.set_active(head="mc")
    ids, mask = batch(b=2 * choices, length=7)
    ids, mask = ids.view(2, choices, 7), mask.view(2, choices, 7)
    logits = model(ids, mask, torch.zeros_like(ids))
    assert logits.shape == (2, choices)
    # Each choice is scored on its own: permuting the choices permutes the logits.
    perm = torch.randperm(choices, generator=torch.Generator().manual_seed(choices))
    torch.testing.assert_close(model(ids[:, perm], mask[:, perm]), logits[:, perm])


def test_head_reads_the_first_token_only():
    model = tiny_model().eval()
    head = model.add_head("t", task())
    width = model.encoder.config.hidden_size
    hidden = torch.randn(3, 6, width)
    changed = hidden.clone()
    changed[:, 1:] = torch.randn(3, 5, width)
    torch.testing.assert_close(head(hidden), head(changed))


def test_input_shape_must_fit_the_head():
    model = tiny_model().eval()
    model.add_head("mc", task("multiple_choice", labels=None, num_choices=3))
    model.set_active(head="mc")
    ids, mask = batch(b=3)
    with pytest.raises(ConfigError, match="multiple_choice"):
        model(ids, mask)
    with pytest.raises(ConfigError, match="num_choices"):
        model.add_head("bad", task("multiple_choice", labels=None, num_choices=None))
    with pytest.raises(ConfigError, match="kind"):
        model.add_head("bad", task("regression"))
