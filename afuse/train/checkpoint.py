"""Checkpoints for resuming a run: trainable weights, best weights, optimizer, RNG and loop state.

A checkpoint is a directory written whole and swapped in atomically (write `checkpoint.tmp/`,
rename the old one aside, rename the new one in), with a sha256 of every file in its
`state.json`, so a truncated or corrupt checkpoint is detected and never loaded silently.
Tensors go to safetensors; the optimizer/scheduler state (nested dicts of tensors and numbers)
is a torch file read back with `weights_only=True`, which refuses arbitrary pickled objects.
"""

import hashlib
import io
import json
import os
import pickle
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from afuse.atomic import _fsync_dir, write_error
from afuse.errors import CorruptCheckpointError
from afuse.train.checkpoint_dirs import CHECKPOINT_DIR, CHECKPOINT_OLD, CHECKPOINT_TMP


@dataclass
class LoopState:
    """Where the loop is: the next optimizer step to run and the early-stopping bookkeeping."""

    epoch: int = 0  # 0-based epoch in progress (or next to start)
    step_in_epoch: int = 0  # optimizer steps already done in that epoch
    global_step: int = 0
    best_accuracy: float = float("-inf")
    lowest_loss: float = float("inf")  # lowest validation loss of any epoch (counts as progress)
    best_epoch: int = -1
    epochs_without_gain: int = 0
    history: list[dict] = field(default_factory=list)
    train_s: float = 0.0  # seconds trained so far, by every process that worked on the run
    data_digest: str = ""  # the data it trains on (TaskData.fingerprint); "" in older checkpoints


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _rng_state() -> dict[str, torch.Tensor]:
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states.update({f"cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return states


def _set_rng_state(states: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(states["cpu"])
    cuda = [states[k] for k in sorted(states) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in tensors.items()}


def _torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _write_synced(path: Path, data: bytes) -> None:
    # Written by Python from bytes serialised in memory: a full disk raises an OSError naming its
    # errno (torch.save's own writer reports it as "unexpected pos"). fsync: the swap below must
    # never publish files whose data is still only in the page cache.
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def save_checkpoint(
    run_dir: Path,
    state: LoopState,
    params: dict[str, torch.Tensor],
    best: dict[str, torch.Tensor],
    optimizer_state: dict,
) -> Path:
    """Write the checkpoint as `checkpoint.tmp/` and swap it in; the previous one stays until then.

    A failed write (disk full) removes the partial `checkpoint.tmp/` and raises WriteError; the
    previous checkpoint is untouched.
    """
    run_dir = Path(run_dir)
    final, tmp, old = run_dir / CHECKPOINT_DIR, run_dir / CHECKPOINT_TMP, run_dir / CHECKPOINT_OLD
    shutil.rmtree(tmp, ignore_errors=True)
    files = {
        "trainable.safetensors": save(_contiguous(params)),
        "best.safetensors": save(_contiguous(best)),
        "rng.safetensors": save(_rng_state()),
        "optimizer.pt": _torch_bytes(optimizer_state),
    }
    sha256 = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    files["state.json"] = json.dumps({"loop": asdict(state), "sha256": sha256}, indent=1).encode()
    writing = tmp
    try:
        tmp.mkdir(parents=True)
        for name, data in files.items():
            writing = tmp / name
            _write_synced(writing, data)
        _fsync_dir(tmp)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)  # give the space back; find_checkpoint never reads .tmp
        raise write_error(writing, exc) from exc
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    tmp.rename(final)
    _fsync_dir(run_dir)
    shutil.rmtree(old, ignore_errors=True)
    return final


def find_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint directory (a crash mid-swap leaves `checkpoint.old`)."""
    for name in (CHECKPOINT_DIR, CHECKPOINT_OLD):
        candidate = Path(run_dir) / name
        if (candidate / "state.json").is_file():
            return candidate
    return None


@dataclass
class Checkpoint:
    state: LoopState
    params: dict[str, torch.Tensor]
    best: dict[str, torch.Tensor]
    optimizer_state: dict
    rng: dict[str, torch.Tensor]

    def restore_rng(self) -> None:
        _set_rng_state(self.rng)


def load_checkpoint(path: Path) -> Checkpoint:
    """Load and verify a checkpoint directory; any mismatch raises CorruptCheckpointError."""
    path = Path(path)
    try:
        meta = json.loads((path / "state.json").read_text())
        for name, expected in meta["sha256"].items():
            if _sha256(path / name) != expected:
                raise CorruptCheckpointError(
                    f"checkpoint file {path / name} is corrupt (sha256 mismatch); delete {path} to "
                    "restart this run from scratch, or rerun with force=true"
                )
        return Checkpoint(
            state=LoopState(**meta["loop"]),
            params=load_file(path / "trainable.safetensors"),
            best=load_file(path / "best.safetensors"),
            optimizer_state=torch.load(path / "optimizer.pt", weights_only=True, map_location="cpu"),
            rng=load_file(path / "rng.safetensors"),
        )
    except CorruptCheckpointError:
        raise
    except pickle.UnpicklingError:  # weights_only refused it: not what afuse writes, maybe hostile
        raise CorruptCheckpointError(
            f"checkpoint file {path / 'optimizer.pt'} holds objects other than tensors (refused to "
            f"unpickle it); delete {path} to restart this run from scratch, or rerun with force=true"
        ) from None
    # TypeError, AttributeError: a state.json of another shape (another version's loop state, a hand edit).
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError, SafetensorError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise CorruptCheckpointError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}: {first}); delete it to restart "
            "this run from scratch, or rerun with force=true"
        ) from exc
