"""embedlab benchmarks: `make bench` (bundled physics set) or `make bench DATA=<BEIR folder>`.

Runs `python -m bench`, writes `bench/results/<time>.json` and `bench/results/latest.json` (git-ignored) and
prints one table headed by the machine's description. Every comparison runs both sides in the same process
or in alternating runs and reports medians of repeats, the raw times and their ratio.

Parts (``--parts``; each is a module of this package):
    overhead    `python -m train` vs a plain sentence-transformers script (bench/plain_train.py)
    startup     `python -m train --cfg job` and `--help`: wall time, and whether torch gets imported
    throughput  samples/s and peak RSS for mnrl, cached_mnrl and cosine at batch 32
    mining      embedlab.mining vs sentence_transformers.util.mine_hard_negatives
    evaluation  embedlab RetrievalEvaluator vs InformationRetrievalEvaluator, and the self-match case
    sweep       a pruned Optuna study vs the full grid of the same (discretized) physics space

`DATA` feeds mining and evaluation; the training parts use it too when it holds a `pairs.jsonl` (the
physics layout), else the bundled physics set. `--sweep-size quick|full` picks the sweep's grid;
`--smoke` shrinks everything to seconds (the test in tests/bench uses it with a tiny model).
"""
