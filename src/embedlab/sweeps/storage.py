"""The Optuna storage behind a URL: a SQLite file waits on its lock as long as MLflow's SQLite store does."""

from __future__ import annotations

SQLITE_WAIT_S = 20  # MLflow's SQLite store sets PRAGMA busy_timeout = 20000; Python's sqlite3 waits 5 s


def rdb_storage(url: str):
    """The RDBStorage that `optuna.create_study(storage=url)` would make, but a `sqlite:` one waits up to 20 s
    for a locked file: with several parallel jobs writing their trials' reports, a writer queues instead of
    failing its trial after Python's default 5 s."""
    import optuna

    engine_kwargs = {"connect_args": {"timeout": SQLITE_WAIT_S}} if url.startswith("sqlite:") else None
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
