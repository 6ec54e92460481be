"""The committed cpu_minilm records can be evaluated as they are (MiniLM)."""

import json
import shutil

import pytest

from afuse.runs import read_metrics
from tests.conftest import REPO_ROOT
from tests.inference.conftest import afuse, checksums

pytestmark = pytest.mark.slow  # MiniLM

RECORDS = REPO_ROOT / "results" / "cpu_minilm" / "runs"
FUSION = "stage2/minilm/dynamic_pfeiffer_rf16_src-2a2a30/cb/seed1"


@pytest.mark.parametrize(
    "record", ["stage1/minilm/pfeiffer_rf16/cb/seed1", "stage1/minilm/head/mrpc/seed1", FUSION]
)
def test_a_committed_record_reproduces_its_test_accuracy(record, shared_data, tmp_path):
    # A copy of the runs tree (the Fusion record needs its 15 source adapters beside it), so the
    # evaluation's outputs stay out of the checkout.
    runs = tmp_path / "runs"
    needed = [record] + (
        [str(p.relative_to(RECORDS)) for p in RECORDS.glob("stage1/minilm/pfeiffer_rf16/*/seed1")]
        if record == FUSION
        else []
    )
    for part in needed:
        shutil.copytree(RECORDS / part, runs / part, ignore=shutil.ignore_patterns("eval", "predict"))
    run = runs / record
    before = checksums(run)
    afuse(
        "evaluate",
        f"run={run}",
        f"data.raw_dir={shared_data}",
        f"paths.data={tmp_path}/data",
        f"paths.logs={tmp_path}/logs",
        "progress_bar=false",
    )
    assert checksums(run) == before
    result = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    recorded = read_metrics(run)["test"]
    assert (result["accuracy"], result["n"]) == (recorded["accuracy"], recorded["n"])
    assert result["loss"] == pytest.approx(
        recorded["loss"], rel=1e-4
    )  # another CPU's kernels: last bits differ
