"""Start-up benchmark (issue 17): how long afuse takes before it does any work.

    python experiments/bench_startup.py                         # report to results/bench/startup.{md,json}
    python experiments/bench_startup.py --baseline 28cc66f      # also the code of that commit, alternating
    python experiments/bench_startup.py --rounds 3 --out -      # a quick look, report on stdout

A sweep of 200 jobs reruns 200 commands whose runs may already be finished; each pays this. Timed,
each as a user runs it (a fresh `python -m afuse.cli`: interpreter start, imports, Hydra composing
the config, the command's own checks):

  afuse --help, afuse status experiment=cpu_minilm (the committed results/cpu_minilm/runs),
  afuse list presets, skipping a finished train-adapter run and a finished fuse run (tiny model,
  trained by this script under a temporary directory), and `python -c "import torch"` as the
  yardstick: on a shared machine the ratio to it says more than the seconds.

The commands alternate within each round (so load changes hit all of them alike) and the report
gives the median over rounds of the wall time and of the CPU time (user + system of the child,
less sensitive to other tenants). With --baseline, the same commands also run on the code of
another commit (`git archive` of its afuse/ and conf/, first on PYTHONPATH), alternating with
the working tree's, in the same sitting. Every skip is checked to have printed "already complete".
"""

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import command_block, dump_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"help": 1.0, "status": 1.0, "skip_train_adapter": 2.0, "skip_fuse": 2.0}


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    args: tuple[str, ...]  # afuse's arguments; () for the yardstick
    expect: str = ""  # text the output must hold (a skip must really be a skip)


def cases(root: Path, raw_dir: Path) -> list[Case]:
    tiny = (
        "model=tiny",
        "data.source=local",
        f"data.raw_dir={raw_dir}",
        "data.max_train_examples=64",
        "trainer.max_epochs=1",
        *(f"paths.{name}={root / name}" for name in ("runs", "data", "logs", "results")),
    )
    return [
        Case("help", "`afuse --help`", ("--help",)),
        Case("status", "`afuse status experiment=cpu_minilm` (59 runs)", ("status", "experiment=cpu_minilm")),
        Case("list_presets", "`afuse list presets`", ("list", "presets")),
        Case(
            "skip_train_adapter",
            "skip a finished `afuse train-adapter` run",
            ("train-adapter", "task=cb", *tiny),
            "already complete",
        ),
        Case(
            "skip_fuse",
            "skip a finished `afuse fuse` run",
            ("fuse", "target=cb", "fusion.sources=[cb]", *tiny),
            "already complete",
        ),
        Case("import_torch", '`python -c "import torch"` (yardstick)', ()),
    ]


def run_once(case: Case, code_dir: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one fresh process running `case` on the afuse code in `code_dir`."""
    # -P: the working directory is not put before PYTHONPATH, which picks the code to time.
    argv = ["-P", "-c", "import torch"] if not case.args else ["-P", "-m", "afuse.cli", *case.args]
    env = {**os.environ, "PYTHONPATH": str(code_dir)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = done.stdout + done.stderr
    if done.returncode != 0 or case.expect not in output:
        raise SystemExit(
            f"{case.label} on {code_dir} (exit {done.returncode}) did not do what it should:\n{output}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def set_up_runs(root: Path, raw_dir: Path) -> None:
    """The finished runs the skip cases find: a tiny ST-A adapter on CB, then a fusion over it."""
    for case in cases(root, raw_dir):
        if case.expect:
            done = subprocess.run(
                [sys.executable, "-m", "afuse.cli", *case.args],
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise SystemExit(f"setting up {case.label} failed:\n{done.stdout}{done.stderr}")


def export_baseline(commit: str, into: Path) -> str:
    """afuse/ and conf/ of `commit` under `into`; returns the full hash."""
    full = subprocess.run(["git", "rev-parse", commit], cwd=REPO, capture_output=True, text=True, check=True)
    archive = subprocess.run(
        ["git", "archive", commit, "afuse", "conf"], cwd=REPO, capture_output=True, check=True
    )
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return full.stdout.strip()


def measure(all_cases: list[Case], versions: dict[str, Path], rounds: int) -> dict:
    """{case: {version: [(wall, cpu), ...]}}: every case and version once per round, in turn;
    each round reverses the order of the one before, so neither always runs first."""
    results = {case.key: {version: [] for version in versions} for case in all_cases}
    order = [(case, version) for case in all_cases for version in versions if case.args or version == "now"]
    for r in range(rounds):
        for case, version in order if r % 2 == 0 else reversed(order):
            wall, cpu = run_once(case, versions[version])
            results[case.key][version].append((wall, cpu))
            print(
                f"round {r + 1}: {case.key} [{version}] {wall:.2f} s wall, {cpu:.2f} s CPU", file=sys.stderr
            )
    return results


def summarise(results: dict) -> dict:
    """Medians (and min/max of the wall times) per case and version; ratio to importing torch."""
    torch_wall = statistics.median(w for w, _ in results["import_torch"]["now"])
    summary = {}
    for key, by_version in results.items():
        summary[key] = {}
        for version, samples in by_version.items():
            if not samples:
                continue
            walls = [w for w, _ in samples]
            wall = statistics.median(walls)
            summary[key][version] = {
                "wall_s": round(wall, 3),
                "cpu_s": round(statistics.median(c for _, c in samples), 3),
                "min_wall_s": round(min(walls), 3),
                "max_wall_s": round(max(walls), 3),
                "x_import_torch": round(wall / torch_wall, 2),
                "walls": [round(w, 3) for w in walls],
            }
    return summary


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def git_commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "afuse", "conf", "experiments"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return head + (" (with uncommitted changes)" if dirty else "")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def report(figures: dict, all_cases: list[Case]) -> str:
    summary, baseline = figures["summary"], figures.get("baseline")
    m = figures["machine"]
    head = "| what | median wall | min–max | median CPU | × import torch | target |"
    rule = "|---|---|---|---|---|---|"
    if baseline:
        head = f"| what | median wall | min–max | median CPU | × import torch | before ({baseline[:7]}) | target |"
        rule = "|---|---|---|---|---|---|---|"
    lines = [
        "# Start-up: what afuse costs before it does any work",
        "",
        f"Measured {figures['date']} by `experiments/bench_startup.py` (issue 17), code at commit "
        f"{figures['commit']}.",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores visible (shared with other developers and a long "
        f"niced experiment); {m['os']}; Python {m['python']}",
        f"- Load (`uptime`) before: {figures['uptime_before']}",
        f"- Load (`uptime`) after: {figures['uptime_after']}",
        f"- {figures['rounds']} rounds; in each, every command once (fresh process), the order reversed "
        "every other round; medians over the rounds. CPU = user + system time of the process.",
        "",
        head,
        rule,
    ]
    for case in all_cases:
        now = summary[case.key]["now"]
        cells = [
            case.label,
            f"{now['wall_s']:.2f} s",
            f"{now['min_wall_s']:.2f}–{now['max_wall_s']:.2f} s",
            f"{now['cpu_s']:.2f} s",
            f"{now['x_import_torch']:.2f}",
        ]
        if baseline:
            before = summary[case.key].get("before")
            cells.append(f"{before['wall_s']:.2f} s wall, {before['cpu_s']:.2f} s CPU" if before else "–")
        target = TARGETS.get(case.key)
        met = "" if target is None else ("met" if now["wall_s"] <= target else "**not met**")
        cells.append(f"≤ {target:.0f} s: {met}" if target else "–")
        lines.append("| " + " | ".join(cells) + " |")
    share = statistics.median(
        by["now"]["cpu_s"] / by["now"]["wall_s"] for by in summary.values() if by["now"]["wall_s"] > 0
    )
    lines += [
        "",
        f"Reading the figures: each process got about {share:.2f} of a core (median CPU / wall time), so "
        "the wall times are about the CPU times divided by that; on an idle machine a start-up, which is "
        "one thread, takes about its CPU time. The ratio to `import torch`, timed in the same rounds, depends less on the load.",
        "",
        "What the skip path does before it prints `skipping`: Python start-up and imports (Hydra, "
        "OmegaConf; numpy for safetensors' header check), the command's config composed by Hydra "
        "(twice: Hydra composes once to learn the run mode) plus once more by afuse's override check "
        "when an override names a key, the value checks, and the finished run's result check "
        "(metrics.json, config.yaml, every safetensors header). torch, transformers, datasets and "
        "pandas are imported only by a run that trains (tests/reliability/test_startup.py).",
        "",
        "`afuse fuse` names its run directory from its config alone (afuse/run_identity.py), so its skip "
        "costs what train-adapter's does. `afuse status` and `afuse list presets` need each job "
        "group's config composed by Hydra (0.1-0.3 s per group: 5 groups for cpu_minilm, 29 over all "
        "presets), so that a preset's run directories are the ones its commands write; "
        "afuse/compose_cache.py keeps those compositions between runs (keyed by the bytes of the config "
        "files), so the first round pays them and the medians are of later rounds.",
        "",
        *command_block("experiments/bench_startup.py", figures["argv"]),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--baseline", help="a commit whose code is timed too, alternating with the working tree"
    )
    parser.add_argument("--raw-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--out", default=str(REPO / "results" / "bench" / "startup.md"), help="report file, or -"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="afuse-startup-") as tmp:
        root = Path(tmp)
        all_cases = cases(root, args.raw_dir.resolve())
        print("training the finished runs the skips find ...", file=sys.stderr)
        set_up_runs(root, args.raw_dir.resolve())
        versions = {"now": REPO}
        figures = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": git_commit()}
        if args.baseline:
            figures["baseline"] = export_baseline(args.baseline, root / "baseline")
            versions["before"] = root / "baseline"
        figures.update(machine=machine(), rounds=args.rounds, argv=sys.argv[1:], uptime_before=uptime())
        results = measure(all_cases, versions, args.rounds)
        figures.update(uptime_after=uptime(), summary=summarise(results))

    text = report(figures, all_cases)
    if args.out == "-":
        print(text)
        return
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    dump_json(out.with_suffix(".json"), figures)
    print(f"wrote {out} and {out.with_suffix('.json')}", file=sys.stderr)


if __name__ == "__main__":
    main()
