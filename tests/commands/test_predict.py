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
    assert sorted(p.name for p in out.iterdir()) == ["predictions.parquet", "source.json"]


def first_rows(source, target, count: int = 6):
    """The header (TSV) and first `count` rows of `source`, written to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = source.read_text().splitlines(keepends=True)
    target.write_text("".join(lines[: count + (source.suffix == ".tsv")]))
    return target


def test_files_of_the_same_name_never_replace_each_others_predictions(tmp_path, shared_data, capsys):
    """RTE's GLUE test.tsv and SuperGLUE test.jsonl both defaulted to predict/test/: the second
    replaced the first's predictions and deleted its RTE.tsv, without a word."""
    run = untrained_head_run(tmp_path, "rte")
    glue = first_rows(shared_data / "RTE" / "glue" / "test.tsv", tmp_path / "glue" / "test.tsv")
    superglue = first_rows(
        shared_data / "RTE" / "superglue" / "test.jsonl", tmp_path / "superglue" / "test.jsonl"
    )
    logs = f"paths.logs={tmp_path}/logs"
    assert afuse_exit_code("predict", f"run={run}", f"file={glue}", "format=glue", logs) == 0
    folder = run / "predict" / "test"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    capsys.readouterr()

    code = afuse_exit_code("predict", f"run={run}", f"file={superglue}", "format=superglue", logs)
    output = capsys.readouterr()
    assert code == 2
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing replaced
    errors = [line for line in (output.out + output.err).splitlines() if "error:" in line]
    assert len(errors) == 1 and str(glue) in errors[0] and "name=superglue_test" in errors[0], errors

    # Following the advice keeps both; predicting the same file again still refreshes its folder.
    args = [f"run={run}", f"file={superglue}", "format=superglue", logs]
    assert afuse_exit_code("predict", *args, "name=superglue_test") == 0
    assert (folder / "RTE.tsv").is_file() and (run / "predict" / "superglue_test" / "RTE.jsonl").is_file()
    assert afuse_exit_code("predict", f"run={run}", f"file={glue}", "format=glue", logs) == 0


def test_a_missing_file_is_said_before_the_run_is_loaded(tmp_path, monkeypatch, capsys):
    """`afuse predict run=<run> file=<typo>` loaded the run's model (seconds, a bar on the console)
    before it looked for the file."""
    import afuse.commands.evaluate
    import afuse.commands.predict

    def loaded(cfg):
        raise AssertionError("the run was loaded before the file was checked")

    for module in (afuse.commands.evaluate, afuse.commands.predict):
        monkeypatch.setattr(module, "open_trained", loaded)
    for command in ("predict", "evaluate"):
        code = afuse_exit_code(
            command, f"run={tmp_path}", f"file={tmp_path}/typo.tsv", f"paths.logs={tmp_path}/logs"
        )
        assert code == 3
        assert f"file={tmp_path}/typo.tsv: no such file" in capsys.readouterr().err
