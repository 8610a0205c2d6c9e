"""A SQLite store file, MLflow's tracking store or Optuna's study storage, made safe to create and to migrate,
and checked for whose tables it holds before either tool opens it.

Both tools create their tables the first time they open a file, in many steps that SQLite does not undo when the
process dies half-way (`duplicate column name`, `table scorers already exists` ever after), and two processes
that open a fresh file together both try it (`table experiments already exists`). Here, by construction:

- a store is created or migrated by one process at a time: a `flock` on `<store>.lock` beside it, which the OS
  releases when its holder dies, even by SIGKILL;
- it is built under a temporary name in the same folder (`<store>.building-<pid>`, a copy of the store for a
  migration) and then renamed into place, so the real name never holds a half-built store; a temporary file
  that a killed builder left is removed by the next one;
- a store already at its tool's schema revision is opened as it is, without the lock;
- whose tables a file holds is read with sqlite3 first, and the other tool's store is refused before anything is
  written to it.

A store that is broken anyway (left half-built by an older version of embedlab) fails its migration on the copy
and is reported in one line that says to move it aside; the file itself is left as it was.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from embedlab.errors import UserError

log = logging.getLogger(__name__)

WAIT_S = 20  # how long a read waits on a file another process writes (MLflow's busy_timeout)


@dataclass(frozen=True)
class StoreKind:
    """One tool's store: the tables that tell it apart, and how its own code builds one."""

    tool: str  # MLflow / Optuna
    what: str  # what the store is to the user
    tables: frozenset[str]  # table names only this tool creates
    head: Callable[[], str]  # the schema revision the installed version of the tool writes
    build: Callable[[Path], None]  # create the tables in this file, or migrate them to `head`


@functools.cache
def mlflow_head() -> str:
    from mlflow.store.db.utils import _get_latest_schema_revision  # what MLflow's own `_verify_schema` compares

    return _get_latest_schema_revision()


def build_mlflow(path: Path) -> None:
    """What `SqlAlchemyStore` does to a new or old file on opening it, and `mlflow db upgrade` to an old one.

    Private helpers of `mlflow.store.db.utils`: MLflow has no public call that creates or upgrades a store
    without also opening it in place (tests/tracking/test_sqlite_store.py fails if they change).
    """
    from mlflow.store.db import utils

    with quiet_loggers("mlflow.store.db.utils", "alembic"):  # our own line says the store is being made
        engine = utils.create_sqlalchemy_engine(f"sqlite:///{path}")
        try:
            if not utils._all_tables_exist(engine):
                utils._initialize_tables(engine)  # the initial tables, then every migration
            if utils._get_schema_version(engine) != mlflow_head():
                utils._upgrade_db(engine)
        finally:
            engine.dispose()


@contextlib.contextmanager
def quiet_loggers(*names: str) -> Iterator[None]:
    """These loggers' INFO lines ("Creating initial MLflow database tables...", alembic's migration steps) are
    left out while the block runs; their warnings and errors still show."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@functools.cache
def optuna_head() -> str:
    import optuna

    return optuna.storages.RDBStorage("sqlite:///:memory:").get_head_version()


def build_optuna(path: Path) -> None:
    """What `RDBStorage` does to a new file, and `optuna storage upgrade` to an old one."""
    import optuna

    storage = optuna.storages.RDBStorage(f"sqlite:///{path}", skip_compatibility_check=True)
    try:
        if storage.get_current_version() != storage.get_head_version():
            storage.upgrade()
    finally:
        storage.engine.dispose()


MLFLOW = StoreKind(
    "MLflow",
    "tracking store",
    frozenset({"experiments", "runs", "metrics", "params", "tags", "experiment_tags", "latest_metrics"}),
    mlflow_head,
    build_mlflow,
)
OPTUNA = StoreKind(
    "Optuna",
    "study storage",
    frozenset({"studies", "trials", "version_info", "study_directions", "trial_params", "trial_values"}),
    optuna_head,
    build_optuna,
)


@dataclass(frozen=True)
class StoreFile:
    """What a store file holds, read with sqlite3 alone: its tables and its alembic revision (None: none yet)."""

    tables: frozenset[str]
    revision: str | None

    @property
    def empty(self) -> bool:
        return not self.tables

    def kind(self) -> StoreKind | None:
        return next((kind for kind in (MLFLOW, OPTUNA) if self.tables & kind.tables), None)


def read_store(path: Path, where: str) -> StoreFile:
    """The file's tables and revision, read without writing (a missing file: empty)."""
    if not path.exists() or path.stat().st_size == 0:
        return StoreFile(frozenset(), None)
    try:
        try:
            names, revision = read_tables(path, "ro")
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_READONLY_ROLLBACK":
                raise
            # a process killed while writing left a journal that must be rolled back first, as the tool would
            names, revision = read_tables(path, "rw")
    except sqlite3.Error as exc:
        raise UserError(
            f"{where} cannot be opened: {path} is not a readable SQLite database ({exc}); expected a SQLite file, or "
            "a path where none exists yet (the store is created there)"
        ) from None
    own = {name for name in names if not name.startswith(("sqlite_", "alembic_", "_alembic_"))}
    return StoreFile(frozenset(own), revision)


def read_tables(path: Path, mode: str) -> tuple[set[str], str | None]:
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=WAIT_S)) as db:
        db.execute("PRAGMA query_only = ON")
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = None
        if "alembic_version" in names:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
    return names, revision


def check_store_kind(path: Path, kind: StoreKind, where: str) -> StoreFile:
    """One line when the file holds another tool's tables, or tables of neither; nothing is written."""
    found = read_store(path, where)
    owner = found.kind()
    if owner is not None and owner is not kind:
        raise UserError(
            f"{where} cannot be opened: {path} is {owner.tool}'s {owner.what}, not an {kind.tool} {kind.what}; "
            f"expected a file of its own for {kind.tool} (e.g. {'mlflow.db' if kind is MLFLOW else 'optuna.db'})"
        )
    if owner is None and not found.empty:
        raise UserError(
            f"{where} cannot be opened: {path} holds tables of neither MLflow nor Optuna "
            f"({', '.join(sorted(found.tables)[:5])}); expected a new file or an {kind.tool} {kind.what}"
        )
    return found


def sqlite_file(url: str) -> Path | None:
    """`sqlite:////abs/x.db?timeout=5` -> /abs/x.db; None for another database or an in-memory one."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :].split("?", 1)[0]
    return Path(path) if path not in ("", ":memory:") else None


def in_memory_sqlite(url: str) -> bool:
    """`sqlite://` or `sqlite:///:memory:`: SQLAlchemy's in-memory database, gone with the process that opened it
    (no job, run or later command sees it); the three-slash `sqlite:///tmp/x.db` is a relative file instead."""
    return url.startswith("sqlite") and (
        not url.startswith("sqlite:///") or url.split("?", 1)[0] == "sqlite:///:memory:"
    )


def prepare_sqlite_url(url: str, kind: StoreKind, where: str) -> None:
    """`prepare_store` for the file a `sqlite:///` URL names; any other URL is left to its tool."""
    path = sqlite_file(url)
    if path is not None:
        prepare_store(path, kind, where)


def prepare_store(path: Path, kind: StoreKind, where: str) -> None:
    """Make `path` a complete store of `kind` at its tool's schema revision, before the tool opens it.

    Args:
        path: the SQLite file (it may not exist yet; its folder must).
        kind: MLFLOW or OPTUNA.
        where: the setting that named the file, for messages (`tracking.uri=sqlite:///…`).
    """
    if path.is_dir():  # SQLite's own word for it is "disk I/O error"
        name = f"{kind.tool.lower()}.db"
        raise UserError(f"{where} cannot be opened: {path} is a folder; expected a file in it, e.g. {path / name}")
    if check_store_kind(path, kind, where).revision == kind.head():
        return  # ready: the common case takes no lock
    if not path.parent.is_dir():
        raise UserError(f"{where} cannot be opened: folder {path.parent} does not exist; expected an existing folder")
    with store_lock(path, where):
        found = check_store_kind(path, kind, where)  # another process may have built it while this one waited
        if found.revision == kind.head():
            return
        remove_leftovers(path)
        if found.empty:
            log.info(f"Creating the {kind.tool} {kind.what} {path}")
        else:
            log.info(f"Migrating the {kind.tool} {kind.what} {path} from revision {found.revision} to {kind.head()}")
        build_in_place(path, kind, where, copy=not found.empty)


def build_in_place(path: Path, kind: StoreKind, where: str, copy: bool) -> None:
    """Build the store under a temporary name (from a copy of `path` when `copy`), then rename it to `path`."""
    building = path.with_name(f"{path.name}.building-{os.getpid()}")
    try:
        if copy:
            with contextlib.closing(sqlite3.connect(path, timeout=WAIT_S)) as source:
                with contextlib.closing(sqlite3.connect(building)) as target:
                    source.backup(target)  # a consistent copy, whatever the file's journal holds
        try:
            kind.build(building)
        except Exception as exc:
            from embedlab.config import first_line

            if not copy:
                raise
            raise UserError(
                f"{where} cannot be opened: {path} cannot be brought to {kind.tool}'s current schema "
                f"({first_line(exc)}): most likely an interrupted run of an older version left it half-built, or a "
                f"newer {kind.tool} wrote it; expected a complete store: move it aside (mv {path} {path}.broken) "
                "and run again, which creates a new one"
            ) from None
        if copy or path.exists() or not publish_new(building, path):  # an existing file here holds no tables
            os.replace(building, path)
    finally:
        for leftover in (building, building.with_name(building.name + "-journal")):
            leftover.unlink(missing_ok=True)


def publish_new(building: Path, path: Path) -> bool:
    """Give the new store its real name unless a file took that name meanwhile (a tool not behind this lock, such
    as `mlflow ui`, creating it): that one is kept. False where the file system has no hard links."""
    try:
        os.link(building, path)
    except FileExistsError:
        return True
    except OSError:
        return False
    return True


def remove_leftovers(path: Path) -> None:
    """Temporary files of builders that died (only the lock's holder builds, so every one found is stale)."""
    for leftover in path.parent.glob(f"{path.name}.building-*"):
        leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def store_lock(path: Path, where: str) -> Iterator[None]:
    """An exclusive `flock` on `<store>.lock`: held while this process builds the store, released by the OS if the
    process dies. The lock file stays (removing it would let two processes lock two different files)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; creation is not serialized there
        yield
        return
    lock = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise UserError(
            f"{where} cannot be opened: {lock} cannot be created ({exc.strerror or exc}); "
            "expected a folder this user can write"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info(f"Waiting for another process that creates or migrates {path}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
