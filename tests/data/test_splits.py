"""Carving our splits: seeded, stratified, exact sizes, declared rules."""

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from afuse.data.splits import CarveRule, carve_splits, stratified_mask
from afuse.errors import ConfigError

SPLIT_SETTINGS = OmegaConf.create(
    {"split_seed": 42, "validation_fraction": 0.1, "validation_max_examples": 2000}
)


def frame(labels) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"r{i}" for i in range(len(labels))], "text_a": "t", "text_b": None,
                         "choices": None, "label": labels})  # fmt: skip


def test_stratified_mask_takes_exactly_the_size_in_label_proportion():
    labels = np.array([0] * 700 + [1] * 200 + [2] * 100)
    mask = stratified_mask(labels, 100, np.random.default_rng(0))
    assert mask.sum() == 100
    assert np.bincount(labels[mask]).tolist() == [70, 20, 10]


def test_stratified_mask_is_seeded():
    labels = np.arange(1000) % 3
    first = stratified_mask(labels, 50, np.random.default_rng([42, 0]))
    assert np.array_equal(first, stratified_mask(labels, 50, np.random.default_rng([42, 0])))
    assert not np.array_equal(first, stratified_mask(labels, 50, np.random.default_rng([43, 0])))


@pytest.mark.parametrize(("fraction", "max_examples", "available", "expected"),
                         [(0.1, 2000, 2490, 249), (0.1, 2000, 67349, 2000), (0.1, None, 5, 1), (0.7, None, 10, 7),
                          (0.1, None, 1, 0), (0.99, None, 3, 2)])  # fmt: skip
def test_carve_rule_sizes(fraction, max_examples, available, expected):
    assert CarveRule("validation", "train", fraction, max_examples).size(available) == expected


def test_validation_is_carved_from_train_and_test_left_alone():
    official = {"train": frame([0, 1] * 50), "test": frame([0, 1, 1])}
    splits, carving = carve_splits(official, None, SPLIT_SETTINGS, "t")
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [90, 10, 3]
    assert set(splits["train"].id).isdisjoint(splits["validation"].id)
    assert splits["validation"].label.value_counts().to_dict() == {0: 5, 1: 5}
    assert carving == [{"split": "validation", "from": "train", "rule": "seeded stratified by label",
                        "fraction": 0.1, "max_examples": 2000, "seed": 42, "from_rows": 100, "rows": 10}]  # fmt: skip


def test_declared_carving_runs_before_validation():
    official = {"test": frame([0, 1] * 50)}
    carve_cfg = OmegaConf.create({"train": {"from": "test", "fraction": 0.7}})
    splits, carving = carve_splits(official, carve_cfg, SPLIT_SETTINGS, "t")
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [63, 7, 30]
    assert [(c["split"], c["from"]) for c in carving] == [("train", "test"), ("validation", "train")]


def test_an_official_validation_split_is_kept():
    official = {"train": frame([0, 1] * 5), "validation": frame([0, 1]), "test": frame([1])}
    splits, carving = carve_splits(official, None, SPLIT_SETTINGS, "t")
    assert carving == [] and len(splits["validation"]) == 2


def test_bad_carve_config_says_what_it_should_look_like():
    with pytest.raises(ConfigError, match=r"carve.train must look like `\{from: <split>, fraction: 0.7\}`"):
        carve_splits(
            {"test": frame([0])}, OmegaConf.create({"train": {"fraction": 0.7}}), SPLIT_SETTINGS, "t"
        )
    with pytest.raises(ConfigError, match="no 'train' split to carve validation from"):
        carve_splits({"test": frame([0])}, None, SPLIT_SETTINGS, "t")
