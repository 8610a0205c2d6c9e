"""The job log `<run dir>/train.log` holds the run's own messages; the console shows them as before; the FAISS
loader's INFO lines and MLflow's warning about our local dataset source are gone."""

from __future__ import annotations

import logging

import pytest

from embedlab.logs import OtherLoggers, OwnMessages
from embedlab_testing import run_train, run_train_subprocess, tiny_overrides


def record(name: str, level: int) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, "message", None, None)


def test_own_messages_go_to_stdout_or_stderr_by_level_and_others_to_hydras_console():
    to_stdout, to_stderr, others = OwnMessages(errors=False), OwnMessages(errors=True), OtherLoggers()
    for name in ("embedlab", "embedlab.report", "embedlab.train"):
        assert to_stdout.filter(record(name, logging.WARNING)) and not to_stderr.filter(record(name, logging.WARNING))
        assert to_stderr.filter(record(name, logging.ERROR)) and not to_stdout.filter(record(name, logging.ERROR))
        assert not others.filter(record(name, logging.INFO))
    for name in ("embedlabx", "faiss.loader", "sentence_transformers.base.model", "root"):
        assert others.filter(record(name, logging.INFO))
        assert not to_stdout.filter(record(name, logging.INFO)) and not to_stderr.filter(record(name, logging.ERROR))


@pytest.mark.slow
def test_a_mining_run_writes_its_summary_to_the_job_log_and_not_the_noise(tiny_model_path, physics_folder, tmp_path):
    """A fresh process: FAISS is imported and MLflow's warnings fire for the first time, as in a user's run."""
    result = run_train_subprocess(
        "phase=hard_negatives",
        *tiny_overrides(tiny_model_path, physics_folder),
        "phase.relative_margin=null",  # the untrained tiny model scores everything alike
        f"phase.cache_dir={tmp_path / 'cache'}",
        f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    job_log = (tmp_path / "run" / "train.log").read_text(encoding="utf-8")
    assert "[embedlab.phases.hard_negatives][INFO] - hard negatives (mined now): " in job_log, job_log[-3000:]
    assert "[embedlab.run][INFO] - evaluation: " in job_log
    assert "[embedlab.report][INFO] - \nbest checkpoint: step " in job_log  # the summary's blank line kept
    assert "[embedlab.report][INFO] - MLflow run:      " in job_log
    assert "faiss.loader" not in job_log
    assert "interpreted in multiple ways" not in result.stderr
    # the console as before: the summary's lines on stdout, plain; other libraries' lines in Hydra's format
    stdout = result.stdout.splitlines()
    assert any(line.startswith("best checkpoint: step") for line in stdout)
    assert any(line.startswith("MLflow run:      ") for line in stdout)
    assert not any("[embedlab." in line for line in stdout)
    assert "][sentence_transformers." in result.stdout


def test_an_error_in_the_run_is_one_line_on_stderr_and_in_the_job_log(tmp_path):
    result = run_train("model.name_or_path=/no/such/model", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: model.name_or_path=/no/such/model")
    assert "error:" not in result.stdout
    assert line in (tmp_path / "run" / "train.log").read_text(encoding="utf-8")
