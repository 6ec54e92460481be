"""Where does a training step's time go? torch.profiler over one step (after warm-up), self CPU time
grouped into op categories, for: afuse ST-A (fastops), afuse ST-A with PyTorch's stock dropout and
SDPA, AdapterHub `adapters` ST-A (anchor's build(), in its venv), afuse Fusion N=16, adapters
Fusion N=16. One thread, so the numbers add up to the step's CPU time.

    PYTHONPATH=. .venv/bin/python experiments/bench_profile.py --out results/bench/profile.md
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench_common import ADAPTERS_PYTHON, ANCHOR, ROOT

CATEGORIES = [  # first match wins
    ("GEMM (mm/addmm/bmm)", ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")),
    ("dropout masks (RNG)", ("aten::bernoulli_", "aten::random_", "aten::uniform_", "aten::lt")),
    ("softmax (+bwd)", ("aten::_softmax", "aten::_softmax_backward_data")),
    ("GELU (+bwd)", ("aten::gelu", "aten::gelu_backward")),
    ("LayerNorm (+bwd)", ("aten::native_layer_norm", "aten::native_layer_norm_backward")),
    ("copies, fills, cat", ("aten::copy_", "aten::fill_", "aten::cat", "aten::zero_", "aten::clone")),
    ("mask preprocessing", ("aten::all", "aten::where", "aten::isneginf", "aten::logical_not")),
    (
        "elementwise mul/add/div",
        ("aten::mul", "aten::mul_", "aten::add", "aten::add_", "aten::div", "aten::div_"),
    ),
]

PROFILE_ONE_STEP = r"""
import sys, json, torch
from torch.profiler import profile, ProfilerActivity
torch.set_num_threads(1)
torch.manual_seed(0)
BUILD
x = torch.randint(1000, 30000, (32, 128)); y = torch.randint(0, 2, (32,))
opt = torch.optim.AdamW(params, lr=1e-4)
model.train()
def step():
    out = FORWARD
    loss = torch.nn.functional.cross_entropy(out, y)
    loss.backward(); opt.step(); opt.zero_grad()
step(); step()
with profile(activities=[ProfilerActivity.CPU]) as prof:
    step()
rows = {e.key: e.self_cpu_time_total / 1e3 for e in prof.key_averages()}
print("PROFILE_JSON", json.dumps(rows))
"""

AFUSE_BUILD = """
sys.path.insert(0, {exp!r})
import bench_common as bc
_, _, model = bc.afuse_step_seconds({n}, 32, 128, 1, 0, 1, 16, fast_ops={fast})
params = [p for p in model.parameters() if p.requires_grad]
"""
ADAPTERS_BUILD = """
sys.path.insert(0, {anchor_dir!r})
import adapters_bench as ab
model = ab.build({n}, 16)
params = [p for p in model.parameters() if p.requires_grad]
"""


def run(label: str, python: str, build: str, forward: str, env=None) -> dict:
    code = PROFILE_ONE_STEP.replace("BUILD", build).replace("FORWARD", forward)
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"{label} failed:\n{out.stderr[-3000:]}")
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("PROFILE_JSON"))
    return json.loads(line.split(" ", 1)[1])


def categorise(rows: dict) -> dict:
    out = {name: 0.0 for name, _ in CATEGORIES} | {"other": 0.0}
    for op, ms in rows.items():
        if not op.startswith("aten::"):
            continue  # autograd wrappers etc. have (near) zero self time; aten ops carry it
        name = next((n for n, ops in CATEGORIES if op in ops), "other")
        out[name] += ms
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    exp = str(Path(__file__).resolve().parent)
    afuse_fwd = "model(input_ids=x, attention_mask=torch.ones_like(x))"
    hub_fwd = "model(input_ids=x, attention_mask=torch.ones_like(x)).logits"
    runs = {
        "afuse ST-A": (sys.executable, AFUSE_BUILD.format(exp=exp, n=0, fast=True), afuse_fwd, env),
        "afuse ST-A, stock ops": (
            sys.executable,
            AFUSE_BUILD.format(exp=exp, n=0, fast=False),
            afuse_fwd,
            env,
        ),
        "adapters ST-A": (
            ADAPTERS_PYTHON,
            ADAPTERS_BUILD.format(anchor_dir=str(ANCHOR.parent), n=0),
            hub_fwd,
            None,
        ),
        "afuse Fusion N=16": (sys.executable, AFUSE_BUILD.format(exp=exp, n=16, fast=True), afuse_fwd, env),
        "adapters Fusion N=16": (
            ADAPTERS_PYTHON,
            ADAPTERS_BUILD.format(anchor_dir=str(ANCHOR.parent), n=16),
            hub_fwd,
            None,
        ),
    }
    tables = {}
    for label, (python, build, fwd, e) in runs.items():
        tables[label] = categorise(run(label, python, build, fwd, e))
        print(label, {k: round(v) for k, v in tables[label].items()}, flush=True)
    labels = list(tables)
    lines = [
        "# Where the time goes: one training step, self CPU time by op category (ms, 1 thread)",
        "",
        "torch.profiler over one step after two warm-up steps; MiniLM, batch 32 × 128. Absolute numbers",
        "are from a shared, noisy machine; compare the columns' shapes. (The profiler's own overhead is included.)",
        "",
        "| category | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for cat in [n for n, _ in CATEGORIES] + ["other"]:
        lines.append(f"| {cat} | " + " | ".join(f"{tables[lb][cat]:.0f}" for lb in labels) + " |")
    lines.append("| **total** | " + " | ".join(f"**{sum(tables[lb].values()):.0f}**" for lb in labels) + " |")
    lines += ["", "Command: `PYTHONPATH=. .venv/bin/python experiments/bench_profile.py`", ""]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


if __name__ == "__main__":
    main()
