"""No work done twice: what was computed with one model state, shared by every step that asks for the same
computation with it.

Before training, a run encodes its starting model's corpus up to three times: mining (`phase=hard_negatives`),
the test split's score (`test_start`) and the trainer's step-0 validation score. In a chain, phase 2's starting
model is phase 1's kept model, which phase 1 has already scored on the same validation split (at its kept step)
and on the test split (at its end), and whose corpus it has encoded for that test score.

`ModelWork` holds those results, each under the key of the computation that made it:

- an evaluator's output under the evaluator's `fingerprint()` (its queries, corpus, relevance, cut-off and batch
  size); evaluators without one (similarity, triplets) are always computed;
- a document encoding under the exact text list and batch size (`model.encode_document(texts, batch_size,
  normalize_embeddings=True)`, the one call the retrieval evaluator and mining both make).

One `ModelWork` belongs to one model state in one encoding context. Within a run it is the starting model's, used
before the first optimizer step only (the trainer's step-0 evaluation, `EvaluatorAtStepZero`). Across a chain's
stages it is handed on when the next stage's starting model has the same `identity`: the same weights, encode
settings and tokenizer (`model_identity`) and the same device, precision and threads. Anything else, and the work
is done again as it would be without this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator
from sentence_transformers.base.evaluation.sequential import SequentialEvaluator

from embedlab.evaluation.encoding import encode_documents
from embedlab.evaluation.retrieval import RetrievalEvaluator
from embedlab.mining.cache import weights_hash

REUSED_FROM_TAG = "embedlab.step0_reused_from"  # where phase 2's reused step-0 metrics were computed
REUSED_TAG = "embedlab.step0_reused"  # which of its step-0 metrics were reused, not computed again

# Transformers' config keys that name where a model was loaded from, not how it computes.
PATH_KEYS = ("_name_or_path", "name_or_path", "transformers_version")


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def encoding_context(hardware) -> dict[str, Any] | None:
    """What else decides an encode's numbers: device, precision and torch's threads; None where the same call can
    compute differently before and during training, so nothing is shared.

    fp16 (CUDA): the trainer's Accelerate wraps the model's forward in fp16 autocast once training starts, so
    `test_start` (before) and step 0 (during) differ. `hardware.compile`: the trainer compiles the model, so the
    same two differ again. DDP (`hardware.distributed`): the trainer's evaluations split their encodes across
    the ranks (other batches) while the test evaluations encode on rank 0 alone.
    """
    if hardware.precision not in ("fp32", "bf16") or hardware.compile or hardware.distributed:
        return None
    import torch

    return {"device": hardware.device, "precision": hardware.precision, "threads": torch.get_num_threads()}


def model_identity(model, context: dict[str, Any]) -> str:
    """sha256 of what decides a SentenceTransformer's embeddings in `context`: every weight (`weights_hash`), each
    module's class and config, the transformer's config, max_seq_length, prompts, truncation, and the tokenizer.

    Where the model was loaded from is left out: phase 1's kept model in memory and the same model loaded from
    its saved folder by phase 2 have the same identity.
    """
    modules = [[f"{type(m).__module__}.{type(m).__qualname__}", getattr(m, "get_config_dict", dict)()] for m in model]
    transformer = getattr(model[0], "auto_model", None)
    config = {k: v for k, v in transformer.config.to_dict().items() if k not in PATH_KEYS} if transformer else {}
    tokenizer = getattr(model, "tokenizer", None)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # without the truncation and padding that each call sets (max_seq_length decides them)
        vocabulary = {k: v for k, v in json.loads(backend.to_str()).items() if k not in ("truncation", "padding")}
    else:
        vocabulary = sorted(getattr(tokenizer, "get_vocab", dict)().items())
    return digest(
        {
            "weights": weights_hash(model),
            "modules": modules,
            "config": config,
            "attention": getattr(transformer.config, "_attn_implementation", None) if transformer else None,
            "max_seq_length": model.max_seq_length,
            "prompts": model.prompts,
            "default_prompt_name": model.default_prompt_name,
            "truncate_dim": model.truncate_dim,
            "tokenizer": hashlib.sha256(json.dumps(vocabulary, default=str).encode()).hexdigest(),
            "context": context,
        }
    )


def evaluation_key(evaluator) -> str | None:
    """The key of an evaluator's output, or None for an evaluator whose computation has no fingerprint."""
    fingerprint = getattr(evaluator, "fingerprint", None)
    return fingerprint() if callable(fingerprint) else None


@dataclass
class ModelWork:
    """What was computed with one model state, by key of the computation (see the module docstring).

    Attributes:
        identity: `model_identity` of the model in its context; None for a run's own starting model that no
            earlier stage handed on (shared within the run only).
        origin: where the metrics were computed, as the tag `embedlab.step0_reused_from` says it.
        metrics: evaluation key -> the evaluator's output.
        documents: document-encoding key -> embeddings.
        on_reuse: called with this work each time an evaluation is answered from `metrics` (`reused` names them).
    """

    identity: str | None = None
    origin: str = "this run's starting model"
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    documents: dict[str, np.ndarray] = field(default_factory=dict)
    on_reuse: Callable[[ModelWork], None] | None = None
    reused: list[str] = field(default_factory=list)

    def encode_documents(self, model, texts: list[str], batch_size: int) -> np.ndarray:
        """`encode_documents(model, texts, batch_size)`, computed once for this model state."""
        key = digest(["documents", list(texts), batch_size])
        if key not in self.documents:
            self.documents[key] = encode_documents(model, texts, batch_size)
        return self.documents[key]

    def evaluate(self, evaluator, model, prefix: str = "") -> dict[str, float]:
        """`evaluator(model)`: its earlier output for the same computation, else computed (a retrieval evaluator with
        the corpus encoding shared) and kept. `prefix` is how the caller names the metrics (`test_`), for the tag."""
        key = evaluation_key(evaluator)
        if key is not None and key in self.metrics:
            metrics = dict(self.metrics[key])
            self.reused += [f"{prefix}{name}" for name in metrics]
            if self.on_reuse:
                self.on_reuse(self)
            return metrics
        if isinstance(evaluator, RetrievalEvaluator):
            corpus_embeddings = self.encode_documents(model, evaluator.corpus, evaluator.batch_size)
            metrics = evaluator(model, corpus_embeddings=corpus_embeddings)
        else:
            metrics = evaluator(model)
        if key is not None:
            self.metrics[key] = dict(metrics)
        return metrics

    def handed_on(self, on_reuse: Callable[[ModelWork], None] | None) -> ModelWork:
        """This work for the next stage's run: the same results, that run's record of what it reused."""
        return ModelWork(self.identity, self.origin, dict(self.metrics), dict(self.documents), on_reuse)


def starting_work(model, context: dict[str, Any] | None, earlier: ModelWork | None, on_reuse) -> ModelWork | None:
    """The starting model's work: `earlier` (the previous stage's kept model's) when the model is the same in the
    same context, else an empty one; None when `context` is None (nothing is shared)."""
    if context is None:
        return None
    if earlier is not None and earlier.identity == model_identity(model, context):
        return earlier.handed_on(on_reuse)
    return ModelWork(on_reuse=on_reuse)


def kept_work(model, context: dict[str, Any] | None, origin: str, validation: dict[str, dict[str, float]]):
    """An empty `ModelWork` for a stage's kept model, holding its validation outputs (evaluation key -> output) at
    the kept step; the test evaluation then adds to it. None when `context` is None."""
    if context is None:
        return None
    return ModelWork(model_identity(model, context), origin, dict(validation))


def reuse_tags(work: ModelWork) -> dict[str, str]:
    """The run's tags saying which step-0 metrics were reused, and from where."""
    return {REUSED_FROM_TAG: work.origin, REUSED_TAG: ",".join(work.reused)}


class EvaluatorAtStepZero(BaseEvaluator):
    """One of the trainer's validation evaluators: its step-0 call goes through the starting model's `ModelWork`,
    and every call's output is kept by step, so that the kept step's can be handed on (`outputs`).

    Only the step-0 call, and only once: before the first optimizer step the model is the starting model; after
    it, the model is not, and the evaluator computes as it would unwrapped. A resumed run is given no work.
    """

    def __init__(self, evaluator, work: ModelWork | None) -> None:
        super().__init__()
        self.evaluator, self.work = evaluator, work
        self.outputs: dict[int, dict[str, float]] = {}
        self.primary_metric = evaluator.primary_metric
        self.greater_is_better = evaluator.greater_is_better

    def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1, *args, **kwargs) -> dict[str, float]:
        work, self.work = self.work, None
        if work is not None and steps == 0:
            metrics = work.evaluate(self.evaluator, model)
        else:
            metrics = self.evaluator(model, output_path, epoch, steps, *args, **kwargs)
        self.outputs[steps] = dict(metrics)
        return metrics


def evaluators_at_step_zero(evaluator, work: ModelWork | None) -> tuple[Any, list[EvaluatorAtStepZero]]:
    """The trainer's evaluator with each of its evaluators wrapped in an `EvaluatorAtStepZero`, and the wrappers."""
    if evaluator is None:
        return None, []
    if isinstance(evaluator, SequentialEvaluator):
        evaluator.evaluators = [EvaluatorAtStepZero(e, work) for e in evaluator.evaluators]
        return evaluator, list(evaluator.evaluators)
    wrapped = EvaluatorAtStepZero(evaluator, work)
    return wrapped, [wrapped]


def outputs_at(wrappers: list[EvaluatorAtStepZero], step: int) -> dict[str, dict[str, float]]:
    """Evaluation key -> output of each keyed validation evaluator at `step`: what the kept model's work starts with."""
    found = {}
    for wrapper in wrappers:
        key = evaluation_key(wrapper.evaluator)
        if key is not None and step in wrapper.outputs:
            found[key] = wrapper.outputs[step]
    return found
