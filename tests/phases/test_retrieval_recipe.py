"""`experiment=retrieval` on a BEIR folder: one command, two rounds of pairs in batches of neighbours, each mined
with the model the round starts from; the folder's own splits used as given, and a folder with one qrels file
trained on 90% with no test carve."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="module")
def beir_with_splits(physics_folder, tmp_path_factory):
    """The physics-shaped retrieval set as a BEIR folder with qrels/{train,dev,test}.tsv (no pairs.jsonl)."""
    folder = tmp_path_factory.mktemp("beir-splits")
    for name in ("corpus.jsonl", "queries.jsonl"):
        shutil.copy(physics_folder / name, folder / name)
    header, *lines = (physics_folder / "qrels.tsv").read_text().splitlines()
    (folder / "qrels").mkdir()
    for name, chunk in (
        ("train", lines[: len(lines) // 2]),
        ("dev", lines[len(lines) // 2 : -6]),
        ("test", lines[-6:]),
    ):
        (folder / "qrels" / f"{name}.tsv").write_text("\n".join([header, *chunk]) + "\n")
    return folder, {
        name: [line.split("\t")[0] for line in chunk] for name, chunk in (("dev", lines[len(lines) // 2 : -6]),)
    }


def recipe_overrides(cli, tiny_model_path, out, folder) -> list[str]:
    return [
        *cli.tiny_overrides(tiny_model_path, folder),
        *(f"phase.stages.{stage}.phase.relative_margin=null" for stage in ("phase1", "phase2")),  # tiny: all alike
        *(f"phase.stages.{stage}.phase.cache_dir={out / 'cache'}" for stage in ("phase1", "phase2")),
    ]


RECIPE_EVAL_STEPS = 1000  # conf/experiment/retrieval.yaml (test_the_recipe_evaluates_a_round_at_its_start_and_end)


def stages(cli, uri) -> dict:
    return {run.data.tags.get("embedlab.stage", "parent"): run for run in cli.runs(uri)}


@pytest.fixture(scope="module")
def recipe(cli, tiny_model_path, beir_with_splits, tmp_path_factory):
    folder, _ = beir_with_splits
    out = tmp_path_factory.mktemp("recipe")
    # 3 steps a round and the recipe's cadence (debug=tiny evaluates every step): evaluated at 0 and 3 only
    shorter_than_eval_steps = ["training.max_steps=3", f"training.eval_steps={RECIPE_EVAL_STEPS}"]
    overrides = [*recipe_overrides(cli, tiny_model_path, out, folder), *shorter_than_eval_steps]
    result, uri = cli.train_in(out, "experiment=retrieval", *overrides)
    return result, stages(cli, uri), uri


def test_both_rounds_use_the_folders_own_splits_and_say_so(recipe, beir_with_splits):
    result, runs, _ = recipe
    assert set(runs) == {"parent", "phase1", "phase2"}
    for stage in ("phase1", "phase2"):
        params = runs[stage].data.params
        assert runs[stage].info.status == "FINISHED"
        trained = "+trained" if stage == "phase2" else ""  # round 2 trains on the validation queries too
        assert params["dataset.splits_source"] == f"train=given,validation=given{trained},test=given"
        assert params["eval.test_queries"] == "6"
        assert params["eval.validation_queries"] == str(len(beir_with_splits[1]["dev"]))
    assert "warning: validation" in result.stdout and "(fewer than 200)" in result.stdout


def test_the_runs_table_tells_the_rounds_apart(recipe):
    _, runs, _ = recipe
    assert runs["parent"].info.run_name.startswith("retrieval-neighbour_rounds ")
    assert runs["phase1"].info.run_name.startswith("phase1 retrieval-mnrl-hard_negatives ")
    assert runs["phase2"].info.run_name.startswith("phase2 retrieval-mnrl-hard_negatives ")  # the same phase


def test_each_round_mines_with_the_model_it_starts_from_into_batches_of_neighbours(recipe):
    _, runs, _ = recipe
    first, second = runs["phase1"].data, runs["phase2"].data
    assert first.params["phase.init_from"] == "None" and second.params["phase.init_from"].endswith("phase1/best")
    for run in (first, second):
        assert run.params["phase.mine_with"] == "None"  # the round's own starting model mines
        assert run.params["phase.negatives"] == "batches" and run.params["sampler.batch_sampler"] == "in_order"
        assert run.params["training.base_is_candidate"] == "False"  # a round keeps a trained checkpoint
        assert 0 < run.metrics["mining_neighbors_in_batch"] <= 1
        assert {"val_loss", "ndcg_at_10"} <= set(run.metrics)


def test_a_round_shorter_than_eval_steps_is_evaluated_at_its_start_and_end_and_keeps_its_last_step(
    recipe, compose_config
):
    import mlflow

    training = compose_config("experiment=retrieval").training
    assert (training.eval_steps, training.validation_corpus_sample) == (RECIPE_EVAL_STEPS, 200)
    result, runs, uri = recipe
    assert result.stdout.count("chose nothing: one candidate checkpoint") == 2  # each round's summary says so
    client = mlflow.MlflowClient(uri)
    for stage in ("phase1", "phase2"):
        run = runs[stage]
        evaluated = [m.step for m in client.get_metric_history(run.info.run_id, "ndcg_at_10")]
        assert evaluated == [0, 3], stage  # nothing in between: with the starting model out, nothing to choose
        assert run.data.metrics["kept_step"] == 3


def test_a_folder_with_one_qrels_file_trains_on_90_percent_and_carves_no_test(
    cli, tiny_model_path, physics_folder, tmp_path
):
    overrides = recipe_overrides(cli, tiny_model_path, tmp_path, physics_folder)
    result, uri = cli.train_in(tmp_path, "experiment=retrieval", *overrides)
    run = stages(cli, uri)["phase1"]
    validation = int(run.data.params["eval.validation_queries"])
    assert run.data.params["dataset.splits_source"] == "train=made,validation=made,test=none"
    assert not any(k.startswith(("eval.test", "test_")) for k in [*run.data.params, *run.data.metrics])
    queries = {line.split("\t")[0] for line in (physics_folder / "qrels.tsv").read_text().splitlines()[1:]}
    assert validation == round(0.1 * len(queries))
    assert run.data.metrics["mining_queries"] == len(queries) - validation  # all the rest train; only they mine
    assert "no test split" in result.stdout
    # round 2 trains on every labeled pair, the validation queries too, and its summary says what that makes of them
    round2 = stages(cli, uri)["phase2"].data
    assert round2.metrics["mining_queries"] == len(queries)
    assert round2.params["dataset.splits_source"] == "train=made,validation=made+trained,test=none"
    runs = stages(cli, uri)  # the runs table says which validation numbers measure fit: round 2's, and so its parent's
    assert [runs[s].data.tags.get("validation_trains") for s in ("phase1", "phase2", "parent")] == [
        None,
        "true",
        "true",
    ]
    assert result.stdout.count("also trained on (dataset.train_on_validation)") == 1
    card = (tmp_path / "run" / "phase2" / "best" / "README.md").read_text(encoding="utf-8")  # the kept model's
    assert "* Dataset: retrieval-validation (also trained on)" in card  # the validation loss's data, on it too
    assert "* Dataset: retrieval-validation\n" not in card


def test_the_two_phase_form_still_runs(cli, tiny_model_path, beir_with_splits, tmp_path):
    folder, _ = beir_with_splits
    overrides = cli.tiny_chain_overrides(tiny_model_path, tmp_path, folder)
    _, uri = cli.train_in(tmp_path, "experiment=retrieval_two_phase", *overrides)
    runs = stages(cli, uri)
    assert set(runs) == {"parent", "phase1", "phase2"}
    assert runs["phase2"].data.params["phase.init_from"].endswith("phase1/best")
    assert all(run.info.status == "FINISHED" for run in runs.values())
