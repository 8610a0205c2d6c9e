"""The plan (embedlab.plan): what a run cannot do is refused before any work, in one line, with nothing left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from embedlab.errors import UserError
from embedlab.hardware.device import usable_cores
from embedlab_testing import REPO, run_train, runs, write_jsonl


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("plan-data")
    scored = [{"sentence1": f"sentence {i}", "sentence2": f"another {i}", "score": (i % 5) / 4} for i in range(30)]
    labeled = [{"sentence1": f"word {i}", "sentence2": f"term {i}", "label": i % 2} for i in range(30)]
    triplets = [{"anchor": f"q {i}", "positive": f"p {i}", "negative": f"n {i}"} for i in range(30)]
    return {
        "scored": write_jsonl(folder / "scored.jsonl", scored),
        "labeled": write_jsonl(folder / "labeled.jsonl", labeled),
        "triplets": write_jsonl(folder / "triplets.jsonl", triplets),
    }


def refusals(files: dict[str, Path]) -> dict[str, tuple[list[str], str]]:
    """name -> (overrides on the tiny model and physics folder, what the one line says)."""
    scored = ["dataset=local", "dataset.kind=scored_pairs", f"dataset.path={files['scored']}", "loss=cosent"]
    labeled = ["dataset=local", "dataset.kind=labeled_pairs", f"dataset.path={files['labeled']}", "loss=cosine"]
    return {
        "scored pairs with the default metric": (
            scored,
            "optimized_metric=ndcg_at_10 is not logged; expected one of those logged: val_loss, spearman",
        ),
        "select_by a metric of other data": (
            ["training.select_by=spearman"],
            "training.select_by=spearman is not logged",
        ),
        "select_by a part of a one-part loss": (
            ["training.select_by=val_loss_pairs"],
            "training.select_by=val_loss_pairs is not",
        ),
        "hard negatives without a corpus": (
            ["dataset=ncert_social", "phase=hard_negatives"],
            "phase=hard_negatives needs a retrieval corpus",
        ),
        "chain whose second stage lacks a corpus": (
            [*labeled, "optimized_metric=spearman", "phase=two_phase"],
            "phase.stages.phase2: phase=hard_negatives needs a retrieval corpus",
        ),
        "chain metric of its second stage only": (
            ["phase=two_phase", "optimized_metric=triplet_acc"],
            "phase.stages.phase1: optimized_metric=triplet_acc is not logged",
        ),
        "longer than the position embeddings": (["model.max_seq_length=513"], "expected model.max_seq_length <= 512"),
        "ranking loss on a batch of one": (
            [*scored, "optimized_metric=spearman", "training.batch_size=1"],
            "training.batch_size=1 is too small for loss=cosent (CoSENTLoss)",
        ),
        "wrapped in-batch loss on a batch of one": (
            ["loss=matryoshka", "training.batch_size=1"],
            "training.batch_size=1 is too small for loss=matryoshka (MultipleNegativesRankingLoss)",
        ),
        "preset made for another dataset": (
            ["experiment=quora_mixed", "dataset=ncert_social"],
            "experiment=quora_mixed is made for dataset=quora and sets dataset.pairs, dataset.labeled",
        ),
        "more threads than cores": (  # each step of debug=tiny took 198 s instead of 3 s on 2 cores
            [f"hardware.threads={usable_cores() + 1}"],
            f"hardware.threads={usable_cores() + 1} is more than the {usable_cores()} cores this process may use",
        ),
        "a chain stage's threads": (  # phase 2 trained with 64 threads on 2 cores after phase 1
            ["phase=two_phase", f"++phase.stages.phase2.hardware.threads={usable_cores() + 1}"],
            f"phase.stages.phase2: hardware.threads={usable_cores() + 1} is more than the",
        ),
        "a chain stage's own store": (  # phase 1 trained, then phase 2 failed on the store
            ["phase=two_phase", "++phase.stages.phase2.tracking.uri=foo://x"],
            "phase.stages.phase2.tracking.uri=foo://x sets one stage apart, but a chain's stages run as one",
        ),
        "a chain stage's GPU where there is none": (  # checked by torch before the first stage trains
            ["phase=two_phase", "++phase.stages.phase2.hardware.device=cuda"],
            "phase.stages.phase2: hardware.device=cuda but torch sees no CUDA device",
        ),
        "triplets file, select_by a metric of scored pairs": (
            [
                "dataset=local",
                "dataset.kind=triplets",
                f"dataset.path={files['triplets']}",
                "loss=triplet",
                "training.select_by=spearman",
            ],
            "training.select_by=spearman is not logged; expected one of those logged: val_loss, ndcg_at_10, mrr_at_10, acc_at_1, triplet_acc",
        ),
    }


CASES = [
    "scored pairs with the default metric",
    "select_by a metric of other data",
    "select_by a part of a one-part loss",
    "hard negatives without a corpus",
    "chain whose second stage lacks a corpus",
    "chain metric of its second stage only",
    "longer than the position embeddings",
    "ranking loss on a batch of one",
    "wrapped in-batch loss on a batch of one",
    "preset made for another dataset",
    "triplets file, select_by a metric of scored pairs",
    "more threads than cores",
    "a chain stage's threads",
    "a chain stage's own store",
    "a chain stage's GPU where there is none",
]


@pytest.mark.parametrize("name", CASES)
def test_refused_before_work_in_one_line(name, files, tiny_model_path, physics_folder, mlflow_uri, tmp_path):
    overrides, expected = refusals(files)[name]
    if "GPU" in name and cuda_available():
        pytest.skip("this machine has a CUDA device")
    run_dir = tmp_path / "run"
    base = [f"model.name_or_path={tiny_model_path}", "hardware=cpu"]
    if not any(o.startswith("dataset=") for o in overrides):
        base.append(f"dataset.path={physics_folder}")
    result = run_train(*base, *overrides, f"hydra.run.dir={run_dir}")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr[-2000:]
    assert no_runs(mlflow_uri)  # no MLflow run at all: neither a run nor a chain's parent was opened
    assert not list(run_dir.rglob("checkpoints"))  # nothing trained


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def no_runs(uri: str) -> bool:
    """No run in the SQLite store: it was never made into an MLflow store (the check may leave an empty file)."""
    path = Path(uri.removeprefix("sqlite:///"))
    return not path.exists() or path.stat().st_size == 0 or runs(uri) == []


def test_the_catalogue_names_each_case_once(files):
    assert sorted(CASES) == sorted(refusals(files))


@pytest.fixture
def composed(compose_config):
    """`composed(*overrides)` -> (config without `hydra`, the groups' choices), as `python -m train` has them."""

    def make(*overrides: str):
        cfg = compose_config(*overrides, hydra=True)
        choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
        plain = OmegaConf.to_container(cfg, resolve=False)
        plain.pop("hydra")
        return OmegaConf.create(plain), choices

    return make


def test_the_plan_names_what_each_stage_logs(composed, tiny_model_path, physics_folder, mlflow_uri):
    from embedlab.plan import plan_run

    plan = plan_run(
        *composed(f"model.name_or_path={tiny_model_path}", f"dataset.path={physics_folder}", "phase=two_phase")
    )
    assert [(s.name, s.metrics) for s in plan.stages] == [
        ("phase1", ["val_loss", "ndcg_at_10", "mrr_at_10", "acc_at_1"]),
        ("phase2", ["val_loss", "ndcg_at_10", "mrr_at_10", "acc_at_1", "triplet_acc"]),  # mined triplets
    ]
    assert list(plan.stages[1].parts) == ["hard_negatives"]
    (read,) = plan.seen.datasets.values()  # both stages share the data: read once
    assert plan.data(plan.stages[0].config) is read


def test_a_stage_is_planned_with_its_own_overrides(composed, tiny_model_path, physics_folder, mlflow_uri):
    from embedlab.plan import plan_run

    chain = [f"model.name_or_path={tiny_model_path}", f"dataset.path={physics_folder}", "phase=two_phase"]
    plan_run(*composed(*chain, "+phase.stages.phase2.optimized_metric=triplet_acc"))  # phase 2 logs it
    with pytest.raises(UserError, match=r"^phase.stages.phase2: training.select_by=spearman is not logged"):
        plan_run(*composed(*chain, "+phase.stages.phase2.training.select_by=spearman"))


def test_a_sweep_chooses_on_validation_that_did_not_train(composed, tiny_model_path, physics_folder, mlflow_uri):
    """`dataset.train_on_validation` is fine in one run; a sweep would choose among its jobs by their fit."""
    from embedlab.plan import plan_run

    run = [f"model.name_or_path={tiny_model_path}", "dataset=local", "dataset.kind=retrieval"]
    run += [f"dataset.path={physics_folder}", "dataset.train_on_validation=true"]
    plan_run(*composed(*run))
    with pytest.raises(UserError, match=r"^dataset.train_on_validation=true in a sweep: validation pairs would also"):
        plan_run(*composed(*run), sweep=True)
    plan_run(*composed(*run[:-1]), sweep=True)


def test_a_mixed_loss_logs_each_part_loss(composed, tiny_model_path, tmp_path, mlflow_uri):
    from embedlab.plan import plan_run
    from embedlab_testing import QUORA_HEADER, quora_rows, write_tsv

    quora = write_tsv(tmp_path / "quora.tsv", QUORA_HEADER, quora_rows())
    overrides = ["dataset=quora", f"dataset.path={quora}", "dataset.queries=3", "dataset.corpus=30", "loss=mixed"]
    (stage,) = plan_run(*composed(f"model.name_or_path={tiny_model_path}", *overrides)).stages
    assert stage.metrics[:3] == ["val_loss", "val_loss_pairs", "val_loss_labeled"]
    assert {"ndcg_at_10", "spearman"} <= set(stage.metrics)


def test_the_planned_metric_names_are_the_evaluators_own(files, physics_folder, tiny_model_path):
    """`DataBundle.metric_names` (no torch) against what `evaluators` return on a real model."""
    from embedlab.config import build
    from embedlab.models.sentence_transformer import load_sentence_transformer

    model = load_sentence_transformer(tiny_model_path, device="cpu")
    datasets = {
        "physics": {"_target_": "embedlab.data.physics.load_physics", "name": "physics", "path": str(physics_folder)},
        **{
            kind: {"_target_": "embedlab.data.table.load_table", "name": kind, "kind": kind, "path": str(path)}
            for kind, path in (
                ("scored_pairs", files["scored"]),
                ("labeled_pairs", files["labeled"]),
                ("triplets", files["triplets"]),
            )
        },
    }
    for name, node in datasets.items():
        data = build(node, where="dataset", seed=0)
        logged = {key for evaluator in data.evaluators("validation") for key in evaluator(model)}
        assert sorted(logged) == sorted(data.metric_names("validation")), name


@pytest.mark.parametrize(
    ("config", "limit"),
    [
        ({"model_type": "bert", "max_position_embeddings": 512, "pad_token_id": 0}, 512),
        ({"model_type": "xlm-roberta", "max_position_embeddings": 514, "pad_token_id": 1}, 512),
        ({"model_type": "t5"}, None),  # relative positions: no limit to check
    ],
)
def test_position_limit_from_config_json(tmp_path, config, limit):
    from embedlab.models.folder import check_max_seq_length, position_limit

    (tmp_path / "config.json").write_text(json.dumps(config))
    assert position_limit(str(tmp_path)) == limit
    check_max_seq_length(str(tmp_path), 512)  # at the limit (or with none): fine
    if limit is not None:
        with pytest.raises(
            UserError, match=f"model.max_seq_length=513 is longer .* expected model.max_seq_length <= {limit}"
        ):
            check_max_seq_length(str(tmp_path), 513)


@pytest.mark.parametrize(
    ("direction", "metric", "ok"),
    [
        ("maximize", "ndcg_at_10", True),
        ("minimize", "val_loss_pairs", True),
        ("minimize", "spearman", False),
        ("maximize", "val_loss_labeled", False),
    ],
)
def test_a_sweep_direction_fits_its_metric(direction, metric, ok):
    from embedlab.plan import check_direction

    if ok:
        check_direction(direction, metric)
    else:
        with pytest.raises(UserError, match=f"hydra.sweeper.direction={direction} with optimized_metric={metric}"):
            check_direction(direction, metric)


@pytest.mark.parametrize("preset", sorted(p.stem for p in (REPO / "conf" / "hparams_search").glob("*.yaml")))
def test_a_search_preset_becomes_the_overrides_of_the_same_single_run(composed, preset):
    """What a study prints as `Reproduce:` (and `reproduce=` of a trial runs) composes the trial's own config and
    is not refused as a search space without -m."""
    from embedlab.plan import without_search_preset
    from embedlab.schema.composition import check_search_space_has_multirun
    from embedlab.sweeps.search_space import command

    given = [f"hparams_search={preset}", "training.lr=1e-05", "seed=7"]
    expanded = without_search_preset(given)
    assert not any(o.startswith("hparams_search=") for o in expanded)
    check_search_space_has_multirun(["train", *expanded])
    assert OmegaConf.to_container(composed(*expanded)[0]) == OmegaConf.to_container(composed(*given)[0])
    assert command(given) == "python -m train " + " ".join(expanded)


def test_a_key_given_beside_the_preset_keeps_its_value():
    from embedlab.plan import without_search_preset

    assert without_search_preset(["hparams_search=quora_mixed", "optimized_metric=spearman", "dataset=local"]) == [
        "loss=mixed",
        "optimized_metric=spearman",
        "dataset=local",
    ]


def test_the_plan_imports_no_torch(physics_folder, tmp_path):
    """A chain's plan (every stage's phase built, the data read, the store checked) in a fresh interpreter."""
    import subprocess
    import sys

    overrides = ["phase=two_phase", f"dataset.path={physics_folder}", f"tracking.uri=sqlite:///{tmp_path / 'm.db'}"]
    code = (
        "import json, sys\n"
        "from hydra import compose, initialize_config_dir\n"
        "import embedlab\n"
        "from embedlab.plan import plan_run\n"
        f"with initialize_config_dir(config_dir={str(REPO / 'conf')!r}, version_base='1.3'):\n"
        f"    plan = plan_run(compose('train', overrides={overrides!r}))\n"
        "assert [s.name for s in plan.stages] == ['phase1', 'phase2']\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers', 'mlflow')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.splitlines()[-1]) == []
