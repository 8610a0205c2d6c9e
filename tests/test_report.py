"""The table at the end of a run: the base model next to the kept one, metrics in a fixed order."""

from __future__ import annotations

from types import SimpleNamespace

from embedlab.report import format_table, summary_table


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
