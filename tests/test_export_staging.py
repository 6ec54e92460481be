"""`afuse export` stopped half way: SIGTERM removes its hidden `.<out>.partial-*` staging folder at
once; one left by SIGKILL is removed by the next export. Nothing else beside `out` is touched."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from afuse.paths import conf_dir
from afuse.staging import staged
from tests.test_export import adapter_run, cli

pytestmark = pytest.mark.slow  # a child process per test

STOPPED_EXPORT = """
import os, signal, sys
from afuse import export
from afuse.cli import main

write = export._write_export
stop_signal, args = getattr(signal, sys.argv[1]), sys.argv[2:]  # main() rewrites sys.argv

def stop_when_written(*args, **kwargs):  # the staging folder holds the adapter and head by now
    written = write(*args, **kwargs)
    os.kill(os.getpid(), stop_signal)
    return written

export._write_export = stop_when_written
main(["export", *args])
"""


def stopped_export(signal_name: str, run_dir: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(conf_dir().parent)}
    args = [f"run={run_dir}", f"out={out}", f"paths.logs={out.parent.parent}/logs"]
    return subprocess.run([sys.executable, "-c", STOPPED_EXPORT, signal_name, *args],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_an_export_stopped_by_sigterm_removes_its_staging_folder(tmp_path):
    out = tmp_path / "exports" / "cb"
    result = stopped_export("SIGTERM", adapter_run(tmp_path), out)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "afuse export: error:" in line]
    assert len(errors) == 1 and "SIGTERM" in errors[0] and "rerun" in errors[0], result.stderr
    assert list(out.parent.iterdir()) == []  # neither out nor a staging folder


def test_the_next_export_removes_a_killed_exports_staging_folder_and_nothing_else(tmp_path):
    run_dir = adapter_run(tmp_path)
    out = tmp_path / "exports" / "cb"
    assert stopped_export("SIGKILL", run_dir, out).returncode == -signal.SIGKILL
    (left,) = out.parent.iterdir()
    assert left.name.startswith(".cb.partial-") and (left / "cb").is_dir()
    look_alike = out.parent / ".cb.partial-mine0000"  # a user's folder that only looks like one
    look_alike.mkdir()
    (look_alike / "notes.txt").write_text("mine")

    with staged(out.parent / "other") as running:  # another export, still writing
        assert cli("export", f"run={run_dir}", f"out={out}", f"paths.logs={tmp_path}/logs") == 0
        assert running.path.is_dir()
    assert not left.exists()
    assert (look_alike / "notes.txt").read_text() == "mine"
    assert (out / "export.json").is_file() and not any(p.name.startswith(".") for p in out.iterdir())
    assert sorted(p.name for p in out.parent.iterdir()) == [".cb.partial-mine0000", "cb"]
