"""Datasets (`conf/dataset/`): readers that check every row, leak-free splits, and the DataBundle."""
