"""A plain sentence-transformers training script: the baseline of the `overhead` part.

What a user would write by hand to get what `python -m train` gives: the same model, data split, seed,
loss (MNRL, scale 20), sampler (no duplicates), optimizer and schedule, the same evaluation schedule (the
base model at step 0, then validation loss + retrieval metrics every `eval_steps`), checkpoints with the
best one loaded at the end, test metrics before and after, and the final model saved. No tracking.

    python bench/plain_train.py --split split.json --model <path> --steps 20 --eval-steps 10 --out DIR

`split.json` holds the rows embedlab's loader produced (bench/overhead.py writes it), so both sides train
on identical rows in identical order. Prints one JSON line: per-step loss and wall-clock times.
"""

from __future__ import annotations

import argparse
import json
import time

STARTED = time.time()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--eval-steps", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from datasets import Dataset
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.util import cos_sim
    from transformers import TrainerCallback, set_seed

    split = json.loads(open(args.split, encoding="utf-8").read())

    def pairs(name: str) -> Dataset:
        rows = split["pairs"][name]
        return Dataset.from_dict({"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows]})

    def retrieval(name: str) -> InformationRetrievalEvaluator:
        r = split["retrieval"][name]
        relevant = {q: set(docs) for q, docs in r["relevant"].items()}
        return InformationRetrievalEvaluator(r["queries"], split["corpus"], relevant, batch_size=64, write_csv=False)

    set_seed(args.seed)
    model = SentenceTransformer(args.model, device="cpu")
    model.max_seq_length = 256
    steps: list[dict] = []

    class StepLog(TrainerCallback):
        def on_log(self, _args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                steps.append({"step": state.global_step, "loss": logs["loss"], "time": time.time()})

    training_args = SentenceTransformerTrainingArguments(
        output_dir=f"{args.out}/checkpoints",
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        max_steps=args.steps,
        learning_rate=5e-5,
        warmup_steps=0.1,
        weight_decay=0.01,
        max_grad_norm=1.0,
        lr_scheduler_type="linear",
        optim="adamw_torch",
        eval_strategy="steps",
        eval_on_start=True,
        eval_steps=args.eval_steps,
        save_strategy="steps",
        save_steps=args.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=1,
        report_to="none",
        seed=args.seed,
        data_seed=args.seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        use_cpu=True,
    )
    test = retrieval("test")
    test_start = test(model)
    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_args,
        train_dataset=pairs("train"),
        eval_dataset=pairs("validation"),
        loss=MultipleNegativesRankingLoss(model, scale=20.0, similarity_fct=cos_sim),
        evaluator=retrieval("validation"),
        callbacks=[StepLog()],
    )
    trainer.train()
    test_end = test(trainer.model)
    trainer.model.save(f"{args.out}/final")
    print(
        json.dumps(
            {
                "started": STARTED,
                "ended": time.time(),
                "steps": steps,
                "test_ndcg_start": test_start["cosine_ndcg@10"],
                "test_ndcg_end": test_end["cosine_ndcg@10"],
            }
        )
    )


if __name__ == "__main__":
    main()
