"""Copy the small, result-defining files of finished runs into a results folder, for committing.

    python experiments/keep_run_records.py runs/cpu_minilm results/cpu_minilm/runs

    python experiments/keep_run_records.py runs/cpu_minilm results/cpu_minilm/runs --fusion-layers 'cb/seed1'

    python experiments/keep_run_records.py runs/cpu_minilm_full results/cpu_minilm_full/runs --no-heads

Kept per run directory: config.yaml, metrics.json, activations.json, the stage-1 adapter
(adapter.safetensors + adapter_config.json, ~450 KB at rf 16 on MiniLM) and the head
(head.safetensors, ~600 KB): enough for `afuse report`, for stage 2 without stage 1, and for
`afuse evaluate` / `afuse predict` on every ST-A and Head record. A Fusion run's layer
(fusion.safetensors: 3·h² per layer, ~11 MB on MiniLM, ~85 MB on BERT-base, whatever N) and its
head are kept only for the runs --fusion-layers names (glob patterns on the run's path; '*' for
all): a dozen Fusion layers would be most of a repository, and the tree the GPU machine receives
is capped at 64 MiB. Reruns reproduce a Fusion layer exactly (same seed, settings, CPU kernels).
Left out: checkpoints, locks, failure records and the encoders (Full fine-tuning's, the MT-A
run's: 90-440 MB each): rerun that run with force=true (and save_encoder=true for Full) to
recreate them. Only complete runs are copied.

--no-heads leaves every head out (and with it `afuse evaluate` / `predict` on the records): the
report and stage 2 need only the metrics and the adapters. cpu_minilm_full uses it, so that the
repository plus the GPU check's carry stays under the device's cap (experiments/gpu/travel_size.py).
"""

import argparse
import shutil
import sys
from fnmatch import fnmatch
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from afuse.run_identity import find_run_dirs  # noqa: E402
from afuse.runs import is_complete  # noqa: E402

KEPT = (
    "config.yaml",
    "metrics.json",
    "activations.json",
    "adapter.safetensors",
    "adapter_config.json",
    "head.safetensors",
)
FUSION_FILES = (
    "fusion.safetensors",
    "head.safetensors",
)  # a Fusion run's head is of no use without its layer


def keep_records(src: Path, dst: Path, fusion_layers: tuple[str, ...] = (), heads: bool = True) -> list[Path]:
    copied = []
    # Run directories by their layout, not every metrics.json: `afuse evaluate` writes its own
    # under a run's eval/ folder.
    for run_dir in (run.path for run in find_run_dirs(src) if is_complete(run.path)):
        rel = run_dir.relative_to(src)
        out_dir = dst / rel
        out_dir.mkdir(parents=True, exist_ok=True)
        names = KEPT
        if (run_dir / "fusion.safetensors").is_file():
            wanted = any(
                fnmatch(str(rel), pattern) or fnmatch(str(rel), f"*{pattern}") for pattern in fusion_layers
            )
            names = (*(n for n in KEPT if n not in FUSION_FILES), *(FUSION_FILES if wanted else ()))
        if not heads:
            names = tuple(n for n in names if n != "head.safetensors")
        for name in names:
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, out_dir / name)
                copied.append(out_dir / name)
    return copied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="paths.runs of the experiment, e.g. runs/cpu_minilm")
    parser.add_argument("dst", type=Path, help="where the records go, e.g. results/cpu_minilm/runs")
    parser.add_argument(
        "--fusion-layers", nargs="*", default=(), help="keep the Fusion layer and head of these runs (globs)"
    )
    parser.add_argument(
        "--no-heads", action="store_true", help="leave out every head (the records can then not be evaluated)"
    )
    args = parser.parse_args()
    if not args.src.is_dir():
        raise SystemExit(f"{args.src} is not a directory: pass the experiment's paths.runs")
    copied = keep_records(args.src, args.dst, tuple(args.fusion_layers), heads=not args.no_heads)
    size = sum(p.stat().st_size for p in copied)
    print(f"copied {len(copied)} files ({size / 2**20:.1f} MiB) into {args.dst}")


if __name__ == "__main__":
    main()
