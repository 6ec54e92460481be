"""Rewrite a transformers wheel without the model families the GPU check never imports.

The tree that travels to the GPU machine is capped at 64 MiB, tracked files included. Of the
transformers 4.57 wheel that AdapterHub's `adapters` needs (12 MB), 9.9 MB is `models/`, ~400
architectures; the anchor's step (experiments/gpu/adapters_step.py: BertAdapterModel, Fuse,
AdamW) imports three of them: `auto`, `bert` and `encoder_decoder`. transformers loads model
families lazily, so a wheel with only those runs that step unchanged.

    python experiments/gpu/slim_wheel.py transformers-4.57.6-py3-none-any.whl --keep auto bert encoder_decoder

The wheel is rewritten in place (atomically), its RECORD listing only the files kept.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import zipfile
from pathlib import Path

DEFAULT_KEEP = ("auto", "bert", "encoder_decoder")


def kept(name: str, keep: tuple[str, ...]) -> bool:
    """False for files of transformers/models/<family>/ where family is not kept."""
    parts = name.split("/")
    if parts[:2] != ["transformers", "models"] or len(parts) < 4:
        return True  # everything outside a model family's folder, models/__init__.py included
    return parts[2] in keep


def slim(wheel: Path, keep: tuple[str, ...] = DEFAULT_KEEP) -> tuple[int, int]:
    """Rewrite `wheel` keeping only `keep`'s model families; returns (bytes before, bytes after)."""
    before = wheel.stat().st_size
    fd, tmp = tempfile.mkstemp(dir=wheel.parent, suffix=".whl.tmp")
    os.close(fd)
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if not kept(info.filename, keep):
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(line for line in lines if kept(line.split(",", 1)[0], keep)).encode()
            dst.writestr(info, data)
    os.replace(tmp, wheel)
    return before, wheel.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("--keep", nargs="+", default=list(DEFAULT_KEEP), help="model families to keep")
    args = parser.parse_args()
    before, after = slim(args.wheel, tuple(args.keep))
    print(f"{args.wheel.name}: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
