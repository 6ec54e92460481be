"""A folder written whole or not at all: built in a hidden staging folder beside it, then renamed.

    with staged(out) as staging:      # .<out name>.partial-XXXXXXXX beside out
        write(staging.path)
        staging.publish()             # rename it to out (absent or empty)

An exception, Ctrl-C or SIGTERM inside the block (or leaving it unpublished) removes the staging folder (SIGTERM then stops
the command with ExportStopped, exit 143). SIGKILL or a power cut cannot run any code, so every
staging folder carries a marker file that its process holds `flock`ed while it writes; the next
`staged()` in the same parent folder removes the ones whose lock is free (their process is gone).
A folder without the marker, or one whose writer is alive, is never touched: only afuse's own
abandoned staging folders are removed.
"""

import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from afuse.atomic import write_error
from afuse.errors import AfuseError, ConfigError

log = logging.getLogger("afuse")

MARKER = ".afuse-staging"  # {"pid", "host", "out"}, flocked by the writing process
PARTIAL = ".partial-"


class ExportStopped(AfuseError):
    """SIGTERM while a staged folder was written: it was removed, nothing was published."""

    exit_code = 128 + signal.SIGTERM


class Staging:
    def __init__(self, path: Path, out: Path):
        self.path, self.out = path, out

    def publish(self) -> None:
        """Rename the finished folder to `out`, which must still be absent or empty."""
        try:
            if self.out.exists():
                self.out.rmdir()  # empty when checked; rename needs the name free
            self.path.rename(self.out)
        except OSError as exc:
            if self.out.exists() and any(self.out.iterdir()):  # another process wrote there since
                raise ConfigError(
                    f"out={self.out} was written meanwhile (another export?); choose a new directory"
                ) from None
            raise write_error(self.out, exc) from exc
        # After the rename, not before: a kill in between leaves a stray hidden file in a complete
        # folder, never a staging folder without its marker, which no one could safely remove.
        (self.out / MARKER).unlink(missing_ok=True)


@contextmanager
def staged(out: Path) -> Iterator[Staging]:
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned(out.parent)
        path = Path(tempfile.mkdtemp(prefix=f".{out.name}{PARTIAL}", dir=out.parent))
        lock = _hold_marker(path, out)
    except OSError as exc:
        raise write_error(out, exc) from exc
    try:
        with _sigterm_stops(out):
            yield Staging(path, out)
    finally:  # published: renamed away; otherwise (an error, Ctrl-C, SIGTERM) nothing is kept
        shutil.rmtree(path, ignore_errors=True)
        os.close(lock)


def remove_abandoned(parent: Path) -> None:
    """Remove the staging folders in `parent` whose process is gone (their marker's lock is free)."""
    for folder in parent.glob(f".*{PARTIAL}*"):
        if folder.is_symlink() or not folder.is_dir() or not (folder / MARKER).is_file():
            continue
        try:
            fd = os.open(folder / MARKER, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # its export is still writing
            continue
        try:
            shutil.rmtree(folder)
            log.info("removed %s, left by an export that was killed", folder)
        except OSError as exc:
            log.warning("could not remove %s, left by a killed export: %s", folder, exc)
        finally:
            os.close(fd)


def _hold_marker(folder: Path, out: Path) -> int:
    """The marker appears already locked (written under another name, renamed once locked), so a
    concurrent remove_abandoned never sees it unlocked while this process lives."""
    temporary = folder / f"{MARKER}.tmp"
    fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "out": str(out)}
        os.write(fd, json.dumps(owner).encode())
        temporary.rename(folder / MARKER)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def _sigterm_stops(out: Path) -> Iterator[None]:
    """SIGTERM (a scheduler, `kill`) raises ExportStopped, so the staging folder is removed."""

    def stop(_signum, _frame):
        raise ExportStopped(
            f"stopped by SIGTERM before the export was complete: nothing was written at out={out}; "
            "rerun the same command to export"
        )

    installed, previous = False, None
    with suppress(ValueError):  # not the main thread: no handler, SIGTERM stops as it would
        previous = signal.signal(signal.SIGTERM, stop)
        installed = True
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
