"""paths.logs must be writable before Hydra starts a command: a read-only or full logs folder (or
one under a file) is one line naming it, not Hydra's chained OSError traceback, for every command
(`afuse status` too)."""

import errno

import pytest

from afuse import log_dir
from tests.commands import afuse_exit_code


def test_a_logs_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    code = afuse_exit_code("status", f"paths.runs={tmp_path}/runs", f"paths.logs={blocker}/logs")
    err = capsys.readouterr().err
    assert code == 7 and "Traceback" not in err, err
    [line] = [line for line in err.splitlines() if line.strip()]
    assert line.startswith("afuse status: error: cannot write ") and str(blocker) in line


@pytest.mark.parametrize("multirun", [False, True])
def test_a_read_only_logs_folder_says_what_to_do(multirun, tmp_path, capsys, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(log_dir.tempfile, "TemporaryFile", read_only)
    command = ["train-adapter", "-m", "task=cb", "model=tiny", "seed=1,2"] if multirun else ["status"]
    code = afuse_exit_code(*command, f"paths.runs={tmp_path}/runs", f"paths.logs={tmp_path}/logs")
    err = capsys.readouterr().err
    assert code == 7 and "Traceback" not in err, err
    assert "Read-only file system; make it writable, or point paths.*" in err
    assert not (tmp_path / "runs").exists()  # nothing started
