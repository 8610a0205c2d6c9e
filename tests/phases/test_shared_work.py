"""No work done twice: phase 2's step 0 reuses phase 1's kept-step metrics only for the same computation, and one
corpus encoding serves mining and the evaluations of the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.hardware.device import Hardware

FP32 = {"device": "cpu", "precision": "fp32", "threads": 1}


def chain_overrides(tiny_model_path: str, physics_folder, folder, precision: str = "fp32") -> list[str]:
    """A tiny two-stage chain: evaluations at steps 0, 1 and 2 of each stage, no mining cache."""
    return [
        "experiment=physics_two_phase",
        f"dataset.path={physics_folder}",
        f"model.name_or_path={tiny_model_path}",
        "hardware=cpu",
        f"hardware.precision={precision}",
        "training.max_steps=2",
        "training.eval_steps=1",
        "training.batch_size=8",
        "phase.stages.phase2.phase.relative_margin=null",  # the untrained tiny model scores everything alike
        "phase.stages.phase2.phase.cache_dir=null",  # mine every time: the corpus encodes below count it
        f"hydra.run.dir={folder / 'out'}",
    ]


@pytest.fixture(scope="module")
def corpus_size(physics_folder) -> int:
    return len((physics_folder / "corpus.jsonl").read_text().splitlines())


def run_chain(cli, tiny_model_path, physics_folder, folder, corpus_size, *extra, precision: str = "fp32"):
    """The chain run in-process; returns (stage -> MLflow run, MLflow uri, sizes of the document encodes)."""
    from sentence_transformers.sentence_transformer import SentenceTransformer

    encodes = []
    original = SentenceTransformer.encode_document

    def counted(self, inputs, *args, **kwargs):
        encodes.append(len(inputs))
        return original(self, inputs, *args, **kwargs)

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    SentenceTransformer.encode_document = counted
    try:
        result = cli.run_train(
            *chain_overrides(tiny_model_path, physics_folder, folder, precision),
            *extra,
            env={"MLFLOW_TRACKING_URI": uri},
        )
    finally:
        SentenceTransformer.encode_document = original
    assert result.returncode == 0, result.stderr[-3000:]
    runs = {run.data.tags.get("embedlab.stage", "parent"): run for run in cli.runs(uri)}
    return runs, uri, [n for n in encodes if n >= corpus_size]


def step_values(uri: str, run, names) -> dict[str, dict[int, float]]:
    import mlflow

    client = mlflow.MlflowClient(uri)
    return {n: {m.step: m.value for m in client.get_metric_history(run.info.run_id, n)} for n in names}


RETRIEVAL = ["ndcg_at_10", "mrr_at_10", "acc_at_1"]
TEST = [f"test_{n}" for n in RETRIEVAL]


@pytest.fixture(scope="module")
def chains(cli, tiny_model_path, physics_folder, corpus_size, tmp_path_factory):
    """precision -> the chain run in it (once per module)."""
    done = {}

    def chain(precision: str):
        if precision not in done:
            folder = tmp_path_factory.mktemp(f"shared-work-{precision}")
            done[precision] = run_chain(cli, tiny_model_path, physics_folder, folder, corpus_size, precision=precision)
        return done[precision]

    return chain


@pytest.fixture(scope="module")
def chain(chains):
    return chains("fp32")


def test_phase2_step0_is_phase1_kept_step_and_says_so(chain):
    runs, uri, _ = chain
    phase1, phase2 = runs["phase1"], runs["phase2"]
    kept = int(phase1.data.metrics["kept_step"])
    tags = phase2.data.tags
    assert tags["embedlab.step0_reused_from"] == f"run {phase1.info.run_id} step {kept}"
    assert set(tags["embedlab.step0_reused"].split(",")) == set(RETRIEVAL + TEST)
    first = step_values(uri, phase1, RETRIEVAL + TEST)
    second = step_values(uri, phase2, RETRIEVAL + TEST + ["val_loss", "triplet_acc"])
    for name in RETRIEVAL + TEST:
        assert second[name][0] == first[name][kept], name
    assert 0 in second["val_loss"] and 0 in second["triplet_acc"]  # phase 2's own loss and rows: computed
    assert "embedlab.step0_reused" not in phase1.data.tags


def test_the_chain_encodes_the_corpus_four_times_fewer(chain):
    # phase 1: test_start and step 0 share one encode; steps 1 and 2; the kept model's test score (4).
    # phase 2: mining uses that last one, step 0 and test_start are phase 1's; steps 1 and 2; its test (3).
    # Without sharing: 5 in phase 1, and mining + test_start + 3 steps + test in phase 2 (11).
    _, _, corpus_encodes = chain
    assert len(corpus_encodes) == 7


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_reused_numbers_equal_a_fresh_computation(precision, chains, cli, tiny_model_path, physics_folder, tmp_path):
    """Phase 1's kept model, loaded from its folder and scored afresh on the test split, gives phase 2's step 0.

    In bf16 the reused numbers were computed after training (Accelerate's autocast around the model's forward as
    well as embedlab's), the fresh ones on a model that never trained (embedlab's alone): the same numbers."""
    from hydra import compose, initialize_config_dir

    from embedlab.config import to_container
    from embedlab.models.sentence_transformer import load_sentence_transformer
    from embedlab.plan import plan_run
    from embedlab.training.trainer import evaluate_test

    runs, uri, _ = chains(precision)
    overrides = chain_overrides(tiny_model_path, physics_folder, tmp_path, precision)[:-1]  # all but its folder
    with initialize_config_dir(config_dir=str(cli.REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    data = plan_run(cfg).data(to_container(cfg))
    model = load_sentence_transformer(runs["phase2"].data.params["phase.init_from"], device="cpu")
    fresh = evaluate_test(model, data.evaluators("test"), precision)
    logged = {n: v[0] for n, v in step_values(uri, runs["phase2"], TEST).items()}
    assert fresh == pytest.approx(logged, abs=1e-12)


@pytest.mark.parametrize(
    ("change", "reused"),
    [
        # a different max_seq_length encodes differently: nothing is reused
        ("+phase.stages.phase2.model.max_seq_length=16", None),
        # a sampled validation corpus is another validation computation; the test split's is the same
        ("+phase.stages.phase2.training.validation_corpus_sample=3", set(TEST)),
    ],
)
def test_no_reuse_where_phase2_computes_differently(
    change, reused, cli, tiny_model_path, physics_folder, corpus_size, tmp_path
):
    runs, uri, _ = run_chain(cli, tiny_model_path, physics_folder, tmp_path, corpus_size, change)
    tags = runs["phase2"].data.tags
    assert (set(tags["embedlab.step0_reused"].split(",")) if "embedlab.step0_reused" in tags else None) == reused


# Units: the identity of a model state, the keys of computations, and the step-0 wrapper.


@pytest.fixture(scope="module")
def tiny(tiny_model_path):
    from sentence_transformers.sentence_transformer import SentenceTransformer

    return SentenceTransformer(tiny_model_path, device="cpu")


@pytest.fixture(scope="module")
def retrieval():
    from embedlab.evaluation.retrieval import RetrievalEvaluator

    corpus = {f"d{i}": f"passage {i} about {topic}" for i, topic in enumerate(["lenses", "heat", "waves", "ohm"])}
    queries = {"q0": "what do lenses do", "q1": "how does heat flow"}
    return RetrievalEvaluator(queries, corpus, {"q0": {"d0"}, "q1": {"d1"}})


def test_a_saved_and_loaded_model_has_the_same_identity(tiny, tmp_path):
    from sentence_transformers.sentence_transformer import SentenceTransformer

    from embedlab.phases.shared_work import model_identity

    tiny.save(str(tmp_path / "copy"))
    loaded = SentenceTransformer(str(tmp_path / "copy"), device="cpu")
    assert model_identity(loaded, FP32) == model_identity(tiny, FP32)


@pytest.mark.parametrize("change", ["weight", "max_seq_length", "prompt", "precision", "threads"])
def test_identity_changes_with_what_changes_an_encode(change, tiny_model_path):
    import torch
    from sentence_transformers.sentence_transformer import SentenceTransformer

    from embedlab.phases.shared_work import model_identity

    model = SentenceTransformer(tiny_model_path, device="cpu")
    before = model_identity(model, FP32)
    context = dict(FP32)
    if change == "weight":
        with torch.no_grad():
            next(model.parameters()).view(-1)[0] += 1e-6
    elif change == "max_seq_length":
        model.max_seq_length = 16
    elif change == "prompt":
        model.prompts = {"query": "query: ", "document": ""}
    else:
        context[change] = "bf16" if change == "precision" else 2
    assert model_identity(model, context) != before


@pytest.mark.parametrize(
    ("precision", "compile", "distributed", "shared"),
    [
        ("fp32", False, False, True),
        ("bf16", False, False, True),
        ("fp16", False, False, False),
        ("fp32", True, False, False),
        ("fp32", False, True, False),
    ],
)
def test_nothing_is_shared_in_fp16_compiled_or_ddp(precision, compile, distributed, shared):
    from embedlab.phases.shared_work import encoding_context, starting_work

    hardware = Hardware.__new__(Hardware)  # the resolved fields alone: no device is probed
    hardware.device, hardware.precision = "cpu", precision
    hardware.compile, hardware.distributed = compile, distributed
    context = encoding_context(hardware)
    assert (context is not None) == shared
    if not shared:
        assert starting_work(object(), context, None, None) is None


def test_earlier_work_is_used_only_for_the_same_model(tiny, tiny_model_path, retrieval):
    from sentence_transformers.sentence_transformer import SentenceTransformer

    from embedlab.phases.shared_work import kept_work, starting_work

    earlier = kept_work(tiny, FP32, "run x step 2", {})
    earlier.evaluate(retrieval, tiny)
    assert starting_work(tiny, FP32, earlier, None).metrics == earlier.metrics
    other = SentenceTransformer(tiny_model_path, device="cpu")
    other.max_seq_length = 8
    assert starting_work(other, FP32, earlier, None).metrics == {}
    assert starting_work(tiny, {**FP32, "precision": "bf16"}, earlier, None).metrics == {}


def test_reused_metrics_equal_a_fresh_computation_and_are_reported(tiny, retrieval):
    from embedlab.phases.shared_work import ModelWork

    reported = []
    work = ModelWork(on_reuse=lambda w: reported.append(list(w.reused)))
    first = work.evaluate(retrieval, tiny)
    assert first == retrieval(tiny) and reported == []
    assert work.evaluate(retrieval, tiny, prefix="test_") == first
    assert reported == [[f"test_{n}" for n in first]]


def test_an_evaluator_that_computes_differently_is_not_answered(tiny, retrieval):
    from embedlab.evaluation.retrieval import RetrievalEvaluator
    from embedlab.phases.shared_work import ModelWork

    work = ModelWork()
    work.evaluate(retrieval, tiny)
    queries = dict(zip(retrieval.query_ids, retrieval.queries))
    corpus = dict(zip(retrieval.corpus_ids, retrieval.corpus))
    for other in (
        RetrievalEvaluator(queries, corpus, retrieval.relevant, k=3),
        RetrievalEvaluator(queries, corpus, retrieval.relevant, batch_size=2),
        RetrievalEvaluator({"q0": queries["q0"]}, corpus, retrieval.relevant),
        retrieval.sampled(1),
    ):
        assert other.fingerprint() != retrieval.fingerprint()
        work.evaluate(other, tiny)
    assert work.reused == []


def test_a_shared_corpus_encoding_is_the_evaluators_own(tiny, retrieval):
    from embedlab.phases.shared_work import ModelWork

    work = ModelWork()
    shared = work.encode_documents(tiny, retrieval.corpus, retrieval.batch_size)
    assert retrieval(tiny, corpus_embeddings=shared) == retrieval(tiny)
    assert work.encode_documents(tiny, retrieval.corpus, retrieval.batch_size) is shared
    assert work.encode_documents(tiny, retrieval.corpus, 2) is not shared  # another batching: encoded again


def test_mining_with_the_shared_encoding_mines_the_same(tiny, retrieval):
    from embedlab.mining.hard_negatives import mine_hard_negatives
    from embedlab.phases.shared_work import ModelWork

    pairs = [(q, retrieval.corpus[0]) for q in retrieval.queries]
    work = ModelWork()
    shared = mine_hard_negatives(
        tiny, pairs, retrieval.corpus, batch_size=64, encode_passages=lambda p: work.encode_documents(tiny, p, 64)
    )
    own = mine_hard_negatives(tiny, pairs, retrieval.corpus, batch_size=64)
    assert shared.triplets == own.triplets and len(work.documents) == 1


def test_step_zero_wrapper_answers_step_zero_once(tiny, retrieval):
    from embedlab.phases.shared_work import EvaluatorAtStepZero, ModelWork, outputs_at

    work = ModelWork()
    work.metrics[retrieval.fingerprint()] = {"ndcg_at_10": -1.0}  # a planted answer: seen only if reused
    wrapper = EvaluatorAtStepZero(retrieval, work)
    assert wrapper(tiny, steps=0) == {"ndcg_at_10": -1.0}
    assert wrapper(tiny, steps=0) == retrieval(tiny)  # once only
    late = EvaluatorAtStepZero(retrieval, work)
    assert late(tiny, steps=1) == retrieval(tiny)  # after an optimizer step the model is not the starting one
    assert outputs_at([late], 1) == {retrieval.fingerprint(): retrieval(tiny)}
    assert np.isfinite(outputs_at([wrapper], 0)[retrieval.fingerprint()]["ndcg_at_10"])
