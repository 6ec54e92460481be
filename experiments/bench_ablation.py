"""What each afuse speed measure buys: one process, one thread, CPU time per training step, with
fastops (fast dropout masks + attention) and the first-token shortcut switched on and off in turn
on the same model (ST-A and Fusion N=16 on MiniLM, batch 32 × 128). Same-process, same-thread CPU
time is far less sensitive to other tenants of a shared machine than wall time across processes.

    PYTHONPATH=. .venv/bin/python experiments/bench_ablation.py --out results/bench/ablation.md
"""

import argparse
import statistics
import time
from pathlib import Path

import torch
from bench_common import afuse_step_seconds

from afuse.modeling import fastops

SETTINGS = [  # (label, fast_ops, first-token shortcut)
    ("stock ops, no shortcut", False, False),
    ("fastops only", True, False),
    ("shortcut only", False, True),
    ("fastops + shortcut (afuse default)", True, True),
]


def configure(model, fast: bool, shortcut: bool) -> None:
    if fast:
        fastops.install(model.encoder)
        fastops.swap_dropouts(model.heads)
    else:
        fastops.uninstall(model.encoder)
        for parent in model.heads.modules():
            for name, child in list(parent.named_children()):
                if type(child) is fastops.FastDropout:
                    setattr(parent, name, torch.nn.Dropout(child.p))
    model.first_token_shortcut = shortcut


def cpu_step(model, opt, x, y, fusion: bool) -> float:
    t0 = time.process_time()
    loss = torch.nn.functional.cross_entropy(model(input_ids=x, attention_mask=torch.ones_like(x)), y)
    if fusion:
        loss = loss + model.fusion.spec.regularization * model.fusion_regularization()
    loss.backward()
    opt.step()
    opt.zero_grad()
    return time.process_time() - t0


def ablate(n_fuse: int, rounds: int) -> dict:
    torch.set_num_threads(1)
    _, _, model = afuse_step_seconds(n_fuse, 32, 128, 1, 0, 1, 16)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    x, y = torch.randint(1000, 30000, (32, 128)), torch.randint(0, 2, (32,))
    times = {label: [] for label, _, _ in SETTINGS}
    for r in range(rounds):
        for label, fast, shortcut in SETTINGS if r % 2 == 0 else reversed(SETTINGS):
            configure(model, fast, shortcut)
            cpu_step(model, opt, x, y, n_fuse > 0)  # warm-up after switching
            times[label].append(cpu_step(model, opt, x, y, n_fuse > 0))
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    lines = [
        "# Ablation: CPU seconds per training step (1 thread, same process, median of rounds)",
        "",
        "| setting | ST-A step (s) | ST-A speed-up | Fusion N=16 step (s) | Fusion speed-up | Fusion / ST-A |",
        "|---|---|---|---|---|---|",
    ]
    results = {n: ablate(n, args.rounds) for n in (0, 16)}
    base = {n: statistics.median(results[n][SETTINGS[0][0]]) for n in results}
    for label, _, _ in SETTINGS:
        st, fu = statistics.median(results[0][label]), statistics.median(results[16][label])
        lines.append(
            f"| {label} | {st:.2f} | {base[0] / st:.2f}× | {fu:.2f} | {base[16] / fu:.2f}× | {fu / st:.2f} |"
        )
    lines += [
        "",
        f"{args.rounds} rounds; each round runs every setting once (order alternating) after one warm-up step.",
        "All CPU times (s): "
        + "; ".join(
            f"{'ST-A' if n == 0 else 'N=16'} {label}: {', '.join(f'{t:.2f}' for t in ts)}"
            for n, by in results.items()
            for label, ts in by.items()
        ),
        "",
        "Command: `PYTHONPATH=. .venv/bin/python experiments/bench_ablation.py`",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
