"""`afuse fuse` over Houlsby sources: both sites by default, `fusion.sites=ffn` exactly as before.

The reference metrics in tests/fixtures/fusion_sites/houlsby_ffn_before.json were written by the
code before fusion sites existed (commit cf84124, which fused Houlsby sources after the FFN
only), with the very commands below:

    git archive cf84124 | tar -x -C /tmp/afuse_old && cp tests/train/test_fusion_sites.py /tmp/afuse_old/tests/train/
    cd /tmp/afuse_old && touch tests/__init__.py
    sed -i 's/afuse.run_identity import/afuse.runs import/' tests/train/test_fusion_sites.py   # where cf84124 has it
    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python -m tests.train.test_fusion_sites /tmp/before
    cp /tmp/afuse_old/tests/fixtures/fusion_sites/houlsby_ffn_before.json <repo>/tests/fixtures/fusion_sites/
"""

import json
import sys
from pathlib import Path

import pytest

from afuse.cli import main as afuse_main
from afuse.run_identity import stage2_dir
from afuse.runs import read_metrics

pytestmark = pytest.mark.slow  # three small training runs in this process

BEFORE = Path(__file__).resolve().parents[1] / "fixtures" / "fusion_sites" / "houlsby_ffn_before.json"
RESULT_KEYS = ("test", "validation", "history", "best_epoch", "epochs_run", "stopped_early", "params")


def common(root: Path, raw_dir: Path) -> list[str]:
    return [
        "model=tiny",
        "adapter=houlsby",
        "data.source=local",
        f"data.raw_dir={raw_dir}",
        "data.max_train_examples=48",
        "trainer.max_epochs=2",
        "trainer.batch_size=8",
        "trainer.lr=0.01",
        "trainer.num_threads=1",
        f"paths.runs={root}/runs",
        f"paths.data={root}/data",
        f"paths.logs={root}/logs",
        f"paths.results={root}/results",
    ]


def run(root: Path, raw_dir: Path, *fuse_overrides: str) -> None:
    """Stage 1 for cb and rte (skipped once done), then a fusion for cb over both."""
    for task in ("cb", "rte"):
        _cli("train-adapter", f"task={task}", *common(root, raw_dir))
    # In the paper's order, the order afuse fuses them in (before commit 7f52350: the listed one).
    _cli("fuse", "target=cb", "fusion.sources=[rte,cb]", *common(root, raw_dir), *fuse_overrides)


def _cli(*argv: str) -> None:
    try:
        afuse_main(list(argv))
    except SystemExit as exit_:
        if exit_.code:
            raise AssertionError(f"afuse {' '.join(argv)} exited with {exit_.code}") from None


def fusion_run(root: Path, variant: str) -> Path:
    return stage2_dir(root / "runs", "tiny", variant, "cb", 1)


@pytest.fixture(scope="module")
def root(tmp_path_factory, shared_data) -> Path:
    root = tmp_path_factory.mktemp("fusion_sites")
    run(root, shared_data, "fusion.sites=ffn")
    run(root, shared_data)
    return root


def test_sites_ffn_reproduces_the_results_from_before_fusion_sites(root):
    before = json.loads(BEFORE.read_text())
    run_dir = fusion_run(root, before["variant"])  # the same directory name as before
    metrics = read_metrics(run_dir)
    assert metrics["test"].pop("split_rows") == metrics["test"]["n"]  # recorded since: not a result
    assert {k: metrics[k] for k in RESULT_KEYS} == {k: before[k] for k in RESULT_KEYS}
    activations = json.loads((run_dir / "activations.json").read_text())
    assert "sites" not in activations and activations["matrix"] == before["activations"]["matrix"]


def test_default_fuses_houlsby_sources_at_both_sites_and_records_each(root):
    before = json.loads(BEFORE.read_text())
    run_dir = fusion_run(root, before["variant"] + "_attn-ffn")
    metrics = read_metrics(run_dir)
    assert metrics["variant"].endswith("_attn-ffn")
    # Twice the fusion layers: Q, K (h×h + h each) and V (h×h) per site, plus the head.
    assert metrics["params"]["trainable"] - before["params"]["trainable"] == 2 * (3 * 32 * 32 + 2 * 32)
    assert metrics["history"] != before["history"]
    activations = json.loads((run_dir / "activations.json").read_text())
    assert (
        list(activations["sites"]) == ["attn", "ffn"] and activations["matrix"] == activations["sites"]["ffn"]
    )
    for matrix in activations["sites"].values():
        assert len(matrix) == 2 and all(abs(sum(row) - 1) < 1e-6 for row in matrix)


if __name__ == "__main__":  # write the reference (see the module docstring)
    out = Path(sys.argv[1])
    from tests.conftest import shared_data_dir

    run(out, shared_data_dir())
    [variant_dir] = (out / "runs" / "stage2" / "tiny").iterdir()
    metrics = read_metrics(fusion_run(out, variant_dir.name))
    reference = {k: metrics[k] for k in ("variant", *RESULT_KEYS)}
    reference["activations"] = json.loads(
        (fusion_run(out, variant_dir.name) / "activations.json").read_text()
    )
    BEFORE.parent.mkdir(parents=True, exist_ok=True)
    BEFORE.write_text(json.dumps(reference, indent=2) + "\n")
    print(f"wrote {BEFORE}")
