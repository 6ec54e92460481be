"""Reading and writing weight files: safetensors always; `.bin` only through weights_only unpickling.

Users load adapters that others trained, so nothing here may execute code from a file:
safetensors holds raw tensors, and `torch.load(weights_only=True)` refuses anything but tensors
and plain containers.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from afuse.atomic import atomic_write
from afuse.errors import ConfigError, MissingInputError


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> Path:
    """Write safetensors atomically; `meta` (JSON-able) is stored under the metadata key 'afuse'."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    metadata = {"afuse": json.dumps(meta, sort_keys=True)} if meta is not None else None
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """Tensors and the 'afuse' metadata (None if absent) of a safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"weights file not found: {path}")
    tensors = {}
    with safe_open(str(path), framework="pt", device="cpu") as f:
        raw = (f.metadata() or {}).get("afuse")
        for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
            tensors[key] = f.get_tensor(key)
    return tensors, (json.loads(raw) if raw else None)


def load_state_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from `.safetensors`, or from a `.bin` through weights_only unpickling."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return load_tensors(path)[0]
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses code objects: say so instead of a traceback
        raise ConfigError(f"{path}: not a plain tensor checkpoint (refused to unpickle it): {exc}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{path}: expected a dict of tensors")
    return state


def first_existing(directory: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (directory / name).is_file():
            return directory / name
    return None
