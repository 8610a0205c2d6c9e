"""A password in a tracking URL never reaches the run's params, tags, artifacts, or the command's output.

The end-to-end test trains against a real `mlflow server` reached as http://alice:<secret>@127.0.0.1:<port>
(the server has no auth; the credentials travel as MLflow's own MLFLOW_TRACKING_USERNAME/PASSWORD).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from embedlab.errors import UserError
from embedlab.tracking.mlflow_run import MlflowTracker, credentials_to_env
from embedlab.tracking.params import flatten, redact
from embedlab_testing import run_train, runs, tiny_overrides

SECRET = "s3cret-Pw"
PG_SECRET = "pg-s3cret"


def test_redact_keeps_user_and_host():
    assert redact(f"postgresql://optuna:{PG_SECRET}@db:5432/optuna") == "postgresql://optuna:***@db:5432/optuna"
    assert PG_SECRET not in str(flatten({"hydra": {"sweeper": {"storage": f"postgresql://u:{PG_SECRET}@db/x"}}}))


def test_http_credentials_move_to_mlflow_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    assert credentials_to_env(f"https://alice:{SECRET}@mlflow.example:443/x") == "https://mlflow.example:443/x"
    assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == ("alice", SECRET)
    assert credentials_to_env("sqlite:///m.db") == "sqlite:///m.db"


def test_unreachable_store_error_has_no_password(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(UserError) as error:
        MlflowTracker(uri=f"http://alice:{SECRET}@127.0.0.1:{port}").connect()
    assert SECRET not in str(error.value) and "cannot be opened" in str(error.value)


def test_password_in_tracking_url_is_not_logged_or_printed(mlflow_server, tiny_model_path, physics_folder, tmp_path):
    import mlflow

    url, _ = mlflow_server
    with_password = url.replace("http://", f"http://alice:{SECRET}@")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    result = run_train(
        *tiny_overrides(tiny_model_path, physics_folder),
        f"tracking.uri={with_password}",
        f"+tracking.tags.optuna=postgresql://optuna:{PG_SECRET}@db/optuna",
        f"hydra.run.dir={tmp_path / 'run'}",
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert SECRET not in result.stdout + result.stderr
    assert PG_SECRET not in result.stdout + result.stderr
    [run] = runs(url)
    assert run.info.status == "FINISHED"
    assert run.data.params["tracking.uri"] == url.replace("http://", "http://alice:***@")
    logged = [*run.data.params.values(), *run.data.tags.values()]
    client = mlflow.MlflowClient(url)
    for artifact in ("config.yaml", "config.json", "overrides.txt"):
        logged.append(Path(client.download_artifacts(run.info.run_id, artifact, str(tmp_path))).read_text())
    assert not [text for text in logged if SECRET in text or PG_SECRET in text]
    assert run.data.tags["optuna"] == "postgresql://optuna:***@db/optuna"
    assert client.get_run(run.info.run_id)  # the store is reached through the URL without credentials
