"""`afuse evaluate file=<path>`: the task's raw format or a layout described on the command line."""

import json

import pandas as pd

from tests.inference.conftest import afuse, checksums


def evaluation(run, name: str) -> tuple[dict, pd.DataFrame]:
    folder = run / "eval" / name
    return json.loads((folder / "metrics.json").read_text()), pd.read_parquet(folder / "predictions.parquet")


def test_a_reordered_headerless_crlf_copy_scores_like_the_original(run_tree, shared_data, tmp_path):
    run = run_tree.run("st_a")
    original = shared_data / "CB" / "val.jsonl"  # CB's own raw format: the run's test split
    rows = [json.loads(line) for line in original.read_text().splitlines() if line.strip()]
    # label first, the hypothesis before the premise, no header, CRLF line ends
    copy = tmp_path / "cb_copy.tsv"
    copy.write_bytes("".join(f"{r['label']}\t{r['hypothesis']}\t{r['premise']}\r\n" for r in rows).encode())
    before = checksums(run)
    afuse("evaluate", f"run={run}", f"file={original}", *run_tree.eval_args())
    afuse(
        "evaluate",
        f"run={run}",
        f"file={copy}",
        "file.header=false",
        "file.columns=[label,hypothesis,premise]",
        *run_tree.eval_args(),
    )
    afuse("evaluate", f"run={run}", *run_tree.eval_args())
    assert checksums(run) == before

    by_file, predictions = evaluation(run, "val")
    by_copy, copy_predictions = evaluation(run, "cb_copy")
    by_split, _ = evaluation(run, "test")
    assert by_file["rows"] == {"read": 56, "used": 56, "malformed": {"count": 0, "examples": []}}
    assert by_copy["n"] == by_file["n"] == by_split["n"] == 56
    assert by_copy["accuracy"] == by_file["accuracy"] == by_split["accuracy"]
    assert by_copy["confusion_matrix"] == by_file["confusion_matrix"]
    assert list(copy_predictions["predicted"]) == list(predictions["predicted"])
    assert list(copy_predictions["gold"]) == list(predictions["gold"])
    assert by_file["source"]["format"] == "jsonl" and by_copy["source"]["format"] == "tsv"
    assert by_copy["source"]["sha256"] != by_file["source"]["sha256"]


def test_malformed_rows_are_counted_not_dropped_silently(run_tree, shared_data, tmp_path):
    run = run_tree.run("head")
    lines = (shared_data / "CB" / "val.jsonl").read_text().splitlines()[:10]
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        "\n".join([*lines[:5], "{not json", lines[5].replace('"label": "', '"label": "x'), *lines[6:]]) + "\n"
    )
    afuse("evaluate", f"run={run}", f"file={broken}", *run_tree.eval_args())
    result, predictions = evaluation(run, "broken")
    assert result["rows"]["read"] == 11 and result["rows"]["used"] == 9
    assert result["rows"]["malformed"]["count"] == 2
    reasons = " ".join(e["reason"] for e in result["rows"]["malformed"]["examples"])
    assert "invalid JSON" in reasons and "unknown label" in reasons
    assert len(predictions) == 9
