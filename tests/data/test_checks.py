"""The broken-data refusal offers a raised data.max_malformed_fraction only where accepting the
losses makes sense: a few bad rows, not a file whose reading rules are wrong."""

from pathlib import Path

import pytest

from afuse.data.checks import BrokenDataError, check_prepared


def manifest(malformed: dict[str, tuple[int, int]], reasons: tuple[str, ...] = ("no label",)) -> dict:
    """A prepared classification task with good splits and the given (bad, rows) per source file,
    its first malformed rows (lines 7, 8, ...) stopped for `reasons`."""
    split = {"rows": 100, "from": "train.jsonl", "label_distribution": {"no": 50, "yes": 50}}
    return {
        "task": "mine",
        "kind": "single",
        "splits": {name: dict(split) for name in ("train", "validation", "test")},
        "official_splits": {"train": {"rows": 100}},
        "malformed": {
            "files": {
                file: {
                    "count": bad,
                    "rows": rows,
                    "examples": [{"position": str(7 + i), "reason": r} for i, r in enumerate(reasons)],
                }
                for file, (bad, rows) in malformed.items()
            }
        },
    }


def refusal(malformed: dict[str, tuple[int, int]], limit: float = 0.01) -> str:
    with pytest.raises(BrokenDataError) as error:
        check_prepared(manifest(malformed), Path("/data/prepared/mine"), limit)
    return str(error.value)


def test_a_few_bad_rows_offer_the_limit_that_accepts_every_files_losses():
    message = refusal({"train.jsonl": (3, 200), "val.jsonl": (1, 40)})  # 1.5% and 2.5%
    assert "or accept these losses with data.max_malformed_fraction=0.03 " in message
    check_prepared(manifest({"train.jsonl": (3, 200), "val.jsonl": (1, 40)}), Path("/p"), 0.03)  # accepted


def test_a_file_mostly_malformed_or_another_problem_gets_no_offer():
    assert "accept these losses" not in refusal({"train.jsonl": (150, 200)})  # wrong format or fields
    broken = manifest({"train.jsonl": (3, 200)})
    broken["splits"]["train"]["label_distribution"] = {"no": 100, "yes": 0}
    with pytest.raises(BrokenDataError) as error:
        check_prepared(broken, Path("/p"), 0.01)
    assert "train has no 'yes' rows" in str(error.value) and "accept these losses" not in str(error.value)


def test_rows_stopped_for_one_reason_are_named_in_one_clause_and_labels_get_the_alias_hint():
    # A new task's labels spelt otherwise ("1" for good) make every row malformed alike: the
    # message said the same reason three times and not how to map the spelling.
    unknown = "unknown label '1'; expected one of ['bad', 'good']"
    with pytest.raises(BrokenDataError) as error:
        check_prepared(manifest({"train.jsonl": (200, 200)}, (unknown,) * 3), Path("/p"), 0.01)
    message = str(error.value)
    assert f"first at lines 7, 8, 9: {unknown}" in message and message.count(unknown) == 1
    assert "local.label_aliases in its task config" in message
    with pytest.raises(BrokenDataError) as error:
        check_prepared(manifest({"train.jsonl": (200, 200)}, ("a", "b", "a")), Path("/p"), 0.01)
    assert "first at lines 7, 9: a; line 8: b" in str(error.value)
    assert "label_aliases" not in str(error.value)
