"""Which prepared data a run read (metrics.json's prepared_data), and whether the copy under
paths.data still holds it: what `afuse status` calls "trained on other data"."""

from datetime import UTC, datetime

from afuse.atomic import atomic_write_json
from afuse.data_record import changed_data, data_change_note, edited_raw_files, prepared_record

SPLITS = {"train": "a" * 64, "validation": "b" * 64, "test": "c" * 64}


def manifest(root, task, fingerprint="f1", **sha256):
    folder = root / "data" / "prepared" / task
    folder.mkdir(parents=True, exist_ok=True)
    splits = {split: {"file": f"{split}.parquet", "rows": 3, "sha256": sha256.get(split, value)}
              for split, value in SPLITS.items()}  # fmt: skip
    written = {"fingerprint": fingerprint, "splits": splits, "task": task}
    atomic_write_json(folder / "manifest.json", written)  # replaced whole, as afuse.data.prepare does
    return written


def test_the_record_is_the_manifests_settings_and_files(tmp_path):
    assert prepared_record(manifest(tmp_path, "rte")) == {"fingerprint": "f1", "sha256": SPLITS}


def test_a_copy_prepared_again_with_the_same_settings_and_other_files_is_other_data(tmp_path):
    metrics = {"prepared_data": {"rte": prepared_record(manifest(tmp_path, "rte"))}}
    data = tmp_path / "data"
    assert changed_data(metrics, data) == []
    manifest(tmp_path, "rte", train="d" * 64, test="e" * 64)  # raw files edited, prepared again
    assert changed_data(metrics, data) == ["rte (train, test)"]


def test_what_cannot_be_compared_is_not_called_changed(tmp_path):
    record = prepared_record(manifest(tmp_path, "rte"))
    data = tmp_path / "data"
    manifest(tmp_path, "rte", fingerprint="f2", train="d" * 64)  # another preset's split settings
    assert changed_data({"prepared_data": {"rte": record}}, data) == []  # a retrain prepares its own
    assert changed_data({"prepared_data": {"cb": record}}, data) == []  # not prepared here
    (data / "prepared" / "rte" / "manifest.json").write_text("{half written")
    assert changed_data({"prepared_data": {"rte": record}}, data) == []
    assert changed_data({"test": {"accuracy": 0.5}}, data) == []  # a record from before the field
    assert changed_data({"prepared_data": "junk"}, data) == []


def test_every_task_of_a_multitask_run_is_compared(tmp_path):
    metrics = {"prepared_data": {t: prepared_record(manifest(tmp_path, t)) for t in ("rte", "cb", "mrpc")}}
    manifest(tmp_path, "cb", validation="d" * 64)
    manifest(tmp_path, "rte", test="d" * 64)
    assert changed_data(metrics, tmp_path / "data") == ["cb (validation)", "rte (test)"]


def test_recorded_split_reads_the_runs_split_file_checksum_and_nothing_else():
    from afuse.data_record import recorded_split

    metrics = {"prepared_data": {"rte": {"fingerprint": "f", "sha256": {"test": "abc", "train": "def"}}}}
    assert recorded_split(metrics, "rte", "test") == "abc"
    assert recorded_split(metrics, "cb", "test") is None  # another task's run
    assert recorded_split(metrics, "rte", "validation") is None
    for older in ({}, None, {"prepared_data": None}, {"prepared_data": {"rte": "damaged"}}):
        assert recorded_split(older, "rte", "test") is None


# --- raw files edited since the copy was prepared, not prepared again yet -----------------------


def raw_manifest(root, raw_files: dict, source="local"):
    """A prepared copy of rte made from `raw_files` ({name: bytes}) under root/raw, as prepare
    records them, prepared a minute after they were written."""
    import hashlib
    import os
    import time

    raw = root / "raw"
    entries = []
    for name, content in raw_files.items():
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_bytes(content)
        os.utime(raw / name, (time.time() - 60, time.time() - 60))
        entries.append({"path": name, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)})
    written = manifest(root, "rte")
    written |= {"source": source, "raw_dir": str(raw), "source_files": entries}
    written["prepared_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write_json(root / "data" / "prepared" / "rte" / "manifest.json", written)
    return {"prepared_data": {"rte": prepared_record(written)}}


RAW = {
    "RTE/train.tsv": b"id\ttext\tlabel\n1\ta\tentailment\n",
    "RTE/dev.tsv": b"id\ttext\tlabel\n2\tb\tnot\n",
}


def test_a_raw_file_edited_since_its_preparation_is_other_data(tmp_path):
    """A finished run is skipped whatever its raw files hold: with the raw files edited and no
    command run since to prepare them again, status said done and a rerun skipped it."""
    metrics = raw_manifest(tmp_path, RAW)
    data = tmp_path / "data"
    assert edited_raw_files(metrics, data) == [] and data_change_note(metrics, data) is None
    train = tmp_path / "raw" / "RTE" / "train.tsv"
    train.write_bytes(RAW["RTE/train.tsv"].replace(b"entailment", b"not_entail"))  # same size, now
    assert edited_raw_files(metrics, data) == ["rte (RTE/train.tsv)"]
    note = data_change_note(metrics, data)
    assert note == (
        "trained on other data: its task's raw files changed since they were prepared: rte (RTE/train.tsv) "
        "(the next training command prepares them again)"
    )


def test_a_raw_file_of_another_size_or_missing_differs_whatever_its_time(tmp_path):
    import os

    metrics = raw_manifest(tmp_path, RAW)
    train, dev = tmp_path / "raw" / "RTE" / "train.tsv", tmp_path / "raw" / "RTE" / "dev.tsv"
    stat = train.stat()
    train.write_bytes(RAW["RTE/train.tsv"] + b"3\tc\tentailment\n")
    os.utime(train, (stat.st_atime, stat.st_mtime))  # mtime kept (cp -p, rsync -t)
    assert edited_raw_files(metrics, tmp_path / "data") == ["rte (RTE/train.tsv)"]
    dev.unlink()
    assert edited_raw_files(metrics, tmp_path / "data") == ["rte (RTE/train.tsv, RTE/dev.tsv)"]


def test_raw_files_rewritten_unchanged_moved_away_or_from_the_hub_are_not_called_edited(tmp_path):
    import shutil

    metrics = raw_manifest(tmp_path, RAW)
    data = tmp_path / "data"
    for name, content in RAW.items():
        (tmp_path / "raw" / name).write_bytes(content)  # copied again (cp without -p): hashed, same
    assert edited_raw_files(metrics, data) == []
    shutil.rmtree(tmp_path / "raw")  # the runs and their data taken to another machine
    assert edited_raw_files(metrics, data) == []
    hub = raw_manifest(tmp_path / "hub", RAW, source="hub")
    (tmp_path / "hub" / "raw" / "RTE" / "train.tsv").write_bytes(b"other")
    assert edited_raw_files(hub, tmp_path / "hub" / "data") == []


def test_a_copy_prepared_again_is_not_reported_twice(tmp_path):
    metrics = raw_manifest(tmp_path, RAW)
    (tmp_path / "raw" / "RTE" / "train.tsv").write_bytes(b"edited and prepared again")
    manifest(tmp_path, "rte", train="d" * 64)  # what the run read is gone: changed_data's case
    assert edited_raw_files(metrics, tmp_path / "data") == []
    assert data_change_note(metrics, tmp_path / "data").endswith("from other raw files: rte (train)")


def test_a_raw_file_status_cannot_read_is_left_to_the_next_preparation(tmp_path, monkeypatch):
    """status only reads: an unreadable raw file (permissions) must not end it in a traceback."""
    from afuse import data_record

    metrics = raw_manifest(tmp_path, RAW)
    (tmp_path / "raw" / "RTE" / "train.tsv").write_bytes(RAW["RTE/train.tsv"])  # written after: hashed

    def unreadable(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(data_record, "open", unreadable, raising=False)  # as chmod 0 for a non-root user
    assert edited_raw_files(metrics, tmp_path / "data") == []
