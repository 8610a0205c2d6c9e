"""Opening a tracking server: a busy server that drops a request gets another try; a broken one is reported
after a liveness check and three quick tries, not after MLflow's minutes of retries."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from embedlab.errors import UserError
from embedlab.tracking.mlflow_run import MlflowTracker
from embedlab.tracking.store_checks import CONNECT_HTTP_SETTINGS


class DroppingProxy:
    """A TCP proxy to `upstream` that closes its first `drop` connections unanswered, as a server too busy to
    take a request does; `upstream=None` closes every one (something that listens but is not MLflow). Of each
    dropped connection it keeps the request line and MLflow's HTTP settings in effect while it was sent."""

    def __init__(self, upstream: tuple[str, int] | None, drop: int):
        self.upstream, self.drop, self.connections = upstream, drop, 0
        self.dropped: list[tuple[str, dict[str, str | None]]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            client, _ = self.listener.accept()
            self.connections += 1
            if self.upstream is None or self.connections <= self.drop:
                request = client.recv(65536)  # the request arrives, no answer leaves
                settings = {key: os.environ.get(key) for key in CONNECT_HTTP_SETTINGS}  # the sender waits for us
                self.dropped.append((request.decode(errors="replace").split("\r\n", 1)[0], settings))
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=pump, args=(source, sink), daemon=True).start()


def pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            s.close()


@pytest.fixture
def default_http_settings(monkeypatch):
    """MLflow's own HTTP settings as a user who exported none has them."""
    for key in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)


def test_a_dropped_request_is_tried_again(mlflow_server, default_http_settings):
    url, _ = mlflow_server
    port = int(url.rsplit(":", 1)[1])
    proxy = DroppingProxy(("127.0.0.1", port), drop=2)  # the TCP check's connection, then the first request
    tracker = MlflowTracker(uri=f"http://127.0.0.1:{proxy.port}", experiment="busy-server")
    tracker.connect()
    assert tracker.experiment_id is not None
    assert proxy.connections >= 3  # the dropped request was sent again


def test_a_server_that_never_answers_gets_one_check_and_three_bounded_tries(default_http_settings):
    """What bounds the wait is counted, not timed: the liveness check's one request (no retries, ANSWER_TIMEOUT_S),
    then MLflow's first request tried 1 + 2 times under CONNECT_HTTP_SETTINGS (at most 15 s each), not under
    MLflow's defaults (8 tries of up to 120 s each)."""
    proxy = DroppingProxy(None, drop=0)
    with pytest.raises(UserError, match=f"tracking.uri=http://127.0.0.1:{proxy.port} cannot be opened"):
        MlflowTracker(uri=f"http://127.0.0.1:{proxy.port}", experiment="broken-server").connect()
    (check, _), *tries = proxy.dropped
    assert check == "GET /health HTTP/1.1"  # store_checks.check_server_answers: one request, no retries
    assert len(tries) == 3 and len({request for request, _ in tries}) == 1  # one request, sent three times
    assert all(settings == CONNECT_HTTP_SETTINGS for _, settings in tries)
    assert not any(key in os.environ for key in CONNECT_HTTP_SETTINGS)  # the user's (unset) settings are back


def test_a_store_that_does_not_open_is_its_one_line_without_mlflows_log(tmp_path, monkeypatch, capsys):
    """MLflow's own log lines while the store is opened are shown when it opens and dropped when it does not: the
    error line says why (`tracking.uri=databricks` printed MLflow's WARNING about its SDK's credentials first)."""
    import logging

    import mlflow

    from embedlab.errors import UserError
    from embedlab.tracking.mlflow_run import MlflowTracker

    def refused(**kwargs):
        logging.getLogger("mlflow.utils.databricks_utils").warning("Failed to create databricks SDK client")
        raise ValueError("no credentials")

    monkeypatch.setattr(mlflow, "set_experiment", refused)
    with pytest.raises(UserError, match="cannot be opened: no credentials"):
        MlflowTracker(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="x").connect()
    assert "databricks" not in capsys.readouterr().err
    monkeypatch.undo()

    def opened(**kwargs):
        logging.getLogger("mlflow.store").warning("a warning of a store that opens")
        return real(**kwargs)

    real = mlflow.set_experiment
    monkeypatch.setattr(mlflow, "set_experiment", opened)
    MlflowTracker(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="x").connect()
    assert "a warning of a store that opens" in capsys.readouterr().err  # shown once the store opens
