"""Tracking (`conf/tracking/`): one MLflow run per training run."""
