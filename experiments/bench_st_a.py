"""One ST-A training step (forward, backward, AdamW; Pfeiffer adapter rf 16 + head) on MiniLM,
batch 32 × length 128: afuse vs AdapterHub `adapters` 1.3.0, interleaved in the same sitting.

    PYTHONPATH=. .venv/bin/python experiments/bench_st_a.py --rounds 5 --out results/bench/st_a.md

afuse runs twice: as shipped (fastops: fast CPU dropout and attention; first-token shortcut) and
with PyTorch's stock dropout and SDPA (`afuse_stock`; the shortcut stays on), so the report shows
where the difference comes from (bench_ablation.py separates all four combinations). The
adapters side is ../shared/anchors/adapters_bench.py, unmodified, in /work/venv-adapters.
"""

import argparse
import sys

from bench_common import command_block, common_args, environment, interleaved, publish, summary

VARIANTS = ("afuse", "afuse_stock", "adapters")


def markdown(env: dict, rows: dict, argv: list[str]) -> str:
    row = rows[0]
    lines = [
        "# ST-A training step: afuse vs AdapterHub `adapters`",
        "",
        "One training step (forward, backward, AdamW) of a Pfeiffer adapter (reduction factor 16, ReLU)",
        f"and a 2-label head on MiniLM-L6 (h = 384), batch {env['batch']} × length {env['length']}, random tokens.",
        "",
        f"- date: {env['date']}",
        f"- machine: {env['machine']}",
        f"- afuse: {env['afuse_stack']}; adapters: {env['adapters_stack']}",
        f"- torch threads: {env['threads']}; {env['rounds']} rounds, each a fresh process per variant "
        f"({env['warmup']} warm-up + {env['steps']} timed steps, median), variant order alternating",
        "",
        "| variant | median step (s) | speed-up vs adapters (median of rounds) | per-round speed-ups | trainable params | peak RSS (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        r = row[variant]
        speed = f"{r['speedup']:.2f}×" if "speedup" in r else "1.00×"
        rounds = ", ".join(f"{x:.2f}" for x in r.get("speedup_rounds", [])) or "—"
        name = "afuse_stock (stock dropout + SDPA, shortcut on)" if variant == "afuse_stock" else variant
        lines.append(
            f"| {name} | {r['step_s']:.3f} | {speed} | {rounds} | {r['trainable']:,} | {r['rss_mib']:.0f} |"
        )
    lines += [
        "",
        "All step times (s): "
        + "; ".join(f"{v}: {', '.join(f'{x:.3f}' for x in row[v]['all_s'])}" for v in VARIANTS),
        "",
        *command_block("experiments/bench_st_a.py", argv),
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(ap)
    args = ap.parse_args(argv)
    env = environment(args)
    rows = summary(interleaved([0], args, VARIANTS))
    publish(args, markdown(env, rows, argv), env, rows)


if __name__ == "__main__":
    main()
