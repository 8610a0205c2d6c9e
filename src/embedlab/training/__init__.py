"""Training (`conf/training/`, `conf/sampler/`): arguments, samplers, the trainer and checkpoint selection."""

# NaN/inf training losses in a row that stop a run: the default of `training.max_nonfinite_steps` wherever Python
# needs one (conf/training/default.yaml states it for users; tests/training/test_arguments.py keeps them equal).
MAX_NONFINITE_STEPS = 3
