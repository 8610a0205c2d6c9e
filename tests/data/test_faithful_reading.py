"""What the readers must read as it is (long fields, quotes as text), and what a bundled dataset trains with."""

from __future__ import annotations

import pytest

from embedlab.data.readers import read_rows
from embedlab.data.table import load_table
from embedlab.errors import UserError


def test_a_field_longer_than_the_csv_default_limit_is_read(tmp_path):
    passage = "light " * 40_000  # 240,000 characters: over csv's default 131,072
    path = tmp_path / "long.csv"
    path.write_text("anchor,positive\n" + "".join(f"a{i},{passage if i == 3 else f'p{i}'}\n" for i in range(40)))
    rows = read_rows(path)
    assert len(rows) == 40 and rows[3]["positive"] == passage


def test_quoting_none_reads_a_stray_quote_as_text(tmp_path):
    lines = ["anchor\tpositive", *[f"q{i}\tp{i}" for i in range(40)]]
    lines[13] = 'q12\t"5 inch screen'
    path = tmp_path / "stray.tsv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"line 14 column 'positive' opens a quoted field.*dataset\.quoting=none"):
        read_rows(path)
    rows = read_rows(path, quoting="none")
    assert len(rows) == 40 and rows[12]["positive"] == '"5 inch screen'
    bundle = load_table("local", "pairs", str(path), quoting="none")
    assert sum(len(rows) for rows in bundle.parts["pairs"].splits.values()) == 40


def test_quoted_multiline_fields_are_still_read(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('anchor,positive\na1,"line one\nline two"\na2,p2\n')
    assert read_rows(path)[0]["positive"] == "line one\nline two"


@pytest.mark.parametrize("dataset", ["word_association", "ml_concepts"])
def test_a_bundled_dataset_brings_a_loss_that_fits_it(dataset, compose_config):
    cfg = compose_config(f"dataset={dataset}", hydra=True)
    assert cfg.hydra.runtime.choices.loss == "cosine"
    assert cfg.loss._target_.endswith("CosineSimilarityLoss")
    assert cfg.optimized_metric == "spearman"


def test_an_explicit_loss_still_wins(compose_config):
    cfg = compose_config("dataset=word_association", "loss=cosent", hydra=True)
    assert cfg.hydra.runtime.choices.loss == "cosent"
    assert (
        compose_config("dataset=word_association", "optimized_metric=pearson", hydra=True).optimized_metric == "pearson"
    )


def test_pair_datasets_keep_mnrl(compose_config):
    assert compose_config("dataset=physics", hydra=True).hydra.runtime.choices.loss == "mnrl"
