"""`afuse predict`'s output folder holds what the latest predict into it wrote: a submission file
of an earlier predict never stays beside newer predictions."""

import json

from tests.commands import afuse_exit_code
from tests.inference.conftest import untrained_head_run


def test_a_later_predict_into_the_same_folder_removes_the_earlier_submission(tmp_path, shared_data):
    run = untrained_head_run(tmp_path, "cb")
    rows = [json.loads(line) for line in (shared_data / "CB" / "test.jsonl").read_text().splitlines()]
    test = tmp_path / "test.jsonl"
    test.write_text("".join(json.dumps(r) + "\n" for r in rows[:10]))
    args = [f"run={run}", f"file={test}", f"paths.logs={tmp_path}/logs"]
    assert afuse_exit_code("predict", *args, "format=superglue") == 0
    out = run / "predict" / "test"
    assert (out / "CB.jsonl").is_file()
    test.write_text("".join(json.dumps(r) + "\n" for r in rows[10:15]))  # the file changed since
    assert afuse_exit_code("predict", *args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["predictions.parquet"]
