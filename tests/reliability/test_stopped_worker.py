"""What a sweep worker does with the next job after one of its jobs stopped on a signal: it
refuses it, and if its sweep process is gone it exits instead of waiting for more
(test_sweeps.py has the real parallel sweep)."""

import os
import signal

import pytest

from afuse import cli
from afuse.train import signals


class Exited(Exception):
    pass


@pytest.fixture
def stopped(monkeypatch):
    def fake_exit(code):
        raise Exited(code)

    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    monkeypatch.setattr(cli.logging, "shutdown", lambda: None)  # the test session's handlers stay open
    signals.remember_stop(signal.SIGTERM)
    yield
    signals.clear_stop()


def test_a_worker_whose_sweep_is_alive_refuses_the_job_and_stays(stopped, monkeypatch):
    monkeypatch.setattr(cli, "_sweep_parent", os.getppid())
    with pytest.raises(SystemExit) as refused:
        cli.refuse_after_stop()
    assert refused.value.code == 128 + signal.SIGTERM


def test_a_worker_whose_sweep_is_gone_exits_at_once(stopped, monkeypatch):
    monkeypatch.setattr(cli, "_sweep_parent", os.getppid() + 1)  # another process handed it its jobs
    with pytest.raises(Exited) as exited:
        cli.refuse_after_stop()
    assert exited.value.args == (128 + signal.SIGTERM,)


def test_a_process_that_is_not_a_sweep_worker_only_refuses(stopped, monkeypatch):
    monkeypatch.setattr(cli, "_sweep_parent", None)
    with pytest.raises(SystemExit):
        cli.refuse_after_stop()
