"""Where a run's checkpoint lives in its run directory, and removing it.

    checkpoint/        the newest complete checkpoint
    checkpoint.tmp/    one being written (afuse.train.checkpoint swaps it in whole)
    checkpoint.old/    the previous one, during the swap

Torch-free, unlike the checkpoint's contents (afuse.train.checkpoint): the run lifecycle (skip,
lock, force) and the result check use these names before torch is imported.
"""

import shutil
from pathlib import Path

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_TMP = f"{CHECKPOINT_DIR}.tmp"
CHECKPOINT_OLD = f"{CHECKPOINT_DIR}.old"
CHECKPOINT_DIRS = (CHECKPOINT_DIR, CHECKPOINT_TMP, CHECKPOINT_OLD)


def has_checkpoint(run_dir: Path) -> bool:
    """Whether a rerun would resume from something (checkpoint.old/tmp count: a swap may have been cut short)."""
    return any((Path(run_dir) / name).is_dir() for name in CHECKPOINT_DIRS)


def remove_checkpoints(run_dir: Path) -> None:
    for name in CHECKPOINT_DIRS:
        shutil.rmtree(Path(run_dir) / name, ignore_errors=True)
