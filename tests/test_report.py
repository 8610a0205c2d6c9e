"""The table at the end of a run (the base model next to the kept one, metrics in a fixed order), and the one
line that says plainly when the kept model is worse than the start on the optimized metric."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

from embedlab.report import format_table, print_summary, selection_line, summary_table, worse_than_start_line
from embedlab.training.checkpoint import BestCheckpoint


def test_format_table_aligns_names_left_and_cells_right():
    table = format_table("metric", ["a", "bb"], [6, 8], [("x", ["1", "2"]), ("longer", ["-", "3.0000"])])
    assert table.splitlines() == [
        "metric       a      bb",
        "x            1       2",
        "longer       -  3.0000",
    ]


def test_summary_table_puts_test_metrics_last_and_dashes_what_was_not_measured():
    best = SimpleNamespace(step=4)
    history = {
        0: {"val_loss": 0.5, "ndcg_at_10": 0.61, "val_loss_pairs": 0.4, "test_ndcg_at_10": 0.55},
        4: {"val_loss": 0.3, "ndcg_at_10": 0.7, "acc_at_1": 0.5, "test_ndcg_at_10": 0.66},
    }
    assert summary_table(history, best, 8).splitlines() == [
        "metric             base (step 0)       best (step 4)",
        "val_loss                  0.5000              0.3000",
        "ndcg_at_10                0.6100              0.7000",
        "acc_at_1                       -              0.5000",
        "val_loss_pairs            0.4000                   -",
        "test_ndcg_at_10           0.5500              0.6600",
    ]


# The seed's Quora recipe as the issue measured it: val_loss fell, so step 300 was kept, but ndcg@10 fell too.
HISTORY = {
    0: {"val_loss": 0.1632, "ndcg_at_10": 0.9618},
    300: {"val_loss": 0.1385, "ndcg_at_10": 0.9455},
    400: {"val_loss": 0.1401, "ndcg_at_10": 0.9700},
}


def kept(step: int) -> BestCheckpoint:
    value = HISTORY[step]["val_loss"]
    return BestCheckpoint(step=step, val_loss=value, checkpoint=None, path=Path("best"), value=value, base_value=0.1632)


def test_a_kept_checkpoint_below_the_start_on_the_optimized_metric_gets_one_line():
    line = worse_than_start_line(HISTORY, kept(300), "ndcg_at_10")
    assert line == (
        "warning: the kept model is worse than the starting model on ndcg_at_10 (the optimized metric, "
        "validation): 0.9618 at step 0, 0.9455 at step 300"
    )
    # validation that also trained (experiment=retrieval's round 2): the same line, saying the number is fit
    assert worse_than_start_line(HISTORY, kept(300), "ndcg_at_10", validation_trains=True) == line + (
        "; its number is on pairs it trained on (dataset.train_on_validation): fit"
    )


def test_no_line_when_the_kept_model_is_better_or_is_the_start():
    assert worse_than_start_line(HISTORY, kept(400), "ndcg_at_10") is None
    assert worse_than_start_line(HISTORY, kept(300), "val_loss") is None  # lower is better for a loss
    start = BestCheckpoint(step=0, val_loss=0.1632, checkpoint=None, path=Path("best"), kept_base=True)
    assert worse_than_start_line(HISTORY, start, "ndcg_at_10") is None
    assert worse_than_start_line(HISTORY, kept(300), "spearman") is None  # not evaluated: nothing to claim


def test_the_summary_prints_the_line(caplog):
    caplog.set_level(logging.INFO, logger="embedlab")  # the console shows embedlab's INFO and up (train.log too)
    print_summary(HISTORY, kept(300), 400, "run-id", None, "sqlite:////tmp/x.db", optimized_metric="ndcg_at_10")
    out = "\n".join(caplog.messages)
    assert "warning: the kept model is worse than the starting model on ndcg_at_10" in out
    assert out.count("warning:") == 1
    assert [r.levelname for r in caplog.records if "warning:" in r.message] == ["WARNING"]


def test_the_kept_starting_model_line_names_the_checkpoints_it_was_compared_with():
    start = BestCheckpoint(
        step=0, val_loss=0.1, checkpoint=None, path=Path("best"), value=0.1, kept_base=True, base_value=0.1
    )
    history = {0: {"val_loss": 0.1}, 5: {"train_loss": 2.0}, 10: {"val_loss": 0.12}, 20: {"val_loss": 0.11}}
    assert selection_line(start, history) == (
        "kept the starting model: no checkpoint beat its val_loss 0.1000 (2 checkpoints evaluated, the best is "
        "step 20 at 0.1100; lowest validation loss; training.base_is_candidate=false keeps the best checkpoint instead)"
    )
    assert selection_line(start, {0: {"val_loss": 0.1}, 1: {"train_loss": 2.0}}).startswith(
        "kept the starting model: no checkpoint has a val_loss to compare with its 0.1000 ("
    )  # nothing claimed about a comparison that did not happen


def test_the_estimate_says_what_it_was_measured_on_and_whether_a_choice_used_it():
    from embedlab.report import evaluated_on_line

    sizes = {"validation": (60, "queries"), "test": (47, "queries")}
    assert evaluated_on_line(sizes, {"validation": "made", "test": "given"}) == (
        "validation 60 queries (carved from the training data; chose the kept step), "
        "test 47 queries (yours; held out from every choice)"
    )
    no_test = {"validation": (60, "queries"), "test": (0, "rows")}
    assert evaluated_on_line(no_test, {"validation": "made", "test": "made"}) == (
        "validation 60 queries (carved from the training data; chose the kept step), no test split"
    )
    # experiment=retrieval on one qrels file: each round has one trained checkpoint and the start is out
    assert evaluated_on_line(no_test, {"validation": "made", "test": "made"}, candidates=1) == (
        "validation 60 queries (carved from the training data; chose nothing: one candidate checkpoint), no test split"
    )
    # dataset.train_on_validation (the recipe's last round): validation trained too, so it is no held-out estimate
    assert evaluated_on_line(no_test, {"validation": "made"}, candidates=1, validation_trains=True) == (
        "validation 60 queries (carved from the training data; also trained on (dataset.train_on_validation): it "
        "measures fit, not held-out quality; chose nothing: one candidate checkpoint), no test split"
    )


def test_the_candidates_are_the_evaluated_checkpoints_and_the_start_when_it_competes():
    from embedlab.report import candidate_count

    history = {0: {"val_loss": 0.4}, 3: {"val_loss": 0.3}, 5: {"train_loss": 1.0}}  # step 5: logged, not evaluated
    assert candidate_count(history, "val_loss", base_is_candidate=True) == 2
    assert candidate_count(history, "val_loss", base_is_candidate=False) == 1
