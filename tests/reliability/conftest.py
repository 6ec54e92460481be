"""Shared setup of the reliability tests: real `afuse` runs of the tiny model on CB, broken on purpose.

Every test runs the real commands, either in this process (`afuse_inproc`: fast, for what needs
no process of its own) or as child processes (harness.start / run_afuse: for kills, signals, locks
and sweeps). Faults are injected from outside (signals, truncated files, a full disk) or with a hook of the
training loop that fires at a chosen step (faults.py).

The uninterrupted run every resumed run is compared with (`reference`) and the prepared, tokenised
CB data are made once per session; each test gets its own copy of the data.

Every test here is marked slow (`make test` runs them, `make test-fast` leaves them out): even
the in-process ones train the tiny model for real, and the session's reference run alone costs
more than a quick loop should.
"""

from pathlib import Path

import pytest

from afuse.cli import main as afuse_main
from afuse.runs import read_metrics
from afuse.train import step_hooks

from .faults import fault_hook
from .harness import Reference, Result, make_root, overrides, run_dir

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    # pytest hands every collected item to this hook, not only this folder's: mark ours.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def afuse_inproc(capsys, monkeypatch):
    """afuse_inproc(command, *args, fault=None) -> Result: the CLI in this process (no start-up cost)."""

    def run(command: str, *args: str, fault: str | None = None) -> Result:
        capsys.readouterr()
        try:
            with monkeypatch.context() as patch:
                patch.setattr(step_hooks, "BEFORE_STEP", [fault_hook(fault)] if fault else [])
                afuse_main([command, *args])
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out + captured.err)

    return run


@pytest.fixture(scope="session")
def reference(tmp_path_factory, shared_data) -> Reference:
    """The uninterrupted run (seed 1), and the prepared + tokenised CB data under its root."""
    root = tmp_path_factory.mktemp("reference")
    try:
        afuse_main(["train-adapter", *overrides(root, shared_data)])
    except SystemExit as exit_:
        pytest.fail(f"the reference run failed with exit code {exit_.code}")
    return Reference(root, shared_data, read_metrics(run_dir(root)))


@pytest.fixture
def work(tmp_path, reference) -> Path:
    """A fresh root for one test, with a copy of the prepared and tokenised data."""
    return make_root(tmp_path, reference)
