"""Reading and writing weight files: safetensors always; `.bin` only through weights_only unpickling.

Users load adapters that others trained, so nothing here may execute code from a file:
safetensors holds raw tensors, and `torch.load(weights_only=True)` refuses anything but tensors
and plain containers.
"""

from __future__ import annotations

import io
import json
import pickle
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from afuse.atomic import atomic_write_bytes
from afuse.errors import AfuseError, ConfigError, MissingInputError
from afuse.modeling.pickle_scan import imported_names

FIX = (
    "If afuse wrote it, rerun the run that wrote it with force=true; if it was downloaded, download it again"
)


class CorruptWeightsError(AfuseError):
    """A weights file that is truncated or not what its name says; never loaded."""

    exit_code = 5

    def __init__(self, path: Path, detail: str, fix: str = FIX):
        self.path, self.detail = Path(path), detail
        super().__init__(f"{path} is truncated or damaged ({detail}); it was not loaded. {fix}")


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> Path:
    """Write safetensors atomically; `meta` (JSON-able) is stored under the metadata key 'afuse'."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    metadata = {"afuse": json.dumps(meta, sort_keys=True)} if meta is not None else None
    # Serialised in memory, written by Python: a full disk then raises an OSError with its errno
    # (a clear WriteError), where safetensors' own writer raises an opaque SafetensorError.
    return atomic_write_bytes(path, save(tensors, metadata=metadata))


def save_torch_state(path: str | Path, tensors: dict[str, torch.Tensor]) -> Path:
    """Write a plain dict of tensors with torch.save (the `.bin` other tools load by default),
    atomically. Nothing but tensors goes in, so weights_only loading reads it back."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """Tensors and the 'afuse' metadata (None if absent) of a safetensors file.

    safetensors checks that the header covers the file exactly, so a truncated file is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"weights file not found: {path}")
    tensors = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = (f.metadata() or {}).get("afuse")
            for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                tensors[key] = f.get_tensor(key)
        return tensors, (json.loads(raw) if raw else None)
    except (SafetensorError, ValueError) as exc:
        raise CorruptWeightsError(path, f"not a valid safetensors file: {exc}") from None


def load_state_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from `.safetensors`, or from a `.bin` through weights_only unpickling."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return load_tensors(path)[0]
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols it was not written with
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refused an object that is not a tensor
        raise ConfigError(
            f"{path}: refused to unpickle it: it holds objects other than tensors, and unpickling "
            f"those can run code ({_unpickler_reason(exc, path)}). Ask for a safetensors file instead"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CorruptWeightsError(path, f"not a readable torch file: {first}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{path}: expected a dict of tensors")
    return state


def _unpickler_reason(exc: Exception, path: Path) -> str:
    """torch's weights_only refusal is a page of advice; keep its one line that names the object.
    For some pickle protocols that line is empty: then name what the pickle imports, read from
    its opcodes (afuse/modeling/pickle_scan.py)."""
    for line in str(exc).splitlines():
        if "WeightsUnpickler error:" in line:
            reason = line.split("WeightsUnpickler error:", 1)[1].split(". Please", 1)[0].strip()
            if reason:
                return reason
    try:
        names = imported_names(path)
    except (OSError, ValueError):
        names = []
    return f"it would call {', '.join(names)}" if names else type(exc).__name__


def first_existing(directory: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (directory / name).is_file():
            return directory / name
    return None
