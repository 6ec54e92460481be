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
