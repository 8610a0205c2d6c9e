"""Model loading (`conf/model/`)."""
