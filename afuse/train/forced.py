"""force=true over a finished run: the finished result stays until the new one is written.

    with replacing_finished(run_dir, keep_on=...):   # around the forced rerun's training
        ...

The finished run's files are moved into `.previous/` (renames on one filesystem: nothing is
copied) while the rerun trains, so the run directory never mixes old and new files. When the new
`metrics.json` is written, the old one is kept as `metrics.previous.json` and the rest of
`.previous/` is deleted, with a line naming the `eval/` and `predict/` folders that go with it (they
scored the old model; one line when the rerun starts says they will go). When the rerun fails (a damaged input, a wrong setting, Ctrl-C), the
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
HOLDING = f"{HELD}.partial"  # the finished run's files while they are being moved aside
PREVIOUS_METRICS = "metrics.previous.json"
# What a run directory holds besides its result: never moved with the result.
_NOT_RESULT = (LOCK, HELD, HOLDING, PREVIOUS_METRICS, "failed.json")
# What `afuse evaluate` / `afuse predict` write into a run directory (afuse/inference/outputs.py):
# outputs of the run's model, so they leave with it.
_MODEL_OUTPUTS = ("eval", "predict")


def _result_entries(run_dir: Path) -> list[Path]:
    return [
        path
        for path in run_dir.iterdir()
        if path.name not in _NOT_RESULT and not path.name.startswith(CHECKPOINT_DIR)
    ]


def _move(path: Path, target: Path) -> None:
    path.replace(target)


def hold_finished(run_dir: Path) -> bool:
    """Move a finished run's files into .previous/; False when there is no finished run.

    They go to .previous.partial/ first, which is renamed .previous/ once all are there: a
    process killed half way leaves .previous.partial/, which the next command moves back
    (undo_partial_hold) rather than taking a run with files missing for finished."""
    undo_partial_hold(run_dir)
    if not is_complete(run_dir):
        return False
    held, holding = run_dir / HELD, run_dir / HOLDING
    shutil.rmtree(held, ignore_errors=True)
    holding.mkdir()
    for path in _result_entries(run_dir):
        if path.name != METRICS:
            _move(path, holding / path.name)
    _move(run_dir / METRICS, holding / METRICS)  # last: until here the run still reads as finished
    holding.rename(held)
    return True


def undo_partial_hold(run_dir: Path) -> bool:
    """A forced rerun killed while it moved the finished run aside: move those files back."""
    holding = Path(run_dir) / HOLDING
    if not holding.is_dir():
        return False
    for path in sorted(holding.iterdir(), key=lambda p: p.name == METRICS):  # metrics.json last
        target = Path(run_dir) / path.name
        if target.is_dir():  # written since (an evaluation's eval/): keep the newer one
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            continue
        _move(path, target)
    holding.rmdir()
    log.warning("%s: a forced rerun stopped while setting this finished run aside; it is restored", run_dir)
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
    outputs = model_outputs(held)
    shutil.rmtree(held, ignore_errors=True)
    if outputs:
        log.warning("%s: removed %s: they scored the replaced model", run_dir, outputs)


def model_outputs(directory: Path) -> str:
    """'eval/ (test, validation) and predict/ (test)': evaluate's and predict's folders there."""
    found = []
    for name in _MODEL_OUTPUTS:
        if (directory / name).is_dir():
            inside = ", ".join(sorted(p.name for p in (directory / name).iterdir()))
            found.append(f"{name}/ ({inside})" if inside else f"{name}/")
    return " and ".join(found)


def recover_finished(run_dir: Path, requeued: bool = False) -> None:
    """A forced rerun died without restoring the finished run (kill -9): put it back now, unless
    this is its requeued SLURM job, which resumes it (a half-done hold is undone either way)."""
    undo_partial_hold(run_dir)
    if requeued:
        return
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
    outputs = model_outputs(Path(run_dir) / HELD) if held else ""
    if outputs:
        log.warning(
            "%s: force=true: %s of the finished run are removed when the new run is written "
            "(they score its model; a rerun that fails or is stopped keeps them)",
            run_dir,
            outputs,
        )
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
