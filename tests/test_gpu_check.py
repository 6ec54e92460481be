"""experiments/gpu_check.sh in its CPU mode: the GPU check must work before device time is spent on it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # the whole check: correctness, the real pipeline (several afuse processes), speed
def test_gpu_check_quick_cpu_mode_runs_every_part_and_writes_its_report(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "TMPDIR": str(tmp_path)}
    env.pop("ADAPTERS_PYTHON", None)
    done = subprocess.run(
        [
            str(REPO / "experiments" / "gpu_check.sh"),
            "--device",
            "cpu",
            "--quick",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    # 1. every numerical case ran and passed (fusion layer: fast path vs the naive reference)
    names = [c["name"] for c in report["correctness"]["cases"]]
    assert names == [
        "ST-A (Pfeiffer)", "Houlsby", "Fusion N=2", "Fusion N=16", "Houlsby Fusion N=4, both sites", "MT-A (2 tasks)",
        "fusion layer N=2", "fusion layer N=16", "graphed training, ST-A, fp32", "graphed training, Houlsby, fp32",
        "graphed training, Fusion N=16, fp32",
    ]  # fmt: skip
    assert report["correctness"]["passed"]
    # 2. the pipeline trained 4 runs, reported them, and a SIGTERM'd run resumed to the same metrics
    pipeline = report["pipeline"]["pipeline"]
    assert (
        pipeline["exit_code"] == 0 and len(pipeline["runs"]) == 4 and pipeline["runs_trained_on_device"] == 4
    )
    assert "accuracy.md" in pipeline["report_files"] and pipeline["heatmaps"]
    interruption = report["pipeline"]["interruption"]
    assert interruption["interrupted_exit"] == 143 and interruption["same_metrics_as_uninterrupted"]
    assert report["pipeline"]["cuda_graphs"]["refused_without_cuda"]  # on CUDA it trains
    # 3. afuse's step timed for ST-A and each fusion size, plain and with the loop's per-step work
    timed = {(s["impl"], s["n"], s["variant"]) for s in report["speed"]["settings"]}
    variants = ("step", "loop", "loop_graphs")
    assert {("afuse", n, v) for n in (0, 16) for v in variants} | {("afuse", 2, "step")} <= timed
    assert all(s["step_ms"] > 0 for s in report["speed"]["settings"])
    assert report["speed"]["targets"]["fusion16_over_st_a (step)"]["value"] > 0
    assert report["speed"]["targets"]["fusion16_over_st_a (loop_graphs)"]["value"] > 0
    markdown = (tmp_path / "out" / "gpu_check.md").read_text()
    assert "## 1. Correctness" in markdown and "## 3. Speed" in markdown


# What experiments/gpu/prepare_carry.sh gathers (9.8 MiB when measured: wheels, tokenizer, RTE/CB).
CARRY_ALLOWANCE_BYTES = 10 * 2**20


def test_the_committed_tree_leaves_room_for_the_gpu_checks_carry():
    """A device call sends the tracked tree with the carry, 64 MiB at most: committed run records
    must not crowd the GPU check out (experiments/gpu/travel_size.py checks the real carry)."""
    from experiments.gpu.travel_size import CAP_BYTES, working_tree_files

    size = sum(p.stat().st_size for p in working_tree_files(REPO, untracked=False))
    assert size + CARRY_ALLOWANCE_BYTES <= CAP_BYTES, (
        f"tracked files take {size / 2**20:.1f} MiB; with the GPU check's ~10 MiB carry a device call "
        f"would exceed {CAP_BYTES / 2**20:.0f} MiB: commit fewer weights (keep_run_records.py --no-heads)"
    )


def test_the_check_imports_this_checkouts_test_helpers_beside_an_installed_tests_package(tmp_path):
    # Some distributions install a top-level `tests` package; the GPU machine has ~150 installed.
    foreign = tmp_path / "site" / "tests"
    foreign.mkdir(parents=True)
    (foreign / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    done = subprocess.run(
        [sys.executable, str(REPO / "experiments" / "gpu" / "graphed_training.py"), "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
