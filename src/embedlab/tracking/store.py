"""Where a tracking store keeps its artifacts, and the command that opens it in the MLflow UI."""

from __future__ import annotations

import re
from pathlib import Path

from embedlab.config import REPO_ROOT
from embedlab.tracking.sqlite_store import sqlite_file

ARTIFACTS_FOLDER = "mlartifacts"  # the folder `make mlflow-server` gives --artifacts-destination


def default_tracking_uri() -> str:
    return f"sqlite:///{REPO_ROOT / 'mlflow.db'}"


def artifact_location(uri: str, experiment: str) -> str | None:
    """`file://<folder of the db>/mlartifacts/<experiment>` for a SQLite store; None (the store's own) otherwise.

    MLflow's default for a database store is `./mlruns` of whatever folder a command starts in, which scatters a
    store's artifacts over every folder it was used from. A server (`http://…`) keeps its own artifact root.
    """
    db = sqlite_file(uri)
    return None if db is None else artifact_folder(db, experiment).resolve().as_uri()


def artifact_folder(db: Path, experiment: str) -> Path:
    """`<folder of db>/mlartifacts/<experiment, in letters, digits, . _ ->`: a new experiment's artifacts."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", experiment).strip("._") or "experiment"
    return db.parent / ARTIFACTS_FOLDER / safe


def open_experiment(client, uri: str, name: str) -> str:
    """The id of experiment `name`, created with its artifacts beside the store if it does not exist yet."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location(uri, name))
    except Exception:  # another job of the same sweep created it a moment ago
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def prepare_tracking_store(uri: str) -> None:
    """A `sqlite:///` store created or migrated safely, before MLflow opens it (embedlab.tracking.sqlite_store)."""
    from embedlab.tracking.params import redact
    from embedlab.tracking.sqlite_store import MLFLOW, prepare_sqlite_url

    prepare_sqlite_url(uri, MLFLOW, f"tracking.uri={redact(uri)}")


RUNS_TABLE = "#/experiments/{}/runs?workflowType=machine_learning"  # MLflow 3 opens its GenAI view otherwise


def ui_address(base: str, experiment_id: str | None = None) -> str:
    """The experiment's runs table at `base` (MLflow's machine-learning view), or `base` without an experiment."""
    return f"{base.rstrip('/')}/{RUNS_TABLE.format(experiment_id)}" if experiment_id else base


def ui_command(uri: str, experiment_id: str | None = None) -> str:
    """The command that opens this store in the MLflow UI, and the address of the experiment's runs table."""
    local = ui_address("http://127.0.0.1:5000", experiment_id)
    if uri == default_tracking_uri():
        return f"make mlflow-ui   ->  {local}"
    if uri.startswith(("http://", "https://")):
        return f"open {ui_address(uri, experiment_id)}"
    return f"mlflow ui --port 5000 --backend-store-uri {uri}   ->  {local}"


def print_ui_addresses(uri: str, port: int) -> None:
    """One line per experiment of a SQLite store: its runs table in the UI `make mlflow-ui` starts."""
    db = sqlite_file(uri)
    if db is None or not db.is_file():
        return
    import mlflow

    for experiment in mlflow.MlflowClient(uri).search_experiments():
        print(f"{experiment.name:<20} {ui_address(f'http://127.0.0.1:{port}', experiment.experiment_id)}")
