"""`afuse evaluate adapterhub=<export>/<task>` on what `afuse export` wrote: the adapter is scored on
the base the export says (an MT-A run's fine-tuned encoder in out/encoder/, else the run's model),
so it reproduces the run's own result; it was scored on model= (default bert-base-uncased) instead,
an MT-A adapter on the plain base model, giving other numbers without a word."""

import json

import pandas as pd
import pytest

from afuse.runs import read_metrics
from tests.commands import afuse_exit_code
from tests.inference.conftest import afuse

PROBABILITIES = ["prob_entailment", "prob_contradiction", "prob_neutral"]


def exported(run_tree, kind: str, tmp_path) -> tuple:
    out = tmp_path / f"export_{kind}"
    afuse("export", f"run={run_tree.run(kind)}", f"out={out}", f"paths.logs={run_tree.root}/logs")
    return out, json.loads((out / "export.json").read_text())


def data_args(run_tree) -> list[str]:
    return ["data.source=local", f"data.raw_dir={run_tree.raw_dir}", "data.max_train_examples=64"]


def test_an_mt_a_adapter_is_scored_on_the_exported_encoder(run_tree, tmp_path):
    out, manifest = exported(run_tree, "mt_a", tmp_path)
    assert (
        manifest["encoder"] == "encoder"
        and manifest["encoder_trained"]
        and manifest["model"]["name"] == "tiny"
    )
    run = run_tree.run("mt_a")
    afuse("evaluate", f"run={run}", *run_tree.eval_args("task=cb"))
    afuse("evaluate", f"adapterhub={out / 'cb'}", "task=cb", *data_args(run_tree), *run_tree.eval_args())

    recorded = read_metrics(run)["tasks"]["cb"]["test"]
    result = json.loads((out / "cb" / "eval" / "test" / "metrics.json").read_text())
    assert result["accuracy"] == recorded["accuracy"] and result["n"] == recorded["n"] == 56
    # The loss depends on every logit: the plain base model under the adapter would not match it.
    assert result["loss"] == pytest.approx(recorded["loss"], rel=1e-5)
    ours = pd.read_parquet(out / "cb" / "eval" / "test" / "predictions.parquet")[PROBABILITIES]
    runs = pd.read_parquet(run / "eval" / "cb_test" / "predictions.parquet")[PROBABILITIES]
    assert ours.to_numpy() == pytest.approx(runs.to_numpy(), abs=1e-6)


def test_an_exported_adapter_is_scored_on_the_runs_model_without_model_given(run_tree, tmp_path):
    out, manifest = exported(run_tree, "st_a", tmp_path)
    assert manifest["encoder"] is None and manifest["model"]["name"] == "tiny"
    # No model=: the default, bert-base-uncased, is not the model the adapter was trained on.
    afuse("evaluate", f"adapterhub={out / 'cb'}", "task=cb", *data_args(run_tree), *run_tree.eval_args())
    result = json.loads((out / "cb" / "eval" / "test" / "metrics.json").read_text())
    recorded = read_metrics(run_tree.run("st_a"))["test"]
    assert result["model"] == "tiny" and result["loss"] == pytest.approx(recorded["loss"], rel=1e-5)


@pytest.mark.parametrize("kind", ["st_a", "mt_a"])
def test_another_model_for_an_export_is_refused(run_tree, kind, tmp_path, capsys):
    out, _ = exported(run_tree, kind, tmp_path)
    code = afuse_exit_code(
        "evaluate", f"adapterhub={out / 'cb'}", "task=cb", "model=minilm", *run_tree.eval_args()
    )
    assert code == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert f"model=minilm: adapterhub={out / 'cb'} was exported from a run on model tiny" in line
    assert not (out / "cb" / "eval").exists()


def test_a_fusion_directory_is_not_an_adapter(run_tree, tmp_path, capsys):
    out, _ = exported(run_tree, "fusion", tmp_path)
    code = afuse_exit_code("evaluate", f"adapterhub={out / 'fusion'}", "task=cb", *run_tree.eval_args())
    assert code == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert f"adapterhub={out / 'fusion'} is a fusion directory, not an adapter" in line
    assert f"run={run_tree.run('fusion')}" in line  # the run export.json names: evaluate that


def test_a_fusion_exports_source_adapter_says_it_has_no_head_and_why(run_tree, tmp_path, capsys):
    out, _ = exported(run_tree, "fusion", tmp_path)
    code = afuse_exit_code("evaluate", f"adapterhub={out / 'rte'}", "task=rte", *run_tree.eval_args())
    assert code == 3
    (line,) = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert (
        f"it is a source adapter of the Fusion run {run_tree.run('fusion')}, exported without a head" in line
    )
