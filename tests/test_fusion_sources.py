"""Adapter directories given by path in fusion.sources: their names, and runs that hold no adapter."""

import re

import pytest

from afuse.errors import MissingInputError
from afuse.fusion_sources import source_by_path


def adapter_dir(path):
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text("{}")
    return path


def test_a_stage1_run_directory_is_named_after_its_task(tmp_path):
    """Every run directory ends in seed<k>: two of them (rte's and cb's) were both named seed1 and
    refused as 'not distinct' after the data had been prepared."""
    stage1 = tmp_path / "runs" / "stage1" / "minilm" / "pfeiffer_rf16"
    rte = source_by_path(adapter_dir(stage1 / "rte" / "seed1"))
    cb = source_by_path(adapter_dir(stage1 / "cb" / "seed1"))
    assert (rte.name, cb.name) == ("rte", "cb")
    assert rte.adapter_dir == stage1 / "rte" / "seed1"


def test_an_adapterhub_directory_keeps_its_folder_name(tmp_path):
    assert source_by_path(adapter_dir(tmp_path / "hub" / "rte_pfeiffer")).name == "rte_pfeiffer"


@pytest.mark.parametrize(
    ("parts", "what"),
    [
        (("stage2", "minilm", "dynamic_pfeiffer_rf16", "rte", "seed1"), "a stage-2 (fuse) run"),
        (("stage1", "minilm", "full", "rte", "seed1"), "a stage-1 full run"),
    ],
)
def test_a_run_without_an_adapter_is_refused_naming_what_it_is(tmp_path, parts, what):
    run = tmp_path.joinpath("runs", *parts)
    run.mkdir(parents=True)
    with pytest.raises(MissingInputError, match=re.escape(f"is {what}, which has no adapter to fuse")):
        source_by_path(run)
