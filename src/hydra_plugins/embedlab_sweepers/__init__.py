"""embedlab's Hydra sweepers: `hydra/sweeper=embedlab_optuna` (Optuna 4/5) and `hydra/sweeper=embedlab_grid`.

Hydra imports every module under `hydra_plugins` at start-up, so these modules import only Hydra; the work is
in `embedlab.sweeps`, imported when a sweep starts.
"""
