"""`resume=<run id>` never takes a run whose process is alive: two processes would share its folder and MLflow run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest

from embedlab.errors import UserError
from embedlab.tracking.resume import check_owner_gone
from embedlab.tracking.stale_runs import process_started, process_tags
from embedlab_testing import run_train, runs, tiny_overrides, write_checkpoint


def run_with(status: str, **tags: str):
    return SimpleNamespace(info=SimpleNamespace(status=status), data=SimpleNamespace(tags=tags))


def test_a_running_run_of_a_live_process_on_this_host_is_refused():
    with pytest.raises(UserError, match=f"still RUNNING in process {os.getpid()} on this host"):
        check_owner_gone(run_with("RUNNING", **process_tags()), "abc")


def test_a_running_run_of_another_host_is_refused_naming_it():
    with pytest.raises(UserError, match="RUNNING on host elsewhere, whose processes this host cannot see"):
        check_owner_gone(run_with("RUNNING", host="elsewhere", pid="12"), "abc")


def test_a_running_run_whose_process_is_gone_or_a_killed_run_may_be_resumed():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    check_owner_gone(run_with("RUNNING", host=socket.gethostname(), pid=str(dead.pid)), "abc")
    check_owner_gone(run_with("KILLED", **process_tags()), "abc")


def test_resume_by_id_of_a_live_run_is_one_line_and_leaves_it_alone(tiny_model_path, physics_folder, tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("physics", artifact_location=(tmp_path / "artifacts").as_uri())
    tags = {"host": socket.gethostname(), "pid": str(os.getpid()), "pid_started": str(process_started())}
    live = client.create_run(experiment, tags={**tags, "output_dir": str(tmp_path / "live")})  # this test's own
    result = run_train(
        *tiny_overrides(tiny_model_path, physics_folder),
        f"tracking.uri={uri}",
        f"resume={live.info.run_id}",
        f"hydra.run.dir={tmp_path / 'again'}",
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        f"error: resume={live.info.run_id}: that run is still RUNNING in process {os.getpid()} on this host; "
        "expected a run whose process has ended: wait for it, or stop it (Ctrl-C) and resume then"
    ]
    [run] = runs(uri)
    assert (run.info.run_id, run.info.status) == (live.info.run_id, "RUNNING")  # untouched, no second run
    assert not (tmp_path / "live").exists()
    client.set_terminated(live.info.run_id, status="KILLED")


def test_resume_true_takes_the_newest_run_with_a_checkpoint_not_a_newer_one_stopped_before_its_first(tmp_path):
    import mlflow

    from embedlab.tracking.resume import CONFIG_HASH_TAG, find_resume_point
    from embedlab.training.checkpoint import COMPLETE

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e")
    made = {}
    for name in ("older", "newer"):  # older: interrupted at step 2 with its checkpoint; newer: in its step-0 eval
        run = client.create_run(experiment, tags={CONFIG_HASH_TAG: "same", "output_dir": str(tmp_path / name)})
        client.set_terminated(run.info.run_id, "KILLED")
        made[name] = run.info.run_id
    checkpoint = write_checkpoint(tmp_path / "older" / "checkpoints" / "checkpoint-2")
    point = find_resume_point(client, experiment, True, "same")
    assert (point.run_id, point.checkpoint) == (made["older"], checkpoint)
    (checkpoint / COMPLETE).unlink()
    with pytest.raises(
        UserError, match=f"no unfinished run with this config has a complete checkpoint .*{made['newer']}"
    ):
        find_resume_point(client, experiment, True, "same")


def test_resume_true_with_one_setting_changed_names_it_and_the_run_it_differs_from(tmp_path):
    """`resume=true` after `hardware.threads=2` on another machine said only that no run had this config."""
    import mlflow

    from embedlab.tracking.resume import CONFIG_HASH_TAG, find_resume_point

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e")
    run = client.create_run(experiment, run_name="physics-mnrl 1207-222342", tags={CONFIG_HASH_TAG: "threads-1"})
    for key, value in {"hardware.threads": "1", "training.lr": "5e-05", "tracking.uri": "a"}.items():
        client.log_param(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, "KILLED")
    now = {"hardware.threads": "2", "training.lr": "5e-05", "tracking.uri": "b"}  # where it is tracked may differ
    with pytest.raises(UserError) as error:
        find_resume_point(client, experiment, True, "threads-2", now)
    assert str(error.value).startswith("resume=true: no unfinished run with this config in experiment e of ")
    assert (
        f"; the newest unfinished run, {run.info.run_id} (physics-mnrl 1207-222342), was started with "
        "hardware.threads=1, now 2; expected a FAILED or KILLED run"
    ) in str(error.value)


def test_resume_by_id_refuses_other_settings_in_one_line_before_work(tmp_path):
    import mlflow

    from embedlab.tracking.resume import find_resume_point

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e")
    run = client.create_run(experiment, tags={"output_dir": str(tmp_path / "run")})
    for key, value in {"training.batch_size": "8", "training.lr": "5e-5", "tracking.uri": "sqlite:///a.db"}.items():
        client.log_param(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id, "KILLED")
    checkpoint = write_checkpoint(tmp_path / "run" / "checkpoints" / "checkpoint-1")
    same = {"training.batch_size": "8", "training.lr": "5e-5", "tracking.uri": "sqlite:///b.db"}  # moved store: fine
    assert find_resume_point(client, experiment, run.info.run_id, "any", same).checkpoint == checkpoint
    with pytest.raises(UserError) as refused:  # e.g. the run was a debug=tiny one and this command is not
        find_resume_point(client, experiment, run.info.run_id, "any", {**same, "training.batch_size": "32"})
    assert str(refused.value) == (
        f"resume={run.info.run_id}: that run was started with other settings (training.batch_size=8, now 32); "
        "expected the run's own overrides with resume= (its tag `command`), or a new run without it"
    )


def runs_with_ids(client, experiment: str, ids: list[str], monkeypatch, **tags: str) -> list[str]:
    """KILLED runs with these ids (MLflow's SQLite store names a run by `uuid.uuid4().hex`)."""
    import uuid

    made = iter(ids)
    with monkeypatch.context() as patch:
        patch.setattr(uuid, "uuid4", lambda: uuid.UUID(next(made)))
        runs = [client.create_run(experiment, tags=tags) for _ in ids]
    for run in runs:
        client.set_terminated(run.info.run_id, "KILLED")
    return [run.info.run_id for run in runs]


def test_a_run_id_prefix_names_its_run_or_lists_the_runs_it_could_be(tmp_path, monkeypatch):
    import mlflow

    from embedlab.tracking.resume import run_by_id

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    a, b = runs_with_ids(
        client, client.create_experiment("e"), ["5790e106a" + "0" * 23, "5790e106b" + "0" * 23], monkeypatch
    )
    assert run_by_id(client, "5790e106a").info.run_id == a  # unique: that run, as git takes a commit's prefix
    assert run_by_id(client, b, "reproduce").info.run_id == b
    with pytest.raises(UserError) as several:
        run_by_id(client, "5790e106")
    assert str(several.value).startswith(f"resume=5790e106 matches several MLflow runs: {a} (") and b in str(
        several.value
    )
    assert str(several.value).endswith("expected more characters of one id")
    too_few = "that id (3 characters: too few to look it up as the start of one)"
    for typed, what in [("0123456789", "an id starting with 0123456789"), ("yes", too_few)]:
        with pytest.raises(UserError) as none:
            run_by_id(client, typed)
        assert str(none.value).startswith(f"resume={typed}: no MLflow run in {uri} has {what}; expected true (")
    with pytest.raises(UserError, match="first 8 or more characters"):
        run_by_id(client, "5790e1")  # a prefix shorter than 8 is no prefix


def test_resume_takes_a_run_id_as_typed_not_as_the_number_hydra_reads(
    tiny_model_path, physics_folder, tmp_path, monkeypatch
):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("physics", artifact_location=(tmp_path / "artifacts").as_uri())
    ids = ["5790e106" + "1" * 24, "0123e456" + "2" * 24]  # read as 5.79e+109 and 1.23e+458 (inf) by Hydra
    for run_id in runs_with_ids(client, experiment, ids, monkeypatch, output_dir=str(tmp_path / "gone")):
        for typed in (run_id[:8], run_id):
            result = run_train(
                *tiny_overrides(tiny_model_path, physics_folder),
                f"tracking.uri={uri}",
                f"resume={typed}",
                f"hydra.run.dir={tmp_path}/{typed}",
            )
            assert result.returncode == 2, result.stderr[-2000:]
            [line] = [line for line in result.stderr.splitlines() if line.strip()]
            assert line.startswith(
                f"error: resume: run {run_id} has no complete checkpoint under {tmp_path / 'gone'}; nothing to resume; "
            )


def test_resume_true_when_the_run_with_this_config_is_running_says_so(tmp_path):
    import mlflow

    from embedlab.tracking.resume import CONFIG_HASH_TAG, find_resume_point

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e")
    live = client.create_run(experiment, tags={CONFIG_HASH_TAG: "same", **process_tags()}).info.run_id  # this test's
    with pytest.raises(UserError) as refused:
        find_resume_point(client, experiment, True, "same")
    assert str(refused.value) == (
        f"resume=true: the run with this config, {live}, is still RUNNING (process {os.getpid()} on host "
        f"{socket.gethostname()}); expected a run whose process has ended: wait for it, or stop it (Ctrl-C) and "
        "resume then"
    )
    client.set_terminated(live, "KILLED")


def test_resume_null_says_null_is_not_a_value_of_resume(tiny_model_path, physics_folder, tmp_path):
    result = run_train(*tiny_overrides(tiny_model_path, physics_folder), "resume=null", f"hydra.run.dir={tmp_path}/r")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: resume=null cannot be null; expected true or false or an MLflow run id (or its first 8 or more "
        "characters)"
    ]


def test_resume_never_creates_an_experiment(tiny_model_path, physics_folder, tmp_path, monkeypatch):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    other = client.create_experiment("other", artifact_location=(tmp_path / "artifacts").as_uri())
    [run_id] = runs_with_ids(client, other, ["a1b2c3d4" + "3" * 24], monkeypatch, output_dir=str(tmp_path / "gone"))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    expected = {
        "true": f"error: resume=true: {store} has no experiment physics, so no unfinished run of this config; ",
        run_id: f"error: resume={run_id}: that run is in experiment other, and this command's experiment physics is "
        f"not in {store}; ",
    }
    for typed, line in expected.items():
        result = run_train(
            *tiny_overrides(tiny_model_path, physics_folder),
            f"tracking.uri={uri}",
            f"resume={typed}",
            f"hydra.run.dir={tmp_path}/r",
        )
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stderr.strip().splitlines()[-1].startswith(line)
        assert [e.name for e in client.search_experiments()] == ["other", "Default"]  # physics not created
