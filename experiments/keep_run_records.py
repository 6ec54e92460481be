"""Copy the small, result-defining files of finished runs into a results folder, for committing.

    python experiments/keep_run_records.py runs/cpu_minilm results/cpu_minilm/runs

Kept per run directory: config.yaml, metrics.json, activations.json, the stage-1 adapter
(adapter.safetensors + adapter_config.json, ~450 KB at rf 16 on MiniLM), the head
(head.safetensors, ~600 KB) and the Fusion layer (fusion.safetensors, ~11 MB over 15 adapters on
MiniLM): enough for `afuse report`, for stage 2 without stage 1, and for `afuse evaluate` /
`afuse predict` on every ST-A, Head and Fusion record. Left out: checkpoints, locks, failure
records and the encoders (Full fine-tuning's, the MT-A run's: 90-440 MB each): rerun that run with
force=true (and save_encoder=true for Full) to recreate them. Only complete runs are copied.
"""

import argparse
import shutil
from pathlib import Path

KEPT = (
    "config.yaml",
    "metrics.json",
    "activations.json",
    "adapter.safetensors",
    "adapter_config.json",
    "head.safetensors",
    "fusion.safetensors",
)


def keep_records(src: Path, dst: Path) -> list[Path]:
    copied = []
    for metrics in sorted(src.rglob("metrics.json")):
        run_dir = metrics.parent
        out_dir = dst / run_dir.relative_to(src)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in KEPT:
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, out_dir / name)
                copied.append(out_dir / name)
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="paths.runs of the experiment, e.g. runs/cpu_minilm")
    parser.add_argument("dst", type=Path, help="where the records go, e.g. results/cpu_minilm/runs")
    args = parser.parse_args()
    if not args.src.is_dir():
        raise SystemExit(f"{args.src} is not a directory: pass the experiment's paths.runs")
    copied = keep_records(args.src, args.dst)
    size = sum(p.stat().st_size for p in copied)
    print(f"copied {len(copied)} files ({size / 2**20:.1f} MiB) into {args.dst}")


if __name__ == "__main__":
    main()
