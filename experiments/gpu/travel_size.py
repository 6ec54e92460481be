"""What a device call would send, against the device tool's 64 MiB cap, before device time is spent.

A call sends the working tree (tracked files and untracked files git does not ignore) plus the
paths named in `carry`; over 64 MiB the call is refused. Committed run records grow the tree
with every experiment, so prepare_carry.sh runs this last.

    python experiments/gpu/travel_size.py .gpu_carry

Exit 0 and the total when it fits; exit 1 and the largest folders when it does not.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

CAP_BYTES = 64 * 2**20


def working_tree_files(repo: Path, untracked: bool = True) -> list[Path]:
    """Tracked files that exist, and (unless untracked=False) untracked files git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", *(["--others", "--exclude-standard"] if untracked else [])],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    return [repo / name.decode() for name in listed if name and (repo / name.decode()).is_file()]


def carried_files(paths: list[Path]) -> list[Path]:
    return [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*"))) if f.is_file()]


def by_folder(files: list[Path], repo: Path, depth: int = 3) -> Counter:
    sizes: Counter = Counter()
    for f in files:
        parts = f.relative_to(repo).parts if f.is_relative_to(repo) else f.parts
        sizes["/".join(parts[:depth])] += f.stat().st_size
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("carry", nargs="*", type=Path, help="the paths the device call will carry")
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[2])
    args = parser.parse_args()
    repo = args.repo.resolve()
    tree = working_tree_files(repo)
    carry = carried_files([(p if p.is_absolute() else Path.cwd() / p).resolve() for p in args.carry])
    tree_bytes = sum(f.stat().st_size for f in tree)
    carry_bytes = sum(f.stat().st_size for f in carry)
    total = tree_bytes + carry_bytes
    mib = 2**20
    print(
        f"a device call would send {total / mib:.1f} MiB of its {CAP_BYTES / mib:.0f} MiB: "
        f"working tree {tree_bytes / mib:.1f} MiB + carry {carry_bytes / mib:.1f} MiB"
    )
    if total <= CAP_BYTES:
        return
    print("over the cap; the largest folders:", file=sys.stderr)
    for folder, size in by_folder(tree + carry, repo).most_common(8):
        print(f"  {size / mib:6.1f} MiB  {folder}", file=sys.stderr)
    print(
        "Carry less (experiments/gpu/prepare_carry.sh), or commit fewer weights "
        "(experiments/keep_run_records.py --no-heads).",
        file=sys.stderr,
    )
    sys.exit(1)


if __name__ == "__main__":
    main()
