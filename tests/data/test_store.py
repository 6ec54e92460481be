"""The locks on paths.data folders: a folder another process holds is waited for with a line that
says so, and one held too long (a stopped job) is one clear error, not a filelock traceback."""

import logging

import pytest
from filelock import FileLock

from afuse.data import store
from afuse.errors import AfuseError


def test_a_folder_locked_elsewhere_is_waited_for_then_refused_in_one_line(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(store, "LOCK_TIMEOUT_S", 0.3)
    holder = FileLock(tmp_path / ".lock")  # another process, as far as flock can tell
    holder.acquire()
    with caplog.at_level(logging.INFO), pytest.raises(AfuseError) as refused:
        with store.locked(tmp_path):
            pass
    assert f"{tmp_path}: another process holds it; waiting" in caplog.text
    assert str(tmp_path) in str(refused.value) and "paths.data" in str(refused.value)
    holder.release()
    with store.locked(tmp_path):  # free again: taken at once
        pass
