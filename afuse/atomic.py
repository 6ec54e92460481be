"""Atomic file writes: a reader sees the old file or the whole new one, never a partial one.

Write to a temporary file in the same directory, fsync it, rename it over the target, fsync the
directory. A crash at any point leaves at worst a stray `.tmp-*` file, never a truncated target.
A write that fails (disk full, read-only output) removes its temporary file, leaves the target
as it was and raises WriteError, which names the file and says what to do.
"""

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from afuse.errors import WriteError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def write_error(path: str | Path, exc: OSError) -> WriteError:
    """The one-line error for an OSError while writing `path`."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno in NO_SPACE:
        advice = "free some space there (or point paths.* at another disk) and rerun"
    elif exc.errno in NOT_WRITABLE:
        advice = "make it writable, or point paths.* (or out=) at a writable directory"
    else:
        advice = "check that disk, then rerun"
    return WriteError(
        f"cannot write {path}: {reason}; {advice}. Finished runs and the last checkpoint are left as they were"
    )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)` and move the finished file to `path` atomically.

    An OSError from `write` is taken for a failed write of `path` (WriteError); other errors
    pass through unchanged.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from exc
    os.close(fd)
    # mkstemp makes the file 0600; give it the mode a plain open() would (umask), so results on a
    # shared cluster stay readable by the group.
    os.chmod(tmp_name, 0o666 & ~_umask())
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from exc
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
