"""`resume=true` for a chain: the same parent run, finished stages skipped, the killed stage continued.

A chain's parent run is tagged with the hash of the chain's composed config (`resume` left out). Each stage's
config holds the parent's run id, so a new parent would give every stage a new hash and `resume=true` would find
nothing; instead the chain reopens its unfinished parent, rebuilds each FINISHED stage's result from its run, and
resumes the first unfinished stage by its run id (from its last complete checkpoint).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from embedlab.errors import UserError
from embedlab.folders import resume_newest, resume_requested
from embedlab.tracking.kept import KEPT_STEP, kept
from embedlab.tracking.resume import check_owner_gone, newest_unfinished_run, run_by_id
from embedlab.tracking.values import STAGE_TAG
from embedlab.training.checkpoint import last_complete_checkpoint

CHAIN_HASH_TAG = "embedlab.chain_hash"


def find_chain_parent(client, experiment_id: str, resume: Any, digest: str):
    """The chain's parent run to reopen for `resume` (true or a run id); None when not resuming."""
    if not resume_requested(resume):
        return None
    if resume_newest(resume):
        return newest_unfinished_run(client, experiment_id, CHAIN_HASH_TAG, digest, "chain")
    run = run_by_id(client, resume)
    if CHAIN_HASH_TAG not in run.data.tags:
        raise UserError(
            f"resume={resume}: that run is not a chain's parent run (tag {CHAIN_HASH_TAG}); expected the run id "
            "of the chain's parent run, or resume=true"
        )
    if run.info.status == "FINISHED":
        raise UserError(
            f"resume={resume}: that chain is FINISHED; nothing to resume; expected a FAILED or KILLED chain (to train "
            "it again: reproduce=<one of its stages' run ids>)"
        )
    check_owner_gone(run, resume)
    return run


def stage_runs(client, experiment_id: str, parent_run_id: str) -> dict[str, Any]:
    """The newest run of each stage nested under the parent: stage name -> run."""
    children = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
        order_by=["attributes.start_time DESC"],
        max_results=1000,
    )
    out: dict[str, Any] = {}
    for run in children:
        out.setdefault(run.data.tags.get(STAGE_TAG), run)
    return out


def resume_of_stage(run) -> str | bool:
    """`resume` for a stage: its run id when it left a complete checkpoint, else false (the stage starts over)."""
    if run is None:
        return False
    checkpoints = Path(run.data.tags.get("output_dir", "")) / "checkpoints"
    return run.info.run_id if last_complete_checkpoint(checkpoints) is not None else False


def finished_stage_result(client, run):
    """A FINISHED stage's RunResult, rebuilt from its MLflow run: what the next stage and the chain table use."""
    from embedlab.run import RunResult
    from embedlab.training.checkpoint import BestCheckpoint

    tags, metrics = run.data.tags, run.data.metrics
    metric = tags.get("optimized_metric", "")
    step = int(metrics.get(KEPT_STEP, 0))
    best = BestCheckpoint(
        step=step,
        val_loss=metrics.get(kept("val_loss"), math.nan),
        checkpoint=None,
        path=Path(tags.get("output_dir", "")) / "best",
        select_by=tags.get("select_by", "val_loss"),
        kept_base=tags.get("best_is_base") == "true",
    )
    test_names = [name for name in metrics if name.startswith("test_")]
    test_start, test_best = {}, {}
    for name in test_names:
        by_step = {m.step: m.value for m in client.get_metric_history(run.info.run_id, name)}
        if 0 in by_step:
            test_start[name] = by_step[0]
        if step in by_step:
            test_best[name] = by_step[step]
    logged = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
    )
    model_uri = f"models:/{logged[0].model_id}" if logged else None
    objective = metrics.get(kept(metric), math.nan)
    return RunResult(objective, run.info.run_id, best, model_uri, test_start, test_best)
