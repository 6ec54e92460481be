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
