"""Load benchmark (issue 8, item 8): a sweep of 200 tiny-model jobs through the joblib launcher,
then `afuse status` and `afuse report` over the 200 run directories, timed.

    python experiments/bench_load.py                       # 200 jobs, report to results/bench/load.md
    python experiments/bench_load.py --jobs 12 --out -     # a quick look, report on stdout

Everything is written under a temporary directory (or --root): the runs, the prepared data, the
logs, the report, and a preset `load_bench` (tasks cb and rte, seeds 1..jobs/2, one ST-A group) put
on Hydra's search path, so that status and report read exactly the swept runs. The timings are
wall-clock times of the commands as a user runs them (a fresh `python -m afuse.cli` each time),
Python's start-up and imports included.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TASKS = ("cb", "rte")
PRESET = """# @package _global_
defaults:
  - override /model: tiny
experiment:
  name: load_bench
  tasks: [{tasks}]
  seeds: [{seeds}]
  stage1:
    st_a: {{command: train-adapter, overrides: [adapter=pfeiffer]}}
  report:
    columns: {{ST-A: st_a}}
"""


def afuse(*args: str, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "afuse.cli", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    return time.perf_counter() - started, done


def paths(root: Path) -> list[str]:
    return [f"paths.{name}={root / name}" for name in ("runs", "data", "logs", "results")]


def sweep_args(root: Path, raw_dir: Path, seeds: int, n_jobs: int) -> list[str]:
    return [
        "train-adapter",
        "-m",
        "hydra/launcher=local_parallel",
        f"hydra.launcher.n_jobs={n_jobs}",
        f"task={','.join(TASKS)}",
        f"seed=range(1,{seeds + 1})",
        "model=tiny",
        "data.source=local",
        f"data.raw_dir={raw_dir}",
        "data.max_train_examples=32",
        "trainer.max_epochs=1",
        "trainer.batch_size=16",
        "trainer.num_threads=1",
        "trainer.progress_bar=false",
        *paths(root),
    ]


def write_preset(root: Path, seeds: int) -> list[str]:
    folder = root / "conf" / "experiment"
    folder.mkdir(parents=True)
    text = PRESET.format(tasks=", ".join(TASKS), seeds=", ".join(map(str, range(1, seeds + 1))))
    (folder / "load_bench.yaml").write_text(text)
    return [f"hydra.searchpath=[file://{root / 'conf'}]", "experiment=load_bench"]


def timed(args: list[str], root: Path, repeats: int) -> tuple[list[float], str]:
    times, out = [], ""
    for _ in range(repeats):
        seconds, done = afuse(*args, cwd=root)
        if done.returncode != 0:
            raise SystemExit(f"afuse {' '.join(args[:1])} failed:\n{done.stdout}\n{done.stderr}")
        times.append(seconds)
        out = done.stdout
    return times, out


def complete_runs(root: Path) -> list[dict]:
    metrics = []
    for path in sorted((root / "runs").glob("stage1/tiny/pfeiffer_rf16/*/seed*/metrics.json")):
        metrics.append(json.loads(path.read_text()))
    return metrics


def machine() -> dict:
    import torch

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "0",
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average_at_start": os.getloadavg(),
    }


def report(figures: dict) -> str:
    m, f = figures["machine"], figures
    status, report_, empty = (f["status_s"], f["report_s"], f["status_empty_s"])
    lines = [
        f"# Load benchmark: {f['jobs']} tiny-model jobs, then status and report",
        "",
        f"Measured {f['date']} by `experiments/bench_load.py` (issue 8, item 8).",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores visible; {m['memory_gib']} GiB memory",
        f"- {m['os']}; Python {m['python']}, torch {m['torch']}",
        f"- load average when the benchmark started: {', '.join(f'{x:.2f}' for x in m['load_average_at_start'])}"
        " (the machine is shared: other work was running)",
        "",
        "## The sweep",
        "",
        f"`afuse train-adapter -m hydra/launcher=local_parallel hydra.launcher.n_jobs={f['n_jobs']} "
        f"task=cb,rte seed=range(1,{f['seeds'] + 1}) model=tiny data.max_train_examples=32 "
        "trainer.max_epochs=1 ...` into an empty tree (the first jobs also prepare and tokenise both tasks, "
        "under the data locks).",
        "",
        "| | |",
        "|---|---|",
        f"| jobs launched | {f['jobs']} |",
        f"| sweep exit code | {f['sweep_exit']} |",
        f"| complete run directories (metrics.json valid) | {f['complete']} |",
        f"| failed jobs | {f['failed']} |",
        f"| sweep wall time | {f['sweep_s']:.1f} s ({f['sweep_s'] / max(f['jobs'], 1):.2f} s per job) |",
        f"| training time inside the jobs (sum of timing.train_s) | {f['train_s_sum']:.1f} s |",
        "",
        "## status and report over the runs",
        "",
        f"Wall time of each command run as a user runs it (fresh process; {f['repeats']} runs each, "
        "min / median / max).",
        "",
        "| command | runs read | min | median | max |",
        "|---|---|---|---|---|",
        f"| `afuse status experiment=load_bench` (empty tree) | 0 | {_mmm(empty)} |",
        f"| `afuse status experiment=load_bench` | {f['complete']} | {_mmm(status)} |",
        f"| `afuse report experiment=load_bench` | {f['complete']} | {_mmm(report_)} |",
        "",
        f"`afuse status` counted: {f['status_totals']}.",
        "",
        "The empty-tree row is the fixed cost (Python start-up, imports, Hydra composing the config);",
        f"reading {f['complete']} run directories adds the difference.",
        "",
    ]
    return "\n".join(lines)


def _mmm(times: list[float]) -> str:
    return f"{min(times):.2f} s | {statistics.median(times):.2f} s | {max(times):.2f} s"


def status_totals(out: str) -> str:
    rows = [line.split() for line in out.splitlines()]
    header = next(r for r in rows if r[:1] == ["group"])
    total = next(r for r in rows if r[:1] == ["total"])
    return ", ".join(f"{k} {v}" for k, v in zip(header[4:], total[1:], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200, help="number of jobs (even: cb and rte)")
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count(), help="joblib worker processes")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of status and report")
    parser.add_argument("--raw-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--root", type=Path, default=None, help="work directory (default: a temporary one)")
    parser.add_argument(
        "--out", default=str(REPO / "results" / "bench" / "load.md"), help="report file, or -"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="afuse-load-") as tmp:
        root = (args.root or Path(tmp)).resolve()
        root.mkdir(parents=True, exist_ok=True)
        seeds = args.jobs // len(TASKS)
        preset = [*write_preset(root, seeds), *paths(root)]
        figures = {"machine": machine(), "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
        figures["status_empty_s"], _ = timed(["status", *preset], root, args.repeats)

        print(f"sweep: {seeds * len(TASKS)} jobs, {args.n_jobs} workers ...", file=sys.stderr)
        sweep_s, sweep = afuse(*sweep_args(root, args.raw_dir.resolve(), seeds, args.n_jobs), cwd=root)
        metrics = complete_runs(root)
        failed = list((root / "runs").glob("stage1/*/*/*/seed*/failed.json"))
        figures.update(
            jobs=seeds * len(TASKS),
            seeds=seeds,
            n_jobs=args.n_jobs,
            sweep_exit=sweep.returncode,
            sweep_s=sweep_s,
            complete=len(metrics),
            failed=len(failed),
            train_s_sum=sum(m["timing"]["train_s"] for m in metrics),
            repeats=args.repeats,
        )
        if sweep.returncode != 0:
            print(sweep.stderr[-4000:], file=sys.stderr)

        figures["status_s"], out = timed(["status", *preset], root, args.repeats)
        figures["status_totals"] = status_totals(out)
        figures["report_s"], _ = timed(["report", *preset], root, args.repeats)

    text = report(figures)
    if args.out == "-":
        print(text)
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    print(json.dumps({k: v for k, v in figures.items() if k != "machine"}, default=str), file=sys.stderr)


if __name__ == "__main__":
    main()
