"""The Optuna storage behind a URL: a SQLite file is created or migrated safely before Optuna opens it, and
waits on its lock as long as MLflow's SQLite store does."""

from __future__ import annotations

from embedlab.errors import UserError
from embedlab.tracking.params import redact
from embedlab.tracking.sqlite_store import OPTUNA, prepare_sqlite_url, sqlite_file

SQLITE_WAIT_S = 20  # MLflow's SQLite store sets PRAGMA busy_timeout = 20000; Python's sqlite3 waits 5 s


def prepare_storage(url: str) -> None:
    """A `sqlite:` URL's file checked to be Optuna's storage (not MLflow's store), created or migrated if needed:
    before anything is written beside it (the one-sweeper lock) or in it."""
    prepare_sqlite_url(url, OPTUNA, f"hydra.sweeper.storage={redact(url)}")


def check_apart_from_tracking(storage: str, tracking_uri: str) -> None:
    """The study storage and the MLflow store are two files. One file named for both was made Optuna's storage by
    the sweeper, then refused as MLflow's store, and left so: every later run on that store was refused too."""
    study_file, store_file = sqlite_file(storage), sqlite_file(tracking_uri)
    if study_file is not None and store_file is not None and study_file.resolve() == store_file.resolve():
        raise UserError(
            f"hydra.sweeper.storage={redact(storage)} is the file of the MLflow store tracking.uri="
            f"{redact(tracking_uri)}; expected a file of its own for each: Optuna's study storage (e.g. "
            f"sqlite:///{study_file.resolve().parent / 'optuna.db'}) beside MLflow's store"
        )


def rdb_storage(url: str):
    """The RDBStorage that `optuna.create_study(storage=url)` would make, but a `sqlite:` one is first checked to
    be Optuna's (not MLflow's store) and created under a lock (embedlab.tracking.sqlite_store), and it waits up
    to 20 s for a locked file: with several parallel jobs writing their trials' reports, a writer queues instead
    of failing its trial after Python's default 5 s."""
    import optuna

    prepare_storage(url)
    engine_kwargs = {"connect_args": {"timeout": SQLITE_WAIT_S}} if url.startswith("sqlite:") else None
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
