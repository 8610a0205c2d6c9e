"""The study's SQLite storage queues behind a locked file instead of failing after Python's 5 s."""

from __future__ import annotations

import sqlite3
import threading
import time

import optuna
import pytest

from embedlab.sweeps.storage import rdb_storage


def hold_lock(path, seconds: float) -> None:
    """Another writer: an exclusive transaction on the file for `seconds`."""
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    threading.Timer(seconds, lambda: (locker.rollback(), locker.close())).start()


def test_a_sqlite_study_waits_for_a_locked_file_where_the_default_fails(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=rdb_storage(url))
    default = optuna.load_study(study_name="s", storage=url)

    hold_lock(tmp_path / "optuna.db", 8.0)
    with pytest.raises(optuna.exceptions.StorageInternalError) as failed:
        default.set_user_attr("lost", 1)  # Python's sqlite3 gives up after 5 s
    assert "database is locked" in str(failed.value.__cause__ or failed.value.__context__)
    time.sleep(3.5)

    hold_lock(tmp_path / "optuna.db", 8.0)
    started = time.monotonic()
    study.set_user_attr("kept", 1)  # waits for the other writer, then writes
    assert time.monotonic() - started > 6
    assert optuna.load_study(study_name="s", storage=url).user_attrs == {"kept": 1}
