"""Losses (`conf/loss/`): sentence-transformers classes built as partials, matched to the data's parts."""
