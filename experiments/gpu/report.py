"""GPU check, last part: one Markdown + JSON report from the parts' outputs in a work folder.

Reads correctness.json, pipeline.json, speed.txt (result lines of afuse_step.py and
adapters_step.py, rounds alternating) and env.json; writes gpu_check.md and gpu_check.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from step_timing import BERT_BASE, QUICK, step_flops  # noqa: E402

PEAK_BF16 = 790e12  # an 8192³ bf16 matmul measured on this workplace's H200 (device/KINDS.md)
LINE = re.compile(
    r"^(?P<impl>afuse|adapters [\d.]+) fuse_n=(?P<n>\d+) step_s=(?P<s>[\d.]+) trainable=(?P<t>\d+) "
    r"peak_mib=(?P<mib>\d+) variant=(?P<variant>\w+)"
)
# The targets are judged on the eager step (what the library's step is timed as) and on the step
# of afuse's own loop with trainer.cuda_graphs=true (what a user's run gets when it opts in).
TARGET_VARIANTS = ("step", "loop_graphs")
TARGETS = {
    "fusion16_vs_adapters": 3.0,  # afuse Fusion(16) at least 3x faster than adapters' Fusion(16)
    "fusion16_over_st_a": 1.3,  # afuse Fusion(16) step at most 1.3x afuse's ST-A step
    "st_a_mfu": 0.40,  # ST-A at least 40% of the chip's bf16 peak
}


def speed_rows(text: str) -> list[dict]:
    rows, rounds = [], {}
    for raw in text.splitlines():
        m = LINE.match(raw.strip())
        if not m:
            continue
        key = (m["impl"].split()[0], int(m["n"]), m["variant"])
        rounds[key] = rounds.get(key, 0) + 1
        rows.append({
            "impl": key[0], "n": key[1], "variant": key[2], "round": rounds[key],
            "step_s": float(m["s"]), "trainable": int(m["t"]), "peak_mib": int(m["mib"]),
        })  # fmt: skip
    return rows


def summarise_speed(rows: list[dict], shape: dict, batch: int, length: int) -> dict:
    """Medians over rounds, the per-round afuse/adapters ratio, FLOP utilisation and the targets."""
    table = {}
    for row in rows:
        entry = table.setdefault((row["impl"], row["n"], row["variant"]), {"times": [], **row})
        entry["times"].append(row["step_s"])
    settings = []
    for (impl, n, variant), e in sorted(
        table.items(), key=lambda kv: (kv[0][2] != "step", kv[0][1], kv[0][0])
    ):
        median = statistics.median(e["times"])
        flops = step_flops(shape, batch, length)
        settings.append({
            "impl": impl, "n": n, "variant": variant, "rounds": len(e["times"]), "step_ms": median * 1e3,
            "peak_mib": e["peak_mib"], "trainable": e["trainable"], "encoder_flop_util": flops / median / PEAK_BF16,
        })  # fmt: skip
    speedup = {variant: _speedup(rows, variant) for variant in TARGET_VARIANTS}
    targets = {
        f"{name} ({variant})": _target(name, value)
        for variant in TARGET_VARIANTS
        for name, value in _checks(settings, speedup[variant], variant).items()
        if any(s["variant"] == variant for s in settings)
    }
    return {"settings": settings, "speedup_vs_adapters": speedup, "targets": targets}


def _speedup(rows: list[dict], variant: str) -> dict:
    """adapters' step over afuse's `variant` step, per round (they alternate), median over rounds."""
    afuse_times = {
        (r["n"], r["round"]): r["step_s"] for r in rows if r["impl"] == "afuse" and r["variant"] == variant
    }
    ratios = {}
    for r in rows:
        if r["impl"] == "adapters" and (r["n"], r["round"]) in afuse_times:
            ratios.setdefault(r["n"], []).append(r["step_s"] / afuse_times[(r["n"], r["round"])])
    return {n: statistics.median(v) for n, v in sorted(ratios.items())}


def _checks(settings: list[dict], speedup: dict, variant: str) -> dict:
    afuse = {s["n"]: s for s in settings if s["impl"] == "afuse" and s["variant"] == variant}
    return {
        "fusion16_vs_adapters": speedup.get(16),
        "fusion16_over_st_a": afuse[16]["step_ms"] / afuse[0]["step_ms"] if {0, 16} <= afuse.keys() else None,
        "st_a_mfu": afuse[0]["encoder_flop_util"] if 0 in afuse else None,
    }


def _target(name: str, value) -> dict:
    goal = TARGETS[name]
    met = None if value is None else (value <= goal if name == "fusion16_over_st_a" else value >= goal)
    return {"value": value, "target": goal, "met": met}


def _speed_markdown(speed: dict) -> list[str]:
    out = [
        "| impl | N | variant | step ms (median) | rounds | peak MiB | trainable | encoder FLOP util |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for s in speed["settings"]:
        out.append(
            f"| {s['impl']} | {s['n']} | {s['variant']} | {s['step_ms']:.2f} | {s['rounds']} | {s['peak_mib']} "
            f"| {s['trainable']:,} | {s['encoder_flop_util']:.1%} |"
        )
    out += [
        "",
        "afuse speed-up over `adapters`' step (median of per-round ratios, same N, same sitting):",
        "",
    ]
    for variant, speedup in speed["speedup_vs_adapters"].items():
        out += [f"- afuse {variant}, N = {n}: {v:.2f}×" for n, v in speedup.items()]
    out += ["", "| target | value | goal | met |", "|---|---:|---:|---|"]
    for name, t in speed["targets"].items():
        value = "–" if t["value"] is None else f"{t['value']:.3g}"
        goal = f"≤ {t['target']}" if name.startswith("fusion16_over_st_a") else f"≥ {t['target']}"
        out.append(f"| {name} | {value} | {goal} | {t['met']} |")
    return out


def markdown(report: dict) -> str:
    env, corr, pipe = report["environment"], report["correctness"], report["pipeline"]
    lines = [
        "# afuse GPU check",
        "",
        f"Made by `experiments/gpu_check.sh` ({'quick ' if report['quick'] else ''}device {env.get('device')}).",
        "",
        "## Environment",
        "",
        *(f"- {k}: {v}" for k, v in env.items()),
        "",
        "## 1. Correctness",
        "",
        f"fp32 tolerance {corr.get('fp32_tolerance')} (max |difference|), bf16 loss tolerance "
        f"{corr.get('bf16_tolerance')} (relative). Passed: **{corr.get('passed')}**.",
        "",
        "| case | check | differences | passed |",
        "|---|---|---|---|",
    ]
    for c in corr.get("cases", []):
        diffs = ", ".join(
            f"{k.removesuffix('_diff').replace('_', ' ')} {v:.2e}"
            for k, v in c.items()
            if k.endswith("_diff")
        )
        diffs = diffs or f"failed: {c.get('error', '')}"
        lines.append(f"| {c['name']} | {c['check']} | {diffs} | {c['passed']} |")
    lines += ["", "## 2. Pipeline", "", f"Passed: **{pipe.get('passed')}**.", "", "```json"]
    lines += [json.dumps({k: v for k, v in pipe.items() if k != "passed"}, indent=2), "```", ""]
    lines += ["## 3. Speed", "", report["speed_setup"], ""]
    lines += _speed_markdown(report["speed"])
    if report.get("notes"):
        lines += ["", "## Notes", "", *report["notes"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=128)
    args = ap.parse_args(argv)

    def read(name: str) -> dict:
        path = args.work / name
        return (
            json.loads(path.read_text())
            if path.is_file()
            else {"passed": None, "missing": f"{name}: not run"}
        )

    shape = QUICK if args.quick else BERT_BASE
    speed_text = (args.work / "speed.txt").read_text() if (args.work / "speed.txt").is_file() else ""
    report = {
        "quick": args.quick,
        "environment": read("env.json"),
        "correctness": read("correctness.json"),
        "pipeline": read("pipeline.json"),
        "speed_setup": (
            f"One training step (forward, backward, AdamW; bf16 autocast on CUDA) of ST-A (N = 0) and of Fusion "
            f"over N Pfeiffer rf-16 adapters, encoder {shape['num_hidden_layers']} × {shape['hidden_size']} with "
            f"random weights, batch {args.batch} × length {args.length}; CUDA-event timing, median of the steps "
            "after warm-up, then the median over rounds (afuse and adapters alternating). Encoder FLOP util: "
            "forward + backward-to-activations FLOPs of the frozen encoder per step over the step time, against "
            f"{PEAK_BF16 / 1e12:.0f} TFLOP/s (bf16 matmul measured on this H200)."
        ),
        "speed": summarise_speed(speed_rows(speed_text), shape, args.batch, args.length),
        "speed_log": [ln for ln in speed_text.splitlines() if "skipped" in ln or "failed" in ln],
    }
    report["notes"] = [f"- {ln}" for ln in report["speed_log"]]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / "gpu_check.md").write_text(markdown(report))
    print(markdown(report))
    ran = [report[part] for part in ("correctness", "pipeline") if "missing" not in report[part]]
    return 0 if ran and all(part.get("passed") for part in ran) else 1


if __name__ == "__main__":
    sys.exit(main())
