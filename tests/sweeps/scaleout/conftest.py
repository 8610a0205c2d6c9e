"""Scale-out fixtures: a throwaway PostgreSQL server, an MLflow tracking server on it, and what a study left.

The PostgreSQL server is Debian's (`apt-get install postgresql`; `make test-scaleout` installs it): `initdb` in a
temporary folder, `pg_ctl` on a free loopback port, run as the `postgres` user when the tests run as root (the
server refuses root), stopped at the end of the session. Without the binaries these tests are skipped, saying so.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from embedlab_testing import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bindir() -> Path | None:
    """Debian keeps initdb and pg_ctl in /usr/lib/postgresql/<major>/bin, not on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Postgres:
    """A running throwaway server; `database(name)` creates a database and returns its SQLAlchemy URL."""

    def __init__(self, bindir: Path, folder: Path, port: int, user: str | None) -> None:
        self.bindir, self.folder, self.port, self.user = bindir, folder, port, user

    def ctl(self, *args: str) -> None:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), *args]
        subprocess.run(command, check=True, capture_output=True, text=True, user=self.user, timeout=120)

    def url(self, database: str) -> str:
        return f"postgresql://embedlab@127.0.0.1:{self.port}/{database}"

    def database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres():
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found: `apt-get install postgresql` (make test-scaleout does)")
    user = "postgres" if os.geteuid() == 0 else None  # initdb and the server refuse to run as root
    folder = Path(tempfile.mkdtemp(prefix="embedlab-pg-"))
    if user:
        shutil.chown(folder, user)
    port = free_port()
    initdb = [str(bindir / "initdb"), "-D", str(folder / "data"), "-U", "embedlab", "--auth=trust", "-E", "UTF8"]
    subprocess.run(initdb, check=True, capture_output=True, text=True, user=user, timeout=120)
    server = Postgres(bindir, folder, port, user)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off"
    server.ctl("-o", options, "-l", str(folder / "server.log"), "-w", "start")
    yield server
    server.ctl("-m", "fast", "-w", "stop")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(postgres, tmp_path_factory):
    """`mlflow server` over a PostgreSQL database, artifacts in a temp folder; yields its http:// URI."""
    port = free_port()
    artifacts = tmp_path_factory.mktemp("mlartifacts")
    log = tmp_path_factory.mktemp("mlflow-server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--backend-store-uri",
        postgres.database("mlflow"),
        "--artifacts-destination",
        str(artifacts),
    ]
    with open(log, "w") as out:
        server = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a fresh database runs every migration first
    while True:
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(1)
    yield uri
    os.killpg(server.pid, 15)  # its own session: the uvicorn workers go with it
    server.wait(timeout=60)


@pytest.fixture
def scaleout_args(tiny_model_path, physics_folder, tmp_path) -> list[str]:
    """Tiny-model trials evaluated every 2 steps, everything on disk under tmp_path, lr and scale searched (and
    epochs, which `training.max_steps` makes moot)."""
    return [
        f"model.name_or_path={tiny_model_path}",
        f"dataset.path={physics_folder}",
        "hparams_search=physics",
        "hydra.sweeper.params={training.lr: 'tag(log, interval(1e-5, 1e-3))', loss.scale: 'interval(10.0, 40.0)'}",
        "training.eval_steps=2",
        "training.batch_size=8",
        "tracking.log_model=false",
        "hardware=cpu",
        "hardware.threads=1",  # 4 workers on 2 cores: one torch thread each
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
    ]


# Eight short trials on four joblib workers at once: four writers on each store
FOUR_JOBLIB_WORKERS = [
    "hydra.sweeper.n_trials=8",
    "training.max_steps=4",
    "hydra/launcher=joblib",
    "hydra.launcher.n_jobs=4",
]


@pytest.fixture
def four_workers_args(scaleout_args) -> list[str]:
    """A sweep's overrides for eight trials on four parallel joblib workers (add the stores)."""
    return ["-m", *scaleout_args, *FOUR_JOBLIB_WORKERS]


@pytest.fixture
def study_and_runs():
    """Loads (the one study in `storage`, the parent run, its child runs) of a sweep."""
    return load_study_and_runs


@pytest.fixture
def assert_study_matches_runs():
    """Checks what a user checks after a sweep: every trial finished once, one run each, the counts agree."""
    return check_study_matches_runs


def load_study_and_runs(storage: str, tracking_uri: str, experiment: str = "physics"):
    """(the one study in `storage`, the parent run, the child runs) of a sweep."""
    import mlflow
    import optuna

    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    client = mlflow.MlflowClient(tracking_uri)
    every = client.search_runs([client.get_experiment_by_name(experiment).experiment_id], max_results=5000)
    (parent,) = [r for r in every if "sweep_kind" in r.data.tags]
    children = [r for r in every if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return study, parent, children


def check_study_matches_runs(
    study, parent, children, n_trials: int, without_run: frozenset = frozenset(), why: str = ""
) -> None:
    """`without_run`: FAIL trials whose job may have died before it started its MLflow run. `why`: what to show
    when the check fails (`embedlab_testing.sweep_failures(result)`, the jobs' own logs)."""
    try:
        check_trials_and_runs(study, parent, children, n_trials, without_run)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- why trials failed, as the sweep said ---\n{why}") from None


def check_trials_and_runs(study, parent, children, n_trials: int, without_run: frozenset) -> None:
    """`n_trials`: the setting, which counts COMPLETE and PRUNED trials; a FAIL was run again in its place."""
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials))), numbers  # no duplicate or missing trial numbers
    states = {t.number: t.state.name for t in trials}
    assert set(states.values()) <= {"COMPLETE", "PRUNED", "FAIL"}, states
    assert sum(state != "FAIL" for state in states.values()) == n_trials, states
    assert all(t.value is not None for t in trials if t.state.name == "COMPLETE")
    assert all(t.value is None for t in trials if t.state.name == "FAIL")
    by_trial = {}
    for run in children:
        by_trial.setdefault(run.data.tags["sweep_trial"], []).append(run)
    missing = set(states) - {int(n) for n in by_trial}
    assert missing <= without_run and all(states[n] == "FAIL" for n in missing), (missing, states)
    assert len(by_trial) + len(missing) == len(trials), sorted(by_trial)
    expected = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
    for number, runs in by_trial.items():
        assert len(runs) == 1, f"trial {number} has {len(runs)} runs"
        assert runs[0].data.tags["sweep_state"] == states[int(number)]
        assert runs[0].info.status == expected[states[int(number)]]
    assert parent.info.status == "FINISHED"
    for state in ("COMPLETE", "PRUNED", "FAIL"):
        assert parent.data.metrics[f"n_{state.lower()}"] == list(states.values()).count(state)
