"""GPU check, part 2: the real commands on the device, on the tiny model and the real RTE and CB files.

1. `afuse run experiment=gpu_check`: ST-A for RTE and CB, Fusion over both for each target, the
   report (tables and heatmaps). Every run must finish, train on the device, and be reported.
2. Interruption: the same RTE ST-A run in another runs folder, sent SIGTERM mid-epoch (the
   reliability tests' fault hook sends the real signal just before step K), then rerun, must resume
   from its checkpoint and end with the same metrics as the pipeline's uninterrupted run
   (RESULT_KEYS: accuracies, every epoch's validation loss, epochs, parameters).
3. CUDA graphs: the same RTE ST-A run with trainer.cuda_graphs=true, in another runs folder: it
   must train with its steps replayed as graphs (dropout on, batches padded to 32 tokens, so its
   metrics are those of another run of the same settings, reported beside the eager run's). On a
   CPU the command must refuse the setting, with what to change.

    python experiments/gpu/pipeline.py --device cuda --raw-dir ../shared/data --work /tmp/w --out pipeline.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULT_KEYS = ("test", "validation", "history", "best_epoch", "epochs_run", "stopped_early", "params")
INTERRUPT_AT = 11  # of 2 epochs × 16 steps (512 examples, batch 32): mid first epoch


def afuse(args: list[str], work: Path, raw_dir: Path, fault: str | None = None) -> tuple[int, str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env["AFUSE_RAW_DIR"] = str(raw_dir)
    env.pop("AFUSE_TEST_FAULT", None)
    if fault:  # the reliability tests' fault hook, registered at start-up (tests/reliability/faults.py)
        env["AFUSE_TEST_FAULT"] = fault
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO / "tests" / "reliability" / "fault_site"), env["PYTHONPATH"]]
        )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "afuse.cli", *args],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    return done.returncode, done.stdout, time.monotonic() - started


def paths(work: Path, name: str, data_of: str | None = None) -> list[str]:
    """paths.* under work/name; prepared data from work/data_of (reused, not prepared again)."""
    roots = {p: work / name for p in ("runs", "logs", "results")} | {"data": work / (data_of or name)}
    return [f"paths.{p}={root / p}" for p, root in roots.items()]


def finished_runs(runs: Path) -> dict[str, dict]:
    return {
        str(m.parent.relative_to(runs)): json.loads(m.read_text()) for m in sorted(runs.rglob("metrics.json"))
    }


def whole_pipeline(device: str, work: Path, raw_dir: Path, log) -> dict:
    code, out, seconds = afuse(
        ["run", "experiment=gpu_check", f"trainer.device={device}", *paths(work, "pipeline")], work, raw_dir
    )
    log.write(out)
    runs = finished_runs(work / "pipeline" / "runs")
    results = work / "pipeline" / "results" / "gpu_check"
    report_files = sorted(p.name for p in results.glob("*")) if results.is_dir() else []
    on_device = out.count(f"training on {device}")
    return {
        "exit_code": code,
        "seconds": round(seconds, 1),
        "runs": {
            k: {"test_accuracy": m["test"]["accuracy"], "epochs": m["epochs_run"]} for k, m in runs.items()
        },
        "runs_trained_on_device": on_device,
        "report_files": report_files,
        "heatmaps": sorted(p.name for p in results.rglob("*.png")) if results.is_dir() else [],
        "passed": code == 0 and len(runs) == 4 and on_device == 4 and "accuracy.md" in report_files,
    }


def interrupted_run(device: str, work: Path, raw_dir: Path, log) -> dict:
    """The pipeline's RTE ST-A run again, in another runs folder: SIGTERM at step K, then resumed.
    The pipeline's own run of the same settings is the uninterrupted reference."""
    common = [
        "train-adapter",
        "experiment=gpu_check",
        "task=rte",
        "trainer.lr=1e-3",
        f"trainer.device={device}",
    ]
    where = paths(work, "interrupted", data_of="pipeline")
    cut_code, cut_out, _ = afuse([*common, *where], work, raw_dir, fault=f"SIGTERM@{INTERRUPT_AT}")
    res_code, res_out, _ = afuse([*common, *where], work, raw_dir)
    log.write(cut_out + res_out)
    reference = finished_runs(work / "pipeline" / "runs" / "stage1").get("tiny/pfeiffer_rf16/rte/seed1")
    resumed = finished_runs(work / "interrupted" / "runs" / "stage1").get("tiny/pfeiffer_rf16/rte/seed1")
    same = None not in (reference, resumed) and all(reference[k] == resumed[k] for k in RESULT_KEYS)
    resumed_line = next((ln.strip() for ln in res_out.splitlines() if "resuming from" in ln), "")
    return {
        "interrupted_exit": cut_code,  # 143 = 128 + SIGTERM
        "interrupted_message": next((ln.strip()[-90:] for ln in cut_out.splitlines() if "SIGTERM" in ln), ""),
        "resumed_exit": res_code,
        "resumed_from": resumed_line.split("] ", 1)[-1][-110:],
        "same_metrics_as_uninterrupted": same,
        "passed": cut_code == 143 and res_code == 0 and bool(resumed_line) and same,
    }


def graphed_run(device: str, work: Path, raw_dir: Path, log) -> dict:
    args = [
        "train-adapter",
        "experiment=gpu_check",
        "task=rte",
        "trainer.lr=1e-3",
        f"trainer.device={device}",
    ]
    code, out, seconds = afuse(
        [*args, "trainer.cuda_graphs=true", *paths(work, "graphs", data_of="pipeline")], work, raw_dir
    )
    log.write(out)
    if not device.startswith("cuda"):
        refused = code != 0 and "trainer.cuda_graphs=true is not possible here" in out
        return {"exit_code": code, "refused_without_cuda": refused, "passed": refused}
    eager = finished_runs(work / "pipeline" / "runs" / "stage1").get("tiny/pfeiffer_rf16/rte/seed1")
    graphed = finished_runs(work / "graphs" / "runs" / "stage1").get("tiny/pfeiffer_rf16/rte/seed1")
    summary = {
        name: {"test_accuracy": m["test"]["accuracy"], "validation_losses": [h["loss"] for h in m["history"]]}
        for name, m in (("eager", eager), ("graphs", graphed))
        if m
    }
    return {
        "exit_code": code,
        "seconds": round(seconds, 1),
        "shapes_captured": out.count("CUDA graph captured"),
        "runs": summary,
        "passed": code == 0
        and "replayed as CUDA graphs" in out
        and out.count("CUDA graph captured") > 0
        and graphed is not None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--raw-dir", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    raw_dir = args.raw_dir.resolve()
    with open(args.out.with_suffix(".log"), "w") as log:
        result = {"device": args.device, "pipeline": whole_pipeline(args.device, args.work, raw_dir, log)}
        result["interruption"] = interrupted_run(args.device, args.work, raw_dir, log)
        result["cuda_graphs"] = graphed_run(args.device, args.work, raw_dir, log)
    result["passed"] = all(result[part]["passed"] for part in ("pipeline", "interruption", "cuda_graphs"))
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2), flush=True)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
