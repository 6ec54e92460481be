"""A tree of runs copied, moved or partly copied to another place (a cluster's runs/ analysed on a
laptop): evaluate, predict, export and the Python API use it where it is now, and a run copied
without some of its files says which and what to do."""

import json
import re
import shutil

import pytest

from afuse.errors import MissingInputError
from afuse.export import export_run
from afuse.inference.rebuild import load_run
from tests.inference.conftest import afuse


def copied(run_tree, tmp_path, name="copy"):
    """The run tree copied to tmp_path/<name>/runs, as `cp -a` or rsync would."""
    runs = tmp_path / name / "runs"
    shutil.copytree(run_tree.runs, runs, symlinks=True)
    return runs


def here(run_tree, runs, kind):
    return runs / run_tree.run(kind).relative_to(run_tree.runs)


def test_a_copied_run_refreshes_the_eval_folder_it_was_copied_with(run_tree, tmp_path):
    """eval/test/source.json names the run by its path when evaluated; a copy of the tree was refused
    its own eval/test/ folder as holding 'the evaluation of the test split by <the old path>'."""
    first = copied(run_tree, tmp_path, "cluster")
    afuse("evaluate", f"run={here(run_tree, first, 'st_a')}", *run_tree.eval_args())
    second = tmp_path / "laptop" / "runs"
    shutil.move(first, second)
    run = here(run_tree, second, "st_a")
    afuse("evaluate", f"run={run}", *run_tree.eval_args())
    record = json.loads((run / "eval" / "test" / "source.json").read_text())
    assert record["run"] == str(run.resolve())  # the folder now says where its run is


def test_a_full_run_copied_without_its_encoder_says_so(run_tree, tmp_path):
    """It said the run was trained without save_encoder=true, which it was not: the file was not copied."""
    run = here(run_tree, copied(run_tree, tmp_path), "full")
    (run / "encoder.safetensors").unlink()
    with pytest.raises(MissingInputError) as error:
        load_run(run)
    assert "encoder.safetensors is missing" in str(error.value)
    assert "save_encoder" not in str(error.value)
    assert f"copy encoder.safetensors from where the run was trained into {run}" in str(error.value)


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        ("mt_a", "encoder.safetensors"),  # exported on the base encoder, without a word
        ("st_a", "adapter_config.json"),  # its weights are also in pytorch_adapter.bin: not needed
        ("fusion", "head.safetensors"),
    ],
)
def test_export_refuses_a_run_copied_without_its_weights(run_tree, tmp_path, kind, missing):
    run = here(run_tree, copied(run_tree, tmp_path), kind)
    (run / missing).unlink()
    with pytest.raises(MissingInputError, match=re.escape(f"run={run}: {missing} is missing")):
        export_run(run, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_fusion_copied_without_its_sources_says_to_copy_them(run_tree, tmp_path):
    """Only stage2/ copied: the sources were called 'not trained yet', with lines training new ones
    into the current directory's runs/ (which the Fusion was not trained over)."""
    runs = tmp_path / "laptop" / "runs"
    (runs).mkdir(parents=True)
    shutil.copytree(run_tree.runs / "stage2", runs / "stage2")
    run = here(run_tree, runs, "fusion")
    with pytest.raises(MissingInputError) as error:
        load_run(run)
    message = str(error.value)
    assert "not trained yet" not in message and "afuse train-adapter" not in message
    for task in ("rte", "cb"):
        assert str(runs / "stage1" / "tiny" / "pfeiffer_rf16" / task / "seed1") in message
    assert "Copy them from where the Fusion was trained" in message and str(runs) in message
