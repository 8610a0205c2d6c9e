"""The triplet evaluator: sentence-transformers' triplet accuracy, under our stable name `triplet_acc`."""

from __future__ import annotations

import pytest

from embedlab.evaluation.triplets import TripletAccuracyEvaluator


def test_triplet_accuracy_counts_anchors_closer_to_their_positive(model, sentences, tmp_path):
    anchors = sentences[:4]
    positives = [anchors[0], anchors[1], sentences[4], sentences[4]]  # the first two are the anchor itself
    negatives = [sentences[4], sentences[4], anchors[2], anchors[3]]  # the last two are the anchor itself
    evaluator = TripletAccuracyEvaluator(anchors, positives, negatives)
    metrics = evaluator(model, output_path=str(tmp_path))
    assert metrics == {"triplet_acc": pytest.approx(0.5)} and evaluator.primary_metric == "triplet_acc"
    assert list(tmp_path.iterdir()) == []  # no CSV file next to the run's outputs
