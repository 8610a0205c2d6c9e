"""Sweeps with `python -m train -m`: Optuna studies and grid sweeps, grouped in MLflow.

The Hydra plugins live in `hydra_plugins.embedlab_sweepers` and stay thin; the work is done here.
"""
