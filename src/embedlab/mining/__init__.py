"""Hard-negative mining: encode, search a FAISS index, re-rank, filter false negatives, cache the result."""
