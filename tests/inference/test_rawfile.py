"""Reading a file to score (afuse/inference/rawfile.py): what an unusable one is told."""

import pytest

from afuse.config import task_config
from afuse.errors import ConfigError
from afuse.inference.rawfile import read_file


def test_an_unlabelled_file_given_to_evaluate_says_it_has_no_labels(shared_data):
    """GLUE's test.tsv has no label column: evaluate said its fields did not match the task's and
    to describe them with file.fields, which cannot help; it needs labels, or afuse predict."""
    test_tsv = shared_data / "RTE" / "glue" / "test.tsv"
    with pytest.raises(ConfigError, match="has no labels for task rte.*afuse predict"):
        read_file(test_tsv, task_config("rte"), None, labelled=True)
    assert read_file(test_tsv, task_config("rte"), None, labelled=False).rows  # predict reads it


def test_a_file_of_another_task_still_asks_for_its_fields(shared_data):
    with pytest.raises(ConfigError, match="do not match task rte's"):
        read_file(shared_data / "SST-2" / "dev.tsv", task_config("rte"), None, labelled=True)


def test_named_columns_over_a_header_say_which_line_they_skip(tmp_path, caplog):
    """file.columns with file.header=true (the default) renames a header; on a headerless file
    it skipped the first example without a word (871 of 872 rows scored)."""
    from omegaconf import OmegaConf

    headerless = tmp_path / "sst2.tsv"
    headerless.write_text("1\tit 's a charming journey .\n0\tbleak and desperate\n")
    file_cfg = OmegaConf.create({"format": "tsv", "columns": ["label", "sentence"], "header": True})
    with caplog.at_level("WARNING"):
        read = read_file(headerless, task_config("sst2"), file_cfg, labelled=True)
    assert len(read.rows) == 1
    assert "skipped as its header" in caplog.text and "it 's a charming journey" in caplog.text
    assert "file.header=false" in caplog.text


def test_a_file_whose_labels_are_not_the_tasks_names_them_and_the_valid_ones(tmp_path):
    """Every label spelt otherwise than the task's ('maybe'): evaluate said the file had no labels
    and to use afuse predict, though its label field was there; it names the labels and the fix."""
    import json

    path = tmp_path / "cb.jsonl"
    rows = [
        {"premise": "A man sleeps.", "hypothesis": "He rests.", "label": "maybe", "idx": i} for i in range(3)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ConfigError) as error:
        read_file(path, task_config("cb"), None, labelled=True)
    message = str(error.value)
    assert "has no labels" not in message
    assert "'maybe'" in message and "contradiction, entailment, neutral" in message
    assert "file.label_aliases" in message


def test_malformed_rows_of_a_scored_file_are_not_said_to_be_in_a_manifest(tmp_path, caplog):
    """The warning said 'listed in manifest.json', a file prepare-data writes and evaluate does not."""
    path = tmp_path / "sst2.tsv"
    path.write_text("sentence\tlabel\nfine film\t1\nbad film\tmaybe\n")
    with caplog.at_level("WARNING"):
        read = read_file(path, task_config("sst2"), None, labelled=True)
    assert len(read.rows) == 1 and read.malformed_summary()["count"] == 1
    assert "manifest.json" not in caplog.text
    assert "1 malformed row(s) in sst2.tsv left out" in caplog.text and "rows.malformed" in caplog.text


def test_a_multiple_choice_file_whose_answers_are_not_choice_keys_names_them_and_the_keys(
    shared_data, tmp_path
):
    """CSQA rows answered 'Z' (no such choice): evaluate said the file had no labels and to use afuse
    predict, though its answerKey field was there; it names the answers and the task's keys."""
    rows = (shared_data / "CSQA" / "valid.jsonl").read_text().splitlines()[:5]
    path = tmp_path / "csqa.jsonl"
    path.write_text("".join(line.replace('"answerKey": "', '"answerKey": "Z') + "\n" for line in rows))
    assert '"answerKey": "Z' in path.read_text()
    with pytest.raises(ConfigError) as error:
        read_file(path, task_config("csqa"), None, labelled=True)
    message = str(error.value)
    assert "has no labels" not in message
    assert "answers (" in message and "'Z" in message and "(A, B, C, D, E)" in message
    assert "file.label_aliases" not in message  # multiple choice takes none
