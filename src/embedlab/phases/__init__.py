"""Training phases (`conf/phase/`): what a run trains on and which model it starts from."""
