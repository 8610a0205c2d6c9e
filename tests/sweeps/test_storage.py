"""The study's SQLite storage queues behind a locked file instead of failing after Python's 5 s, and is never
MLflow's store (embedlab.tracking.sqlite_store, tests/tracking/test_sqlite_store.py)."""

from __future__ import annotations

import sqlite3
import threading

import optuna
import pytest

from embedlab.errors import UserError
from embedlab.sweeps.storage import SQLITE_WAIT_S, rdb_storage
from embedlab.tracking.sqlite_store import MLFLOW, OPTUNA, prepare_store, read_store


def busy_timeout_ms(storage) -> int:
    """How long a writer of `storage` waits for another writer's lock: SQLite's busy timeout on its connection."""
    connection = storage.engine.raw_connection()
    try:
        return connection.cursor().execute("PRAGMA busy_timeout").fetchone()[0]
    finally:
        connection.close()


def hold_lock(path, released: threading.Event) -> None:
    """Another writer: an exclusive transaction on the file, rolled back a moment later from another thread,
    which sets `released` first."""
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.5, lambda: (released.set(), locker.rollback(), locker.close())).start()


def test_a_sqlite_study_waits_for_a_locked_file_where_the_default_fails(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    storage = rdb_storage(url)
    study = optuna.create_study(study_name="s", storage=storage)
    default = optuna.storages.RDBStorage(url)  # what optuna.load_study(storage=url) opens
    assert busy_timeout_ms(default) == 5_000  # Python's sqlite3: a trial's report fails after 5 s of a lock
    assert busy_timeout_ms(storage) == SQLITE_WAIT_S * 1000 > busy_timeout_ms(default)

    released = threading.Event()
    hold_lock(tmp_path / "optuna.db", released)
    study.set_user_attr("kept", 1)  # waits for the other writer, then writes
    assert released.is_set()  # it returned after the other writer let go: it waited, and did not fail
    assert optuna.load_study(study_name="s", storage=url).user_attrs == {"kept": 1}


def test_a_storage_at_mlflows_store_is_refused_and_left_unwritten(tmp_path):
    """Each job reopens its trial through rdb_storage too: the check is there, not only in the sweeper."""
    mlflow_db = tmp_path / "mlflow.db"
    prepare_store(mlflow_db, MLFLOW, "x")
    before = mlflow_db.read_bytes()
    with pytest.raises(UserError, match=f"{mlflow_db} is MLflow's tracking store, not an Optuna study storage"):
        rdb_storage(f"sqlite:///{mlflow_db}")
    assert mlflow_db.read_bytes() == before


def test_a_storage_that_is_a_folder_says_so(tmp_path):
    """SQLite's own word for a folder is "disk I/O error"."""
    with pytest.raises(UserError, match=f"{tmp_path} is a folder; expected a file in it, e.g. {tmp_path}/optuna.db"):
        rdb_storage(f"sqlite:///{tmp_path}")


def test_a_new_storage_is_created_complete_in_a_folder_that_exists_only(tmp_path):
    rdb_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    assert read_store(tmp_path / "optuna.db", "").revision == OPTUNA.head()
    with pytest.raises(UserError, match=f"folder {tmp_path / 'missing'} does not exist"):
        rdb_storage(f"sqlite:///{tmp_path / 'missing' / 'optuna.db'}")
