"""Training (`conf/training/`, `conf/sampler/`): arguments, samplers, the trainer and checkpoint selection."""
