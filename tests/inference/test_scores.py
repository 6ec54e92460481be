"""Classification scores against a direct count over the examples (an independent reference)."""

import numpy as np
import pytest

from afuse.inference.scores import classification_scores


def reference(gold, predicted, k):
    """Precision / recall / F1 per class by counting example by example."""
    rows = {}
    for c in range(k):
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == c and p != c)
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        f1 = (
            None
            if precision is None or recall is None
            else (2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
        )
        rows[c] = (precision, recall, f1, tp + fn)
    return rows


@pytest.mark.parametrize("seed", range(5))
def test_scores_match_a_direct_count(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 5))
    gold = rng.integers(0, k, size=int(rng.integers(1, 60)))
    predicted = np.where(rng.random(len(gold)) < 0.6, gold, rng.integers(0, k, size=len(gold)))
    names = [f"c{i}" for i in range(k)]
    scores = classification_scores(gold, predicted, names)
    assert scores["accuracy"] == pytest.approx(np.mean(gold == predicted))
    assert scores["majority_rate"] == pytest.approx(np.bincount(gold, minlength=k).max() / len(gold))
    for c, (precision, recall, f1, support) in reference(gold.tolist(), predicted.tolist(), k).items():
        row = scores["per_class"][names[c]]
        assert row["support"] == support
        for key, value in (("precision", precision), ("recall", recall), ("f1", f1)):
            assert row[key] == (None if value is None else pytest.approx(value))
    matrix = np.array(scores["confusion_matrix"]["matrix"])
    for g, p in zip(gold, predicted, strict=True):
        matrix[g, p] -= 1
    assert not matrix.any()


def test_a_class_never_predicted_has_no_precision():
    scores = classification_scores([0, 1, 1], [1, 1, 1], ["a", "b"])
    assert scores["per_class"]["a"] == {
        "precision": None,
        "recall": 0.0,
        "f1": None,
        "support": 1,
        "predicted": 0,
    }
    assert scores["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
