"""One AdapterFusion training step (forward, backward, AdamW; "dynamic" fusion over N frozen
Pfeiffer adapters of reduction factor 16, plus head, with the λ·||V - I||² term) on MiniLM, batch
32 × length 128, for N = 2, 4, 8, 16, 32: afuse vs AdapterHub `adapters` 1.3.0, interleaved.

    PYTHONPATH=. .venv/bin/python experiments/bench_fusion.py --rounds 3 --out results/bench/fusion.md

N = 0 is the ST-A step of the same process layout, for the "Fusion at N=16 ≤ 1.5× ST-A" target.
The adapters side is ../shared/anchors/adapters_bench.py, unmodified (its fusion step does not add
the regularisation term; ours does, which only costs us). Peak RSS is per process (model load
included), one process per setting.
"""

import argparse
import sys

from bench_common import command_block, common_args, environment, interleaved, publish, summary


def markdown(env: dict, rows: dict, argv: list[str]) -> str:
    st_a = rows.get(0, {}).get("afuse", {}).get("step_s")
    lines = [
        "# AdapterFusion training step: afuse vs AdapterHub `adapters`",
        "",
        'One training step (forward, backward, AdamW) of a "dynamic" fusion over N frozen Pfeiffer adapters',
        f"(reduction factor 16) and a 2-label head on MiniLM-L6 (h = 384), batch {env['batch']} × length {env['length']}.",
        "",
        f"- date: {env['date']}",
        f"- machine: {env['machine']}",
        f"- afuse: {env['afuse_stack']}; adapters: {env['adapters_stack']}",
        f"- torch threads: {env['threads']}; {env['rounds']} rounds, each a fresh process per (variant, N) "
        f"({env['warmup']} warm-up + {env['steps']} timed steps, median), order alternating per round",
        "",
        "| N | afuse step (s) | adapters step (s) | speed-up (median of rounds) | per-round | afuse / own ST-A | "
        "afuse peak RSS (MiB) | adapters peak RSS (MiB) | trainable afuse / adapters |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, row in rows.items():
        a, h = row["afuse"], row["adapters"]
        own = f"{a['step_s'] / st_a:.2f}×" if st_a else "—"
        lines.append(
            f"| {n if n else '0 (ST-A)'} | {a['step_s']:.3f} | {h['step_s']:.3f} | {a['speedup']:.2f}× | "
            f"{', '.join(f'{x:.2f}' for x in a['speedup_rounds'])} | {own} | {a['rss_mib']:.0f} | "
            f"{h['rss_mib']:.0f} | {a['trainable']:,} / {h['trainable']:,} |"
        )
    lines += ["", *command_block("experiments/bench_fusion.py", argv)]
    return "\n".join(lines)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(ap)
    ap.add_argument("--fuse", type=int, nargs="+", default=[0, 2, 4, 8, 16, 32])
    args = ap.parse_args(argv)
    env = environment(args)
    rows = summary(interleaved(args.fuse, args, ("afuse", "adapters")))
    publish(args, markdown(env, rows, argv), env, rows)


if __name__ == "__main__":
    main()
