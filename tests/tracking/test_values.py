"""Swept values written short for run names and tags."""

from __future__ import annotations

from embedlab.tracking.values import short_number, short_value_tags, unique_run_name, values_name


def test_numbers_keep_their_exponent_and_three_digits():
    assert short_number("4.816414530e-05") == "4.82e-5"
    assert short_number("14.70001") == "14.7"
    assert short_number("32") == "32"
    assert short_number("0.0001") == "1e-4"
    assert short_number("0.000291") == "2.91e-4"
    assert short_number("0.0015") == "0.0015"
    assert short_number("2e+20") == "2e20"
    assert short_number("mixed") == "mixed"


def test_name_uses_short_keys_unless_two_would_clash():
    name = values_name("training.batch_size=32 loss.scale=14.70001 training.lr=4.816414530e-05")
    assert name == "bs=32 scale=14.7 lr=4.82e-5"
    assert values_name(["loss.scale=10", "model.scale=2", "loss=mixed"]) == "loss.scale=10 model.scale=2 loss=mixed"


def test_value_tags_only_for_numbers_that_read_differently_short():
    assert short_value_tags("training.lr=4.816414530e-05 training.batch_size=32 loss.scale=10.0 loss=mnrl") == {
        "value.training.lr": "4.82e-5",
        "value.loss.scale": "10",
    }


def test_a_single_runs_name_carries_what_its_overrides_change():
    from embedlab.tracking.values import named_overrides

    overrides = [
        "training.batch_size=16",
        "loss.scale=40.0",
        "model=minilm_unnormalized",
        "loss=mnrl",  # already in the name: <dataset>-<loss>
        "dataset.path=/data/physics",  # a path says where, not what
        "tracking.uri=sqlite:////tmp/x.db",
        "hardware.threads=1",
        "++tracking.tags.reproduces=0123abcd",
    ]
    assert values_name(named_overrides(overrides)) == "bs=16 scale=40 model=minilm_unnormalized"
    assert values_name(named_overrides(["training.max_steps=4", "training.max_steps=2"])) == "steps=2"
    assert values_name(named_overrides(["training.batch_size=32"])) != values_name(
        named_overrides(["training.batch_size=16"])
    )


def test_runs_of_one_name_keep_one_name_each_in_whichever_order_they_check(tmp_path):
    """Two commands started in the same second with the same overrides, each in a folder it was given, named their
    runs alike (the `-1` of a busy second comes from a folder clash). Each run checks once it exists."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("physics")
    name = "physics-mnrl steps=2 1207-222342"
    first = client.create_run(experiment, run_name=name)
    assert unique_run_name(client, first) == name  # alone: its own name
    second = client.create_run(experiment, run_name=name)
    assert unique_run_name(client, second) == f"{name} {second.info.run_id[:6]}"
    both = [client.create_run(experiment, run_name='it\'s "quoted" 1207') for _ in range(2)]  # created, then checked
    assert len({unique_run_name(client, run) for run in both}) == 2
    names = [run.info.run_name for run in client.search_runs([experiment])]
    assert len(names) == len(set(names)) == 4


def test_a_run_named_by_embedlab_gets_a_name_no_other_run_has(tmp_path):
    from embedlab.tracking.mlflow_run import MlflowTracker

    tracker = MlflowTracker(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="e", log_model=False)
    ids = []
    for folder in ("a", "b"):  # two commands' runs, each in a folder named on its command line
        with tracker.run({"a": 1}, "physics-mnrl 1207-222342", tmp_path / folder) as run:
            ids.append(run.run_id)
    import mlflow

    client = mlflow.MlflowClient(tracker.uri)
    assert [client.get_run(i).info.run_name for i in ids] == [
        "physics-mnrl 1207-222342",
        f"physics-mnrl 1207-222342 {ids[1][:6]}",
    ]
