"""The run's closing summary says plainly when the kept model is worse than the start on the optimized metric."""

from __future__ import annotations

from pathlib import Path

from embedlab.report import print_summary, worse_than_start_line
from embedlab.training.checkpoint import BestCheckpoint

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


def test_no_line_when_the_kept_model_is_better_or_is_the_start():
    assert worse_than_start_line(HISTORY, kept(400), "ndcg_at_10") is None
    assert worse_than_start_line(HISTORY, kept(300), "val_loss") is None  # lower is better for a loss
    start = BestCheckpoint(step=0, val_loss=0.1632, checkpoint=None, path=Path("best"), kept_base=True)
    assert worse_than_start_line(HISTORY, start, "ndcg_at_10") is None
    assert worse_than_start_line(HISTORY, kept(300), "spearman") is None  # not evaluated: nothing to claim


def test_the_summary_prints_the_line(capsys):
    print_summary(HISTORY, kept(300), 400, "run-id", None, "sqlite:////tmp/x.db", optimized_metric="ndcg_at_10")
    out = capsys.readouterr().out
    assert "warning: the kept model is worse than the starting model on ndcg_at_10" in out
    assert out.count("warning:") == 1
