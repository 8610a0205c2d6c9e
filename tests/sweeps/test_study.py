"""The Optuna study: trials a dead sweeper left RUNNING are failed, those of a live one are kept."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import optuna
import psutil
import pytest

from embedlab.sweeps.study import OWNER_HOST, OWNER_PID, OWNER_STARTED, ask, fail_orphaned_trials, reopen_trial


@pytest.fixture
def other_process():
    """A live process that is not this one: a sweeper that still runs."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def running_trial(study: optuna.Study, pid: int, started: float | None) -> None:
    trial = study.ask()
    trial.set_user_attr(OWNER_HOST, socket.gethostname())
    trial.set_user_attr(OWNER_PID, pid)
    if started is not None:
        trial.set_user_attr(OWNER_STARTED, started)


def test_a_trial_is_failed_only_when_its_own_process_is_gone(other_process):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    started = psutil.Process(other_process.pid).create_time()
    running_trial(study, other_process.pid, started)  # its sweeper still runs: kept
    running_trial(study, other_process.pid, None)  # a study from before start times were recorded: kept
    running_trial(study, other_process.pid, started - 100.0)  # its pid now names another process: failed
    running_trial(study, os.getpid(), None)  # this process asks: it cannot own an earlier trial
    assert fail_orphaned_trials(study) == 2
    assert [t.state.name for t in study.trials] == ["RUNNING", "RUNNING", "FAIL", "FAIL"]


def test_ask_records_the_owner_with_its_start_time():
    trial = ask(optuna.create_study(), {})
    assert trial.user_attrs[OWNER_PID] == os.getpid()
    assert trial.user_attrs[OWNER_STARTED] == psutil.Process().create_time()


def test_a_job_reopens_its_trial_by_number_and_reports_to_it(tmp_path):
    storage = f"sqlite:///{tmp_path}/optuna.db"
    study = optuna.create_study(study_name="s", storage=storage)
    study.ask()
    asked = study.ask()
    trial = reopen_trial(storage, "s", asked.number, optuna.pruners.NopPruner())
    trial.report(0.5, step=2)
    assert trial.number == asked.number and not trial.should_prune()
    assert optuna.load_study(study_name="s", storage=storage).trials[1].intermediate_values == {2: 0.5}


def test_optunas_trial_constructor_is_what_reopen_trial_calls():
    """`reopen_trial` calls `optuna.trial.Trial(study, trial_id)`, which Optuna does not promise to keep: this fails
    loudly when Optuna changes it, and no other module calls it."""
    import inspect
    from pathlib import Path

    assert list(inspect.signature(optuna.trial.Trial).parameters) == ["study", "trial_id"]
    src = Path(__file__).resolve().parents[2] / "src"
    callers = [p.relative_to(src).as_posix() for p in src.rglob("*.py") if "trial.Trial(" in p.read_text()]
    assert callers == ["embedlab/sweeps/study.py"]
