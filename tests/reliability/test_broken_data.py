"""Raw data that would train on a broken split stops before any training (exit 2, one line):
an empty train file, a train file without one of the labels, too many malformed rows, bytes that
are not UTF-8. A few malformed rows are left out, named with file and line, and the run goes on."""

import json
import re
import shutil
from pathlib import Path

import pytest

from .harness import run_afuse

ERROR = ": error: "


def raw_copy(shared_data: Path, root: Path, folder: str) -> Path:
    raw = root / "raw"
    shutil.copytree(shared_data / folder, raw / folder)
    for path in (raw / folder).rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)  # the shared copy may be read-only
    return raw


def settings(root: Path, raw: Path, task: str) -> list[str]:
    return [
        f"task={task}",
        "data.source=local",
        f"data.raw_dir={raw}",
        f"paths.data={root}/data",
        f"paths.logs={root}/logs",
        f"paths.runs={root}/runs",
        f"paths.results={root}/results",
    ]


def train_settings(root: Path, raw: Path, task: str) -> list[str]:
    return [*settings(root, raw, task), "model=tiny", "trainer.max_epochs=1", "data.max_train_examples=32"]


def corrupt_lines(path: Path, numbers, edit) -> None:
    """Rewrite lines `numbers` (1-based) of `path` as bytes with `edit`."""
    lines = path.read_bytes().split(b"\n")
    for number in numbers:
        lines[number - 1] = edit(lines[number - 1])
    path.write_bytes(b"\n".join(lines))


def only_error(out: str) -> str:
    errors = [line for line in out.splitlines() if ERROR in line]
    assert len(errors) == 1, out
    assert "Traceback" not in out, out
    return errors[0].split(ERROR, 1)[1]


def no_metrics(root: Path) -> None:
    assert not list(root.glob("runs/**/metrics.json"))


@pytest.mark.slow  # a child process, as a user runs it
def test_empty_train_file_stops_prepare_data_with_the_file_and_count(tmp_path, shared_data):
    raw = raw_copy(shared_data, tmp_path, "RTE")
    (raw / "RTE/superglue/train.jsonl").write_text("")
    result = run_afuse("prepare-data", settings(tmp_path, raw, "rte"), tmp_path)
    assert result.code == 2, result.out
    assert only_error(result.out).startswith(
        "task rte: not training on broken data: train is empty: RTE/superglue/train.jsonl gave 0 usable rows. "
    )


def test_empty_train_file_stops_train_adapter_before_training(tmp_path, shared_data, afuse_inproc):
    raw = raw_copy(shared_data, tmp_path, "RTE")
    (raw / "RTE/superglue/train.jsonl").write_text("")
    result = afuse_inproc("train-adapter", *train_settings(tmp_path, raw, "rte"))
    assert result.code == 2, result.out
    assert "train is empty: RTE/superglue/train.jsonl gave 0 usable rows" in only_error(result.out)
    assert "prepared train 0" not in result.out and "validation accuracy" not in result.out
    no_metrics(tmp_path)
    # The same error again on a rerun: the prepared copy is checked on reuse too.
    again = afuse_inproc("train-adapter", *train_settings(tmp_path, raw, "rte"))
    assert again.code == 2 and "train is empty" in only_error(again.out)
    no_metrics(tmp_path)


def test_train_file_without_one_label_is_refused(tmp_path, shared_data, afuse_inproc):
    raw = raw_copy(shared_data, tmp_path, "RTE")
    train = raw / "RTE/superglue/train.jsonl"
    lines = [line for line in train.read_text().splitlines() if json.loads(line)["label"] == "entailment"]
    train.write_text("\n".join(lines) + "\n")
    result = afuse_inproc("prepare-data", *settings(tmp_path, raw, "rte"))
    assert result.code == 2, result.out
    assert "train has no 'not_entailment' rows (entailment 1124, not_entailment 0)" in only_error(result.out)


def test_one_undecodable_row_in_rte_is_left_out_with_file_and_line(tmp_path, shared_data, afuse_inproc):
    raw = raw_copy(shared_data, tmp_path, "RTE")
    corrupt_lines(
        raw / "RTE/superglue/train.jsonl",
        [10],
        lambda line: line.replace(b'"premise": "', b'"premise": "\xff\xfe', 1),
    )
    result = afuse_inproc("prepare-data", *settings(tmp_path, raw, "rte"))
    assert result.code == 0, result.out
    assert (
        "rte: 1 malformed row(s) in RTE/superglue/train.jsonl left out (listed in manifest.json); "
        "first at 10: invalid UTF-8 (bytes 0xff 0xfe); re-save the file as UTF-8"
    ) in result.out
    manifest = json.loads((tmp_path / "data/prepared/rte/manifest.json").read_text())
    assert manifest["official_splits"]["train"]["rows"] == 2489
    assert manifest["malformed"]["files"]["RTE/superglue/train.jsonl"]["examples"] == [
        {"position": "10", "reason": "invalid UTF-8 (bytes 0xff 0xfe); re-save the file as UTF-8"}
    ]


def test_many_undecodable_rows_in_sst2_stop_with_counts_and_first_lines(tmp_path, shared_data, afuse_inproc):
    raw = raw_copy(shared_data, tmp_path, "SST-2")
    # 1,000 of 67,349 rows (1.5%); line 1 is the header
    corrupt_lines(raw / "SST-2/train.tsv", range(2, 1002), lambda line: b"\xff\xfe" + line)
    result = afuse_inproc("train-adapter", *train_settings(tmp_path, raw, "sst2"))
    assert result.code == 2, result.out
    assert (
        "SST-2/train.tsv: 1000 of 67349 rows malformed (1.5% > data.max_malformed_fraction=0.01), "
        "first at lines 2, 3, 4: invalid UTF-8 (bytes 0xff 0xfe); re-save the file as UTF-8. "
    ) in only_error(result.out)  # one reason is said once for the rows it stopped
    no_metrics(tmp_path)
    manifest = json.loads((tmp_path / "data/prepared/sst2/manifest.json").read_text())
    listed = manifest["malformed"]["files"]["SST-2/train.tsv"]
    assert listed["count"] == 1000 and listed["rows"] == 67349
    assert [row["position"] for row in listed["examples"]] == [str(n) for n in range(2, 1002)]
    assert "left out" not in result.out  # the error is the one line: no rows were "left out" of a run
    # The limit the message offers, when the user accepts the loss, lets the same data through.
    offered = re.search(r"or accept these losses with (data\.max_malformed_fraction=[0-9.]+) ", result.out)
    assert offered and offered.group(1) == "data.max_malformed_fraction=0.02", result.out
    accepted = afuse_inproc("prepare-data", *settings(tmp_path, raw, "sst2"), offered.group(1))
    assert accepted.code == 0, accepted.out
