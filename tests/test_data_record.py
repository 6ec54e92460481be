"""Which prepared data a run read (metrics.json's prepared_data), and whether the copy under
paths.data still holds it: what `afuse status` calls "trained on other data"."""

from afuse.atomic import atomic_write_json
from afuse.data_record import changed_data, prepared_record

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
