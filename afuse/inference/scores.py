"""Classification scores from gold and predicted label ids: what `afuse evaluate` reports.

The confusion matrix has gold labels as rows and predictions as columns. Precision of a class no
row was predicted as is undefined: it is reported as null (JSON), and its F1 as null too, rather
than a 0 that would read as a measured failure.
"""

import numpy as np


def confusion_matrix(gold: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    gold, predicted = np.asarray(gold, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    return np.bincount(gold * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def per_class(matrix: np.ndarray, names: list[str]) -> dict[str, dict]:
    scores = {}
    for i, name in enumerate(names):
        true_positive = int(matrix[i, i])
        precision = _ratio(true_positive, int(matrix[:, i].sum()))
        recall = _ratio(true_positive, int(matrix[i, :].sum()))
        f1 = _f1(precision, recall)
        scores[name] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": int(matrix[i, :].sum()),
            "predicted": int(matrix[:, i].sum()),
        }
    return scores


def classification_scores(gold, predicted, names: list[str]) -> dict:
    """accuracy, majority_rate, n, per_class {name: precision, recall, f1, support}, macro_f1,
    confusion_matrix {labels, matrix (gold rows x predicted columns)}."""
    matrix = confusion_matrix(gold, predicted, len(names))
    n = int(matrix.sum())
    classes = per_class(matrix, names)
    f1s = [c["f1"] for c in classes.values() if c["support"]]
    return {
        "accuracy": float(np.trace(matrix)) / n if n else float("nan"),
        "n": n,
        "majority_rate": float(matrix.sum(1).max()) / n if n else float("nan"),
        "per_class": classes,
        "macro_f1": float(np.mean([f or 0.0 for f in f1s])) if f1s else None,
        "confusion_matrix": {"labels": list(names), "matrix": matrix.tolist()},
    }
