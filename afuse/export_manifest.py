"""What an `afuse export` folder's export.json says of a directory in it, torch-free (`afuse fuse`
checks its sources with it before training, evaluate and predict pick the base model by it).

    exported_base(directory) -> ExportedBase | None   # None: not an adapter or fusion of an export

An exported adapter runs on the base its run was trained with: the encoder exported beside it
(out/encoder/: an MT-A run's fine-tuned encoder), else the run's model, which export.json records
(exports older than that record name only the encoder).
"""

import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "export.json"
ENCODER_DIR = "encoder"


@dataclass
class ExportedBase:
    """The base model under an exported adapter, from the export.json beside it."""

    export: Path  # the export's folder
    run: str  # the run it was exported from
    family: str
    model: dict | None  # the run's model config (None: an export older than this record)
    encoder: Path | None  # out/encoder/: the encoder the adapter was trained with
    encoder_trained: bool  # that encoder is a run's fine-tuned one (MT-A), not the base model's
    is_fusion: bool  # the directory is the export's fusion, not an adapter

    def model_config(self) -> dict | None:
        """The model to rebuild the adapter on: the exported encoder where there is one."""
        if self.encoder is None:
            return self.model
        name = (self.model or {}).get("name") or f"{self.export.name}/{ENCODER_DIR}"
        return {"name": name, "source": "folder", "path": str(self.encoder), "family": self.family}


def exported_base(directory: str | Path) -> ExportedBase | None:
    """What the export.json beside `directory` says of it, when `directory` is an adapter or the
    fusion of an afuse export; None for any other directory (the library's own, a moved copy)."""
    directory = Path(directory).expanduser()
    try:
        manifest = json.loads((directory.parent / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    if directory.name not in {*manifest.get("adapters", {}).values(), manifest.get("fusion")}:
        return None
    encoder = manifest.get("encoder")
    return ExportedBase(
        export=directory.parent,
        run=str(manifest.get("run")),
        family=str(manifest.get("family", "bert")),
        model=manifest.get("model"),
        encoder=directory.parent / encoder if encoder else None,
        # exports older than this record: an encoder there may be a fine-tuned one
        encoder_trained=bool(encoder) and manifest.get("encoder_trained", True) is not False,
        is_fusion=directory.name == manifest.get("fusion"),
    )
