"""The Optuna storage behind a URL: a SQLite file waits on its lock as long as MLflow's SQLite store does."""

from __future__ import annotations

SQLITE_WAIT_S = 20  # MLflow's SQLite store sets PRAGMA busy_timeout = 20000; Python's sqlite3 waits 5 s


def rdb_storage(url: str):
    """`url` itself, or for `sqlite:` an RDBStorage whose connections wait up to 20 s for a locked file.

    With several parallel jobs each writing its trial's reports, a writer that finds the file locked queues
    instead of failing its trial after Python's default 5 s.
    """
    if not url.startswith("sqlite:"):
        return url
    import optuna

    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": SQLITE_WAIT_S}})
