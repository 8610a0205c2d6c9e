"""The address a run's summary prints lands on MLflow's runs table, not its GenAI view."""

from __future__ import annotations

from embedlab.tracking.store import default_tracking_uri, ui_command


def test_the_printed_address_opens_the_experiments_runs_table():
    runs_table = "http://127.0.0.1:5000/#/experiments/7/runs?workflowType=machine_learning"
    assert ui_command(default_tracking_uri(), "7") == f"make mlflow-ui   ->  {runs_table}"
    assert ui_command("sqlite:////abs/mlflow.db", "7").endswith(f"->  {runs_table}")
    assert (
        ui_command("http://host:5000", "7")
        == "open http://host:5000/#/experiments/7/runs?workflowType=machine_learning"
    )
    assert ui_command("http://host:5000") == "open http://host:5000"
