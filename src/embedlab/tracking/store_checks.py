"""Checks of the tracking store that need no MLflow import: `check_store_reachable`, run by `python -m train`
before any data or model loads, so that a store that cannot work answers in a second, and by
`MlflowTracker.connect()`. The registered model's name is the schema's rule (`embedlab.schema.groups`)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from embedlab.errors import UserError
from embedlab.tracking.params import redact
from embedlab.tracking.sqlite_store import MLFLOW, check_store_kind, in_memory_sqlite, sqlite_file
from embedlab.tracking.store import ARTIFACTS_FOLDER, artifact_folder

CONNECT_TIMEOUT_S = 5  # a TCP connect to a tracking or database server that takes longer is reported at once
ANSWER_TIMEOUT_S = 5  # a tracking server that accepted the connection must start its answer within this
# MLflow's HTTP settings while connecting: 3 tries of at most 15 s each, about 1 s and 2 s apart
CONNECT_HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}
# SQLAlchemy stores MLflow opens on a server (MLflow retries a refused connection for minutes)
DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
# the schemes MLflow 3 opens a tracking store for (mlflow.tracking._tracking_service.utils), besides plugins'
MLFLOW_SCHEMES = {"http", "https", "sqlite", *DATABASE_PORTS, "databricks", "databricks-uc", "uc"}
BARE_URIS = ("databricks", "databricks-uc", "uc")  # URIs MLflow takes without `://` (a Databricks workspace)
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def plugin_schemes() -> set[str]:
    """Schemes a tracking-store plugin registers (entry point group `mlflow.tracking_store`), read without MLflow."""
    from importlib.metadata import entry_points

    return {point.name for point in entry_points(group="mlflow.tracking_store")}


def check_store_reachable(uri: str, experiment: str | None = None) -> None:
    """A server answers a TCP connect within seconds; a SQLite store's folder and file, and the `experiment`'s
    artifact folder beside it, can be written; a folder store (a path, `file:`), which MLflow 3 refuses after a
    long start, is refused at once."""
    if re.match(r"^[\w.-]+:\d+(/|$)", uri):  # `127.0.0.1:5000`, `localhost:5000`: a server without its scheme
        raise UserError(
            f"tracking.uri={redact(uri)} has no scheme; expected http://{redact(uri)} for a tracking server "
            "(or sqlite:///<absolute path>.db for a file)"
        )
    parts = urllib.parse.urlsplit(uri)
    if uri in BARE_URIS:
        return  # MLflow's own names for a Databricks workspace: its client answers for them
    if not parts.scheme and (Path(uri).expanduser().is_file() or uri.endswith(SQLITE_SUFFIXES)):
        raise UserError(  # a path to a database file: not a folder store
            f"tracking.uri={redact(uri)} is a file path, not a tracking URI; expected "
            f"sqlite:///{Path(uri).expanduser().absolute()} for a SQLite file (sqlite:/// and its absolute path)"
        )
    if parts.scheme in ("", "file") or (len(parts.scheme) == 1 and uri[1:3] in (":\\", ":/")):  # C:\ on Windows
        raise UserError(
            f"tracking.uri={redact(uri)} is a folder store, which MLflow 3 no longer opens; expected "
            "sqlite:///<absolute path>.db (the default: mlflow.db at the repository root) or http(s)://<server>"
        )
    database = parts.scheme.split("+", 1)[0]  # `postgresql+psycopg2`: the database, then its driver
    if database not in MLFLOW_SCHEMES | plugin_schemes():  # `ftp://`, `sqllite:///`
        raise UserError(
            f"tracking.uri={redact(uri)}: MLflow has no tracking store for the scheme '{parts.scheme}'; expected "
            "sqlite:///<absolute path>.db, http(s)://<server>, or postgresql://, mysql://, mssql:// <database>"
        )
    if parts.scheme in ("http", "https"):
        if any(os.environ.get(v) for v in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy")):
            return  # a proxy decides; the fail-fast request settles it
        check_server_answers(uri, parts)
    if database in DATABASE_PORTS and parts.hostname:  # without a host: a local socket, which MLflow opens
        check_answers(uri, parts.hostname, parts.port or DATABASE_PORTS[database], f"a {database} server there")
    if parts.scheme == "sqlite" and in_memory_sqlite(uri):
        raise UserError(  # every record gone when the run ends
            f"tracking.uri={redact(uri)} is not a SQLite file MLflow keeps; expected sqlite:///<absolute path>.db "
            "(four slashes before /home/..., e.g. sqlite:////tmp/mlflow.db)"
        )
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///") :].split("?", 1)[0])
        folder = path.parent
        if not folder.is_dir():
            raise UserError(
                f"tracking.uri={redact(uri)} cannot be opened: folder {folder} does not exist; expected an existing folder"
            )
        if path.is_dir():
            raise UserError(f"tracking.uri={redact(uri)} cannot be opened: {path} is a folder; expected a .db file")
        # where a new experiment of this store keeps its artifacts, and this run's experiment (one made by `sudo` or a
        # container once: MLflow's PermissionError trace after the model loaded)
        artifacts = [folder / ARTIFACTS_FOLDER, *([artifact_folder(path, experiment)] if experiment else [])]
        where = folder
        try:  # SQLite writes a journal next to the database: the folder itself must take new files
            tempfile.TemporaryFile(dir=folder).close()
            if path.exists():
                where = path
                path.open("r+b").close()
            for where in (a for a in artifacts if a.is_dir()):
                tempfile.TemporaryFile(dir=where).close()
        except OSError as exc:
            raise UserError(
                f"tracking.uri={redact(uri)} cannot be opened for writing ({where}: {exc.strerror or exc}); "
                f"expected a folder, database file and {ARTIFACTS_FOLDER}/ folders this user can write"
            ) from None
        check_store_kind(path, MLFLOW, f"tracking.uri={redact(uri)}")  # not Optuna's storage; nothing written


def check_store_exists(uri: str, key: str) -> None:
    """`resume=` and `reproduce=` read runs an existing store holds: a SQLite file that is not there (a misspelt
    `tracking.uri`) is one line, before MLflow would create an empty store there and find no run in it."""
    path = sqlite_file(uri)
    if path is None or path.exists():
        return  # a server's, a database server's or an in-memory store's runs are its own to find
    nearby = sorted(p.name for p in path.parent.glob("*.db")) if path.parent.is_dir() else []
    there = f" ({path.parent} holds {', '.join(nearby[:5])})" if nearby else ""
    raise UserError(
        f"{key}: tracking store {redact(uri)} does not exist{there}; expected the store the run was logged to "
        "(tracking.uri=sqlite:///<absolute path>.db or $MLFLOW_TRACKING_URI)"
    )


def check_answers(uri: str, host: str | None, port: int, expected: str) -> None:
    """One line when nothing accepts a TCP connection at host:port within CONNECT_TIMEOUT_S."""
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise nothing_answers(uri, host, port, exc, expected) from None


def nothing_answers(uri: str, host: str | None, port: int, exc: OSError, expected: str) -> UserError:
    return UserError(
        f"tracking.uri={redact(uri)} cannot be opened: nothing answers at {host}:{port} "
        f"({exc.strerror or type(exc).__name__}); expected {expected} or a sqlite:/// store"
    )


def check_server_answers(uri: str, parts: urllib.parse.SplitResult) -> None:
    """One line when nothing accepts a TCP connection within CONNECT_TIMEOUT_S, or when a server accepts it but
    does not answer an HTTP request within ANSWER_TIMEOUT_S: MLflow would wait its full request timeout on each
    of its tries. Any answer counts (an error status, a closed connection): a server that answers is MLflow's
    to judge."""
    import http.client  # here, not at the top: only a server's URI needs it (~30 ms of every start-up)
    import ssl

    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # only liveness; nothing secret is sent
        server = http.client.HTTPSConnection(parts.hostname, port, timeout=ANSWER_TIMEOUT_S, context=context)
    else:
        server = http.client.HTTPConnection(parts.hostname, port, timeout=ANSWER_TIMEOUT_S)
    try:
        server.connect()
    except OSError as exc:
        raise nothing_answers(uri, parts.hostname, port, exc, "a running MLflow server (make mlflow-server)") from None
    try:
        server.request("GET", parts.path.rstrip("/") + "/health")
        server.getresponse().read(1)
    except TimeoutError:
        raise UserError(
            f"tracking.uri={redact(uri)} cannot be opened: {parts.hostname}:{port} accepts connections but does "
            f"not answer an HTTP request within {ANSWER_TIMEOUT_S} s; expected a running MLflow server "
            "(make mlflow-server) or a sqlite:/// store"
        ) from None
    except (OSError, http.client.HTTPException):
        pass  # it answered, if only by closing the connection
    finally:
        server.close()


@contextlib.contextmanager
def bounded_http_retries() -> Iterator[None]:
    """While connecting: a few quick tries with a bounded timeout, not MLflow's defaults (7 retries with
    backoff factor 2 and a 120 s timeout: minutes before a broken server is reported). A server that answers
    nothing was already refused by the TCP check; these retries are for a busy one that drops or stalls a
    request (four sweep workers connecting at once). Settings the user exported are kept."""
    quick = {key: value for key, value in CONNECT_HTTP_SETTINGS.items() if key not in os.environ}
    os.environ.update(quick)
    try:
        yield
    finally:
        for key in quick:
            os.environ.pop(key, None)
