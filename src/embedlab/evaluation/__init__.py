"""Evaluators: metric names are the same in every run (ndcg_at_10, mrr_at_10, acc_at_1, spearman, triplet_acc)."""
