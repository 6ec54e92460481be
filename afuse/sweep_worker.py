"""A worker process of a parallel sweep (joblib's loky workers, hydra/launcher=local_parallel)
after one of its jobs stopped on a signal (SIGTERM, preemption, Ctrl-C).

A loky worker outlives its job and is handed the next queued one: it must start none. And once
its sweep process is gone no job will ever come, but loky only notices after its 5-minute idle
timeout: meanwhile the worker (and loky's resource tracker, which waits for it) holds the
terminal, the SLURM step or the test's process group. So a stopped worker leaves as soon as its
sweep process is gone, whether that is already so when its job stops or happens later.
"""

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time

from afuse.train import signals

# How often a stopped worker looks whether its sweep process is still there.
WATCH_INTERVAL_S = 0.2

# The process that handed this worker its first job: its sweep process. None outside a worker
# (a single run, or a sequential sweep whose jobs run in the sweep process itself).
_sweep_parent: int | None = None
_watching = False


def note_sweep_parent() -> None:
    """Called at the start of each job of a multirun."""
    global _sweep_parent
    if _sweep_parent is None and multiprocessing.parent_process() is not None:
        _sweep_parent = os.getppid()


def refuse_after_stop() -> None:
    """A worker whose earlier job was told to stop starts no other (it raises SystemExit)."""
    signum = signals.stopped_on()
    if signum is None:
        return
    logging.getLogger("afuse").warning(
        "not starting this job: an earlier job of this process stopped on %s; "
        "rerun the same command to continue the sweep",
        signal.Signals(signum).name,
    )
    leave_if_sweep_is_gone(signum)
    raise SystemExit(128 + signum)


def leave_if_sweep_is_gone(signum: int) -> None:
    """Exit now if the sweep process is gone (a SIGTERM to the process group usually kills it
    first); otherwise return, and leave the moment it goes."""
    if _sweep_parent is None:
        return
    if os.getppid() != _sweep_parent:
        _leave(signum)
    # Still there: the same SIGTERM may be killing it right now (its threads exit one by one
    # before its children are handed on), or a scheduler stops it later.
    _watch_sweep(signum)


def _watch_sweep(signum: int) -> None:
    global _watching
    if _watching:
        return
    _watching = True
    threading.Thread(
        target=_leave_when_sweep_is_gone, args=(signum,), name="afuse-sweep-watch", daemon=True
    ).start()


def _leave_when_sweep_is_gone(signum: int) -> None:
    while os.getppid() == _sweep_parent:
        time.sleep(WATCH_INTERVAL_S)
    _leave(signum)


def _leave(signum: int) -> None:
    logging.getLogger("afuse").warning("the sweep process is gone: this worker exits")
    logging.shutdown()  # flush the job's log file: os._exit skips interpreter shutdown
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)  # not SystemExit: loky would catch it and wait for the next job
