"""force=true over a finished run: the finished result stays until the new one is written.

    with replacing_finished(run_dir, keep_on=...):   # around the forced rerun's training
        ...

The finished run's files are moved into `.previous/` (renames on one filesystem: nothing is
copied) while the rerun trains, so the run directory never mixes old and new files. When the new
`metrics.json` is written, the old one is kept as `metrics.previous.json` and the rest of
`.previous/` is deleted. When the rerun fails (a damaged input, a wrong setting, Ctrl-C), the
finished files are moved back: the run is as finished as before. A rerun stopped so that SLURM
can requeue it keeps `.previous/`, and the requeued job resumes the forced rerun. A rerun killed
outright (kill -9) leaves `.previous/`; the next command on that run directory moves it back
(`recover_finished`) unless it is that requeued job.
"""

import logging
import shutil
from contextlib import contextmanager
from pathlib import Path

from afuse.runs import LOCK, METRICS, is_complete
from afuse.train.checkpoint_dirs import CHECKPOINT_DIR, remove_checkpoints

log = logging.getLogger(__name__)

HELD = ".previous"
PREVIOUS_METRICS = "metrics.previous.json"
# What a run directory holds besides its result: never moved with the result.
_NOT_RESULT = (LOCK, HELD, PREVIOUS_METRICS, "failed.json")


def _result_entries(run_dir: Path) -> list[Path]:
    return [
        path
        for path in run_dir.iterdir()
        if path.name not in _NOT_RESULT and not path.name.startswith(CHECKPOINT_DIR)
    ]


def hold_finished(run_dir: Path) -> bool:
    """Move a finished run's files into .previous/; False when there is no finished run."""
    if not is_complete(run_dir):
        return False
    held = run_dir / HELD
    shutil.rmtree(held, ignore_errors=True)
    held.mkdir()
    for path in _result_entries(run_dir):
        if path.name != METRICS:
            path.replace(held / path.name)
    (run_dir / METRICS).replace(held / METRICS)  # last: until here the run still reads as finished
    return True


def restore_finished(run_dir: Path) -> None:
    """Put the held finished run back in place of what a failed rerun left (its checkpoint too)."""
    held = run_dir / HELD
    if not (held / METRICS).is_file():
        return
    remove_checkpoints(run_dir)
    for path in _result_entries(run_dir):
        if not (held / path.name).exists():  # written by the failed rerun, not part of the old result
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for path in held.iterdir():
        if path.name != METRICS:
            target = run_dir / path.name
            if target.is_dir():
                shutil.rmtree(target)
            path.replace(target)
    (held / METRICS).replace(run_dir / METRICS)  # last: the run reads as finished once all is back
    shutil.rmtree(held, ignore_errors=True)


def release_finished(run_dir: Path) -> None:
    """The new result is written: keep the old metrics as metrics.previous.json, drop the rest."""
    held = run_dir / HELD
    if (held / METRICS).is_file():
        (held / METRICS).replace(run_dir / PREVIOUS_METRICS)
    shutil.rmtree(held, ignore_errors=True)


def recover_finished(run_dir: Path) -> None:
    """A forced rerun died without restoring the finished run (kill -9): put it back now."""
    if (run_dir / HELD / METRICS).is_file() and not is_complete(run_dir):
        log.warning(
            "%s: a forced rerun of this finished run did not finish; the finished run is restored", run_dir
        )
        restore_finished(run_dir)


@contextmanager
def replacing_finished(run_dir: Path, keep_held_on=lambda error: False):
    """Around a forced rerun. `keep_held_on(error)`: leave the held run for a requeued job."""
    # A requeued job of a forced rerun finds the finished run already held.
    held = hold_finished(Path(run_dir)) or (Path(run_dir) / HELD / METRICS).is_file()
    try:
        yield
    except BaseException as error:
        if held and not keep_held_on(error):
            restore_finished(Path(run_dir))
            log.warning("%s: the forced rerun stopped; the finished run is kept as it was", run_dir)
            if hasattr(error, "abandoned"):  # Preempted: its message must not promise a resume
                error.abandoned = True
        raise
    if held:
        release_finished(Path(run_dir))
