"""`python -m train -m a=1,2 b=3,4`: a grid whose runs share one parent run (the default sweeper, embedlab_grid)."""

from __future__ import annotations

from embedlab_testing import run_train


def test_grid_lands_as_grouped_runs(run_sweep, sweep_runs):
    result = run_sweep("training.lr=1e-4,2e-4", "loss.scale=10,20")  # the README's grid: no sweeper named
    (parent,), children = sweep_runs()
    assert len(children) == 4 and parent.info.status == "FINISHED"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert {c.data.tags["sweep"] for c in children} == {parent.data.tags["sweep"]}
    assert {(c.data.params["training.lr"], c.data.params["loss.scale"]) for c in children} == {
        ("1e-4", "10"),
        ("1e-4", "20"),
        ("2e-4", "10"),
        ("2e-4", "20"),
    }  # numbers as run names write them: one spelling everywhere
    assert {c.data.tags["sweep_overrides"] for c in children} == {
        "training.lr=0.0001 loss.scale=10",
        "training.lr=0.0001 loss.scale=20",
        "training.lr=0.0002 loss.scale=10",
        "training.lr=0.0002 loss.scale=20",
    }  # only the swept keys: what tells the runs apart in the MLflow UI
    assert parent.data.tags["sweep"] in result.stdout


def test_two_grids_started_in_the_same_second_are_two_sweeps(frozen_clock, sweep_args, sweep_runs, tmp_path):
    """Their folders are `<time>` and `<time>-1`, and so are their names and `sweep` tags: filtering one sweep's
    runs by its tag never shows the other's."""
    args = [a for a in sweep_args if not a.startswith("hydra.sweep.dir=")]
    folder = f"hydra.sweep.dir=${{unique_folder:{tmp_path / 'multirun'}}}"  # conf/train.yaml's form
    for _ in range(2):
        result = run_train("-m", *args, folder, "training.lr=1e-4,2e-4")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    parents, children = sweep_runs()
    assert sorted(p.data.tags["sweep"] for p in parents) == ["grid-20261206-093015", "grid-20261206-093015-1"]
    for parent in parents:
        own = [c for c in children if c.data.tags["mlflow.parentRunId"] == parent.info.run_id]
        assert len(own) == 2 and {c.data.tags["sweep"] for c in own} == {parent.data.tags["sweep"]}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("multirun")) == ["multirun", "multirun-1"]


def test_a_grid_is_grouped_unless_hydras_own_sweeper_is_named(compose_config):
    def sweeper(*overrides: str) -> str:
        return compose_config(*overrides, hydra=True).hydra.sweeper._target_.rsplit(".", 1)[-1]

    assert sweeper() == "EmbedlabGridSweeper"
    assert sweeper("hparams_search=physics") == sweeper("hparams_search=quora_mixed") == "EmbedlabOptunaSweeper"
    assert sweeper("hydra/sweeper=basic") == "BasicSweeper"
    assert sweeper("experiment=retrieval", "hparams_search=physics") == "EmbedlabOptunaSweeper"


def test_a_launcher_that_cannot_start_a_grid_is_one_line(sweep_args, sweep_runs):
    """As for a study's trials: joblib refuses `n_jobs=0` only when it starts, which was a 54-line trace."""
    result = run_train("-m", *sweep_args, "loss.scale=10,20", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert "could not start the grid's jobs 0-1: ValueError: n_jobs == 0 in Parallel has no meaning" in line
    (parent,), children = sweep_runs()
    assert children == [] and parent.info.status == "FAILED"


def test_a_grid_over_a_chain_finds_its_best_job_and_logs_its_model(
    tiny_model_path, physics_folder, mlflow_uri, tmp_path
):
    """Each job is a chain: its result is its last stage's (a grandchild of the grid's parent), which the grid did
    not see: no best job, nothing logged, and both stages named like the job."""
    import mlflow

    from embedlab_testing import tiny_chain_overrides

    chain = ["experiment=physics_two_phase", *tiny_chain_overrides(tiny_model_path, tmp_path, physics_folder)]
    result = run_train(
        "-m", *chain, "tracking.log_model=true", "loss.scale=10,20", f"hydra.sweep.dir={tmp_path / 'multirun'}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = mlflow.MlflowClient(mlflow_uri)
    every = client.search_runs([e.experiment_id for e in client.search_experiments()])
    [parent] = [r for r in every if "sweep_kind" in r.data.tags]
    jobs = [r for r in every if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.info.run_name for r in jobs) == ["j00 scale=10", "j01 scale=20"]
    stages = sorted(r.info.run_name for r in every if r.data.tags.get("embedlab.stage"))
    assert stages == ["phase1 j00 scale=10", "phase1 j01 scale=20", "phase2 j00 scale=10", "phase2 j01 scale=20"]
    best = next(r for r in jobs if r.info.run_id == parent.data.tags["best_run_id"])
    assert "Best job j0" in result.stdout and parent.data.metrics["best_value"] == best.data.metrics["kept_ndcg_at_10"]
    [version] = client.search_model_versions("name='embedlab-physics'")  # the best job's model, and it alone
    assert version.run_id == best.data.tags["embedlab.kept_run_id"] == best.data.tags["embedlab.phase2_run_id"]


def test_a_job_that_fails_says_why_in_its_own_job_log(sweep_args, sweep_runs, tmp_path):
    """A failed sweep job's train.log ended at its last evaluator line: the `error:` line reached only the
    sweeper's console. Here every score is the same, so spearman has no value and each job stops at step 0."""
    data = tmp_path / "same_scores.csv"
    rows = [f"sentence {i} about topic {i},another sentence {i} on subject {i},0.5" for i in range(80)]
    data.write_text("sentence1,sentence2,score\n" + "\n".join(rows) + "\n")
    args = [a for a in sweep_args if not a.startswith("dataset.path=")]
    setting = ["dataset=local", "dataset.kind=scored_pairs", f"dataset.path={data}", "loss=cosent"]
    result = run_train("-m", *args, *setting, "optimized_metric=spearman", "training.lr=1e-4,2e-4")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "rror" in line]  # not Hydra's `Error executing job …`
    assert len(errors) == 1 and errors[0].startswith("error: grid job 0 (training.lr=0.0001) failed: optimized_metric")
    logs = sorted((tmp_path / "multirun").glob("*/train.log"))
    assert len(logs) == 2
    for log in logs:
        assert "[ERROR] - error: optimized_metric=spearman is nan for the starting model" in log.read_text()
    parent, children = sweep_runs()
    assert [run.info.status for run in children] == ["FAILED", "FAILED"]
