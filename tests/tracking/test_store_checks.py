"""A store that cannot work is one line from the real command, before any data or model loads: the other tool's
store (left unwritten), a server address without its scheme, a server that accepts and never answers."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from embedlab.tracking.sqlite_store import MLFLOW, OPTUNA, prepare_store
from embedlab_testing import run_train, run_train_subprocess


def error_line(result) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def base(tiny_model_path, physics_folder, tmp_path) -> list[str]:
    return [f"model.name_or_path={tiny_model_path}", f"dataset.path={physics_folder}", f"hydra.run.dir={tmp_path}/r"]


def test_a_tracking_uri_at_the_optuna_storage_is_one_line_and_writes_nothing(base, tmp_path):
    optuna_db = tmp_path / "optuna.db"
    prepare_store(optuna_db, OPTUNA, "x")
    before = digest(optuna_db)
    line = error_line(run_train(*base, f"tracking.uri=sqlite:///{optuna_db}"))
    assert f"tracking.uri=sqlite:///{optuna_db} cannot be opened: {optuna_db} is Optuna's study storage" in line
    assert digest(optuna_db) == before


def test_an_optuna_storage_at_the_mlflow_store_is_one_line_and_writes_nothing(base, tmp_path):
    mlflow_db = tmp_path / "mlflow.db"
    prepare_store(mlflow_db, MLFLOW, "x")
    before, files = digest(mlflow_db), sorted(tmp_path.iterdir())
    sweep = ["hparams_search=physics", "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={tmp_path}/s"]
    line = error_line(run_train("-m", *base, *sweep, f"hydra.sweeper.storage=sqlite:///{mlflow_db}"))
    assert f"{mlflow_db} is MLflow's tracking store, not an Optuna study storage" in line
    assert digest(mlflow_db) == before
    assert not (tmp_path / "s" / "0").exists()  # no job ran
    assert sorted(tmp_path.iterdir()) == files  # no study lock beside it either


@pytest.mark.parametrize("address", ["127.0.0.1:5000", "localhost:5000"])
def test_a_server_address_without_its_scheme_says_to_add_http(base, address):
    line = error_line(run_train(*base, f"tracking.uri={address}"))
    assert f"tracking.uri={address} has no scheme; expected http://{address}" in line


@pytest.mark.slow
def test_a_server_that_accepts_and_never_answers_is_one_line(base):
    """A listening socket that nobody serves: the kernel accepts the connection, no answer ever comes. The
    command must give up on its own (ANSWER_TIMEOUT_S), long before this test's timeout."""
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    try:
        result = run_train_subprocess(*base, f"tracking.uri=http://127.0.0.1:{port}", timeout=120)
    finally:
        silent.close()
    line = error_line(result)
    assert f"127.0.0.1:{port} accepts connections but does not answer an HTTP request within 5 s" in line


def test_an_artifact_folder_that_refuses_new_files_is_refused_with_the_store(tmp_path, monkeypatch):
    """The run's config and model go to mlartifacts/ beside a SQLite store: one that takes no new file (an
    immutable folder, another user's) is the store's one line before work, not a traceback once the run started."""
    import tempfile

    from embedlab.errors import UserError
    from embedlab.tracking.store_checks import check_store_reachable

    (tmp_path / "mlartifacts" / "physics").mkdir(parents=True)
    real = tempfile.TemporaryFile
    refused = {"mlartifacts"}

    def refusing(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).name in refused:
            raise PermissionError(1, "Operation not permitted")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", refusing)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(UserError, match="cannot be opened for writing .* mlartifacts/ folders this user can write"):
        check_store_reachable(uri)
    refused = {"physics"}  # the experiment's own folder (MLflow's PermissionError trace once the model had loaded)
    check_store_reachable(uri)  # another experiment's run writes elsewhere
    with pytest.raises(UserError, match=f"for writing \\({tmp_path / 'mlartifacts' / 'physics'}: Operation not"):
        check_store_reachable(uri, "physics")


def test_resume_or_reproduce_of_a_store_that_does_not_exist_is_one_line_and_creates_nothing(base, tmp_path):
    """A misspelt store name: MLflow would create an empty store there and then find no run in it."""
    (tmp_path / "mlflow.db").write_bytes(b"")  # the store the user meant, beside the misspelt one
    uri = f"sqlite:///{tmp_path / 'mlfow.db'}"
    expected = (
        f"tracking store {uri} does not exist ({tmp_path} holds mlflow.db); expected the store the run was logged "
        "to (tracking.uri=sqlite:///<absolute path>.db or $MLFLOW_TRACKING_URI)"
    )
    for command, key in [
        (["resume=true"], "resume=true"),
        (["reproduce=5790e106", "--cfg", "job"], "reproduce=5790e106"),
    ]:
        assert error_line(run_train(*base, f"tracking.uri={uri}", *command)) == f"error: {key}: {expected}"
        assert sorted(p.name for p in tmp_path.iterdir() if p.name != "r") == ["mlflow.db"]  # no mlfow.db, lock
        assert not (tmp_path / "r" / "checkpoints").exists()


def test_a_database_file_path_without_scheme_says_sqlite_and_databricks_is_no_folder_store(tmp_path):
    from embedlab.errors import UserError
    from embedlab.tracking.store_checks import check_store_reachable

    (tmp_path / "mlflow.db").write_bytes(b"")
    for given in (str(tmp_path / "mlflow.db"), str(tmp_path / "new.sqlite")):
        with pytest.raises(UserError) as refused:
            check_store_reachable(given)
        assert str(refused.value) == (
            f"tracking.uri={given} is a file path, not a tracking URI; expected sqlite:///{given} for a SQLite file "
            "(sqlite:/// and its absolute path)"
        )
    check_store_reachable("databricks")  # MLflow's name for a Databricks workspace; its client judges it
