"""A SQLite store is safe to create and to migrate: interrupted at any moment, or created by several processes at
once, the next run opens it; a store broken anyway, or the other tool's, is one line and is left as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embedlab.errors import UserError
from embedlab.tracking.mlflow_run import MlflowTracker
from embedlab.tracking.sqlite_store import MLFLOW, OPTUNA, prepare_store, read_store
from embedlab_testing import REPO

# what a run does to its store first: MLflow's through the tracker, Optuna's through the sweep's storage
OPEN = {
    "mlflow": "from embedlab.tracking.mlflow_run import MlflowTracker\n"
    "MlflowTracker(uri=sys.argv[1], experiment='e').connect()",
    "optuna": "import optuna\nfrom embedlab.sweeps.storage import rdb_storage\n"
    "optuna.create_study(study_name='s', storage=rdb_storage(sys.argv[1]), load_if_exists=True)",
}
KINDS = {"mlflow": MLFLOW, "optuna": OPTUNA}


def start(tool: str, db: Path, code: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-c", "import sys\n" + (code or OPEN[tool]), f"sqlite:///{db}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_while_building(process: subprocess.Popen, db: Path, after: float, sig: signal.Signals) -> bool:
    """Send `sig` `after` seconds after the process starts building `db`; True if it was still building then."""
    while process.poll() is None and not list(db.parent.glob(f"{db.name}.building-*")):
        time.sleep(0.005)
    time.sleep(after)
    building = process.poll() is None and bool(list(db.parent.glob(f"{db.name}.building-*")))
    process.send_signal(sig)
    process.communicate(timeout=120)
    return building


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["mlflow", "optuna"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_a_store_interrupted_while_it_is_created_opens_in_the_next_run(tool, sig, tmp_path):
    kind, landed = KINDS[tool], []
    for n, after in enumerate((0.0, 0.2, 0.8)):
        db = tmp_path / f"store{n}.db"
        landed.append(kill_while_building(start(tool, db), db, after, sig))
        assert not db.exists() or read_store(db, "").revision == kind.head()  # never half-built under its name
        again = start(tool, db)
        _, err = again.communicate(timeout=300)
        assert again.returncode == 0, err[-3000:]
        assert read_store(db, "").revision == kind.head()
        assert not list(tmp_path.glob(f"{db.name}.building-*"))  # the killed builder's file was removed
    assert any(landed), "no interrupt came while the store was being built"


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["mlflow", "optuna"])
def test_processes_that_create_a_fresh_store_together_all_open_it(tool, tmp_path):
    db = tmp_path / "store.db"
    processes = [start(tool, db) for _ in range(4)]
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
    assert read_store(db, "").revision == KINDS[tool].head()
    if tool == "mlflow":
        with sqlite3.connect(db) as con:
            assert con.execute("SELECT count(*) FROM experiments WHERE name = 'e'").fetchone() == (1,)


def old_mlflow_store(db: Path, steps_back: int = 8) -> str:
    """An MLflow store as an older MLflow left it: its tables `steps_back` migrations before the head, with one
    experiment of the user's in it. Returns its revision."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from mlflow.store.db import utils
    from mlflow.store.tracking.dbmodels.initial_models import Base

    config = utils._get_alembic_config(f"sqlite:///{db}")
    revision = [r.revision for r in ScriptDirectory.from_config(config).walk_revisions()][steps_back]
    engine = utils.create_sqlalchemy_engine(f"sqlite:///{db}")
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO experiments (experiment_id, name, lifecycle_stage) VALUES (7, 'kept', 'active')")
    return revision


def before_the_newest_table() -> str:
    """The revision before MLflow's newest migration that creates a table (3.17's head made `scheduler_leases`;
    3.18's head only changes a column's collation, which runs again without error)."""
    from alembic.script import ScriptDirectory
    from mlflow.store.db import utils

    script = ScriptDirectory.from_config(utils._get_alembic_config("sqlite://"))
    return next(r.down_revision for r in script.walk_revisions() if "op.create_table(" in Path(r.path).read_text())


def test_an_old_store_is_migrated_with_its_data(tmp_path):
    db = tmp_path / "mlflow.db"
    old = old_mlflow_store(db)
    assert old != MLFLOW.head()
    prepare_store(db, MLFLOW, "tracking.uri=x")
    assert read_store(db, "").revision == MLFLOW.head()
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT name FROM experiments WHERE experiment_id = 7").fetchone() == ("kept",)


@pytest.mark.slow
def test_a_migration_killed_half_way_leaves_the_old_store_as_it_was(tmp_path):
    db = tmp_path / "mlflow.db"
    old = old_mlflow_store(db, steps_back=40)
    before = digest(db)
    code = "from pathlib import Path\nfrom embedlab.tracking.sqlite_store import MLFLOW, prepare_store\n"
    code += "prepare_store(Path(sys.argv[1][len('sqlite:///'):]), MLFLOW, 'x')"
    assert kill_while_building(start("mlflow", db, code), db, 0.3, signal.SIGKILL)
    assert digest(db) == before and read_store(db, "").revision == old
    MlflowTracker(uri=f"sqlite:///{db}", experiment="after").connect()
    assert read_store(db, "").revision == MLFLOW.head()


def test_a_store_an_older_version_left_half_migrated_is_one_line_and_left_as_it_was(tmp_path):
    """A migration's tables exist but its revision was never written: as a run of an older version that was
    killed between the two leaves it (`table scheduler_leases already exists` when MLflow opens it)."""
    db = tmp_path / "mlflow.db"
    prepare_store(db, MLFLOW, "tracking.uri=x")
    with sqlite3.connect(db) as con:
        con.execute("UPDATE alembic_version SET version_num = ?", (before_the_newest_table(),))
    before = digest(db)
    with pytest.raises(UserError) as failed:
        prepare_store(db, MLFLOW, f"tracking.uri=sqlite:///{db}")
    message = str(failed.value)
    assert "\n" not in message
    assert f"{db} cannot be brought to MLflow's current schema" in message
    assert f"move it aside (mv {db} {db}.broken)" in message
    assert digest(db) == before
    assert not list(tmp_path.glob("mlflow.db.building-*"))

    shutil.move(db, f"{db}.broken")  # what the message says to do
    MlflowTracker(uri=f"sqlite:///{db}", experiment="new").connect()
    assert read_store(db, "").revision == MLFLOW.head()


def test_a_file_that_is_not_a_database_is_one_line(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_text("not a database, " * 100)
    with pytest.raises(UserError, match=f"{db} is not a readable SQLite database"):
        prepare_store(db, MLFLOW, "tracking.uri=x")


def test_the_store_of_a_process_killed_while_writing_is_still_read(tmp_path):
    """A hot journal (a writer killed mid-transaction) is rolled back, as the tool itself would, not refused."""
    db = tmp_path / "optuna.db"
    prepare_store(db, OPTUNA, "x")
    code = (
        "import os, sqlite3\ndb = sqlite3.connect(sys.argv[1][len('sqlite:///'):], isolation_level=None)\n"
        "db.execute('PRAGMA cache_size = 1'); db.execute('BEGIN')\n"
        "db.executemany('INSERT INTO studies (study_name) VALUES (?)', [(f's{n}' + 'x' * 5000,) for n in range(2000)])\n"
        "os.kill(os.getpid(), 9)"
    )
    start("optuna", db, code).communicate(timeout=60)
    assert Path(f"{db}-journal").exists()
    assert read_store(db, "").revision == OPTUNA.head()
    prepare_store(db, OPTUNA, "x")


def test_a_store_of_a_newer_mlflow_is_one_line_and_left_as_it_was(tmp_path):
    db = tmp_path / "mlflow.db"
    prepare_store(db, MLFLOW, "x")
    with sqlite3.connect(db) as con:
        con.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")  # a revision this MLflow lacks
    before = digest(db)
    with pytest.raises(UserError, match="Can't locate revision.*or a newer MLflow wrote it"):
        prepare_store(db, MLFLOW, "x")
    assert digest(db) == before
