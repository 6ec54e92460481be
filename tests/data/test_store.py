"""The locks on paths.data folders: a folder another process holds is waited for with a line that
says so, and one held too long (a stopped job) is one clear error, not a filelock traceback."""

import logging
import threading
import time

import pytest
from filelock import FileLock

from afuse.data import store
from afuse.errors import AfuseError


def test_a_folder_locked_elsewhere_is_waited_for_then_refused_in_one_line(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(store, "LOCK_TIMEOUT_S", 0.3)
    holder = FileLock(tmp_path / ".lock")  # another process, as far as flock can tell
    holder.acquire()
    with caplog.at_level(logging.INFO), pytest.raises(AfuseError) as refused, store.locked(tmp_path):
        pass
    assert f"{tmp_path}: another process holds it; waiting" in caplog.text
    assert str(tmp_path) in str(refused.value) and "paths.data" in str(refused.value)
    holder.release()
    with store.locked(tmp_path):  # free again: taken at once
        pass


def test_a_failed_step_removes_the_folders_its_lock_made(tmp_path):
    """`afuse evaluate data.raw_dir=<wrong>` from another folder left an empty data/prepared/<task>/
    there (holding only the lock): the lock made the folder before the raw files were found
    missing. Nothing is to be left by a step that fails on its input."""
    with pytest.raises(RuntimeError), store.locked(tmp_path / "data" / "prepared" / "cb"):
        raise RuntimeError("the raw files are not there")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_step_keeps_folders_that_were_there_or_hold_files(tmp_path):
    (tmp_path / "data" / "prepared").mkdir(parents=True)
    with pytest.raises(RuntimeError), store.locked(tmp_path / "data" / "prepared" / "cb"):
        raise RuntimeError
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["prepared"]
    assert list((tmp_path / "data" / "prepared").iterdir()) == []
    with pytest.raises(RuntimeError), store.locked(tmp_path / "data" / "prepared" / "rte"):
        (tmp_path / "data" / "prepared" / "rte" / "train.parquet").write_text("computed")
        raise RuntimeError
    assert (tmp_path / "data" / "prepared" / "rte" / "train.parquet").read_text() == "computed"
    with store.locked(tmp_path / "data" / "prepared" / "sst2"):  # no error: the folder stays
        pass
    assert (tmp_path / "data" / "prepared" / "sst2").is_dir()


def test_a_process_waiting_for_a_folder_removed_after_a_failure_takes_it_anew(tmp_path):
    """A sweep job waiting on the lock of a job that then fails on its input and removes the
    folder gets the lock on a folder made anew, not a FileNotFoundError."""
    folder = tmp_path / "data" / "prepared" / "cb"
    holding, took = threading.Event(), []

    def other_job():
        holding.wait()
        with store.locked(folder):
            took.append(folder.is_dir())

    waiter = threading.Thread(target=other_job)
    waiter.start()
    with pytest.raises(RuntimeError), store.locked(folder):
        holding.set()
        time.sleep(0.5)  # the other job is waiting for the lock by now
        raise RuntimeError("the raw files are not there")
    waiter.join(timeout=30)
    assert took == [True]
