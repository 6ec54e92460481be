"""What a sweep worker does with the next job after one of its jobs stopped on a signal: it
refuses it, and if its sweep process is gone it exits instead of waiting for more, at once or
the moment the sweep process goes (test_sweeps.py has the real parallel sweeps)."""

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from afuse import sweep_worker
from afuse.train import signals

REPO = Path(__file__).resolve().parents[2]


class Exited(Exception):
    pass


@pytest.fixture
def stopped(monkeypatch):
    def fake_exit(code):
        raise Exited(code)

    monkeypatch.setattr(sweep_worker.os, "_exit", fake_exit)
    monkeypatch.setattr(sweep_worker.logging, "shutdown", lambda: None)  # the session's handlers stay open
    watched = []
    monkeypatch.setattr(sweep_worker, "_watch_sweep", watched.append)  # no thread in the test process
    signals.remember_stop(signal.SIGTERM)
    yield watched
    signals.clear_stop()


def test_a_worker_whose_sweep_is_alive_refuses_the_job_and_watches_its_sweep(stopped, monkeypatch):
    monkeypatch.setattr(sweep_worker, "_sweep_parent", os.getppid())
    with pytest.raises(SystemExit) as refused:
        sweep_worker.refuse_after_stop()
    assert refused.value.code == 128 + signal.SIGTERM
    assert stopped == [signal.SIGTERM]


def test_a_worker_whose_sweep_is_gone_exits_at_once(stopped, monkeypatch):
    monkeypatch.setattr(sweep_worker, "_sweep_parent", os.getppid() + 1)  # another process handed it its jobs
    with pytest.raises(Exited) as exited:
        sweep_worker.refuse_after_stop()
    assert exited.value.args == (128 + signal.SIGTERM,)


def test_a_process_that_is_not_a_sweep_worker_only_refuses(stopped, monkeypatch):
    monkeypatch.setattr(sweep_worker, "_sweep_parent", None)
    with pytest.raises(SystemExit):
        sweep_worker.refuse_after_stop()
    assert stopped == []


def test_only_a_worker_process_notes_its_sweep_parent(monkeypatch):
    monkeypatch.setattr(sweep_worker, "_sweep_parent", None)
    sweep_worker.note_sweep_parent()  # the test process: a sequential sweep runs its jobs in its own
    assert sweep_worker._sweep_parent is None


# A worker (grandchild) refuses a job after a stop while its sweep process (child) is alive, then
# idles; the sweep process exits.
WORKER = """
import os, signal, time
from afuse import sweep_worker
from afuse.train import signals
sweep_worker._sweep_parent = os.getppid()
signals.remember_stop(signal.SIGTERM)
try:
    sweep_worker.refuse_after_stop()
except SystemExit:
    print("refused", flush=True)
time.sleep(120)  # as a loky worker waits for its next job
"""
SWEEP = f"""
import subprocess, sys
log = open(sys.argv[1], "w")
worker = subprocess.Popen([sys.executable, "-c", {WORKER!r}], stdout=subprocess.PIPE, stderr=log, text=True)
assert worker.stdout.readline() == "refused\\n"
print(worker.pid, flush=True)
"""


def test_a_stopped_worker_exits_when_its_sweep_process_goes_later(tmp_path):
    log = tmp_path / "worker.log"
    sweep = subprocess.run(
        [sys.executable, "-c", SWEEP, log], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert sweep.returncode == 0, sweep.stderr
    worker = int(sweep.stdout)
    try:
        deadline = time.monotonic() + 20
        while _running(worker):
            assert time.monotonic() < deadline, (
                "the stopped worker outlived its sweep process:\n" + log.read_text()
            )
            time.sleep(0.1)
    finally:
        with suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)
    assert "the sweep process is gone: this worker exits" in log.read_text()


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's new parent may be slow to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
