"""Phase 2: train on (query, gold passage, hard negative) triplets mined with the model the phase starts from
(or with `mine_with`)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from embedlab.data.bundle import DataBundle, Part
from embedlab.data.splits import SPLITS
from embedlab.errors import UserError
from embedlab.mining.hard_negatives import MinedNegatives
from embedlab.mining.reranker import CrossEncoderReranker
from embedlab.mining.search import import_faiss
from embedlab.models.folder import check_model_folder, looks_local
from embedlab.phases import MLFLOW_SCHEMES, StartingModel, resolve_init_from, start_from

log = logging.getLogger(__name__)


@dataclass
class MiningSettings:
    """What `mine_hard_negatives` is asked for; part of the cache key."""

    num_negatives: int
    range_min: int
    range_max: int
    relative_margin: float | None
    absolute_margin: float | None
    max_score: float | None
    reranker: str | None
    fill_short: str | None = None


@dataclass
class HardNegativesPhase:
    """Mine hard negatives, then train on (query, gold passage, negative) triplets.

    The triplets of the training split's queries are trained on; those of the validation split's queries
    (negatives mined the same way) give the validation loss. So phase 2 validates, and picks its checkpoint,
    on queries that neither phase 1 nor phase 2 trained on; the test split is kept as it is. The mining
    statistics (`mining_queries`, `mining_triplets`, ...) count the training and validation queries together
    (with `negatives="batches"`, the training queries alone).

    Args:
        name: shown in run names.
        init_from: the model to start from (and mine with): a local folder, a hub id,
            `models:/<name>/<version>`, `models:/<model id>` or `runs:/<run_id>/<logged model name>` (the name
            is the run's, e.g. `physics-mnrl_bs-16_1206-101500`); None = `model.name_or_path`.
        mine_with: another model to mine with, given the same ways; None = the model the phase starts from.
        num_negatives: hard negatives per query (one triplet each).
        range_min: skip this many of the best candidates left after filtering.
        range_max: consider at most this many candidates per query.
        relative_margin: drop candidates scoring above `positive - |positive| * relative_margin` (false negatives).
        absolute_margin: drop candidates scoring above `positive - absolute_margin`.
        max_score: drop candidates scoring above this.
        reranker: a `CrossEncoderReranker`; with a model set, it re-scores every candidate.
        batch_size: encoding batch size for mining.
        cache_dir: where mined triplets are kept between runs; None = always mine.
        fill_short: None = a query short of safe hard negatives trains on those it has (with none, not at
            all); "random" = seeded random passages fill its missing negatives, so every labeled pair trains.
        negatives: "rows" = train on (query, gold passage, negative) triplets; "batches" = mine for the
            training queries among their gold passages only, and train on the (query, gold passage) pairs
            ordered so that each batch of `group_size` holds queries whose gold passages are each other's mined
            negatives (`embedlab.mining.batches`; needs `sampler=in_order`, which keeps those batches).
        group_size: the batch those orderings are made for: `training.batch_size`.
        seed: the seed of the random choices (batch starts, `fill_short`'s passages).
    """

    name: str = "hard_negatives"
    init_from: str | None = None
    mine_with: str | None = None
    num_negatives: int = 1
    range_min: int = 0
    range_max: int = 20
    relative_margin: float | None = 0.05
    absolute_margin: float | None = None
    max_score: float | None = None
    reranker: CrossEncoderReranker = field(default_factory=CrossEncoderReranker)
    batch_size: int = 64
    cache_dir: str | None = "~/.cache/embedlab/hard_negatives"
    fill_short: str | None = None
    negatives: str = "rows"
    group_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        import_faiss()  # a missing FAISS fails here, before phase 1 of a chain trains, not at mining time
        name = str(self.mine_with or "")
        if name and not name.startswith(MLFLOW_SCHEMES):  # before phase 1 of a chain trains, not after
            if looks_local(name) and not Path(name).expanduser().is_dir():
                raise UserError(
                    f"phase.mine_with={name} is not a folder; expected a model folder, a hub id, "
                    "models:/<name>/<version>, models:/<model id>, runs:/<run_id>/<logged model name>, "
                    "or null (mine with the phase's own model)"
                )
            check_model_folder(name, "phase.mine_with")

    def starting_model(self) -> StartingModel:
        """`init_from` as a local folder (an MLflow URI is downloaded), or no overrides without one."""
        return start_from(self.init_from)

    def planned_data(self, data: DataBundle) -> DataBundle:
        """Triplets for the train and validation queries, as `prepare()` returns them; their negatives are not
        known before mining, so the gold passage stands in. One line now if the data has no retrieval set."""
        splits: dict[str, list[dict[str, str]]] = {"train": [], "validation": [], "test": []}
        pairs_of = {split: retrieval_pairs(data, split)[2] for split in ("train", "validation")}
        self.check_window_fits(data, pairs_of["train"])
        for split, pairs in pairs_of.items():
            columns = ("anchor", "positive") if self.negatives == "batches" else ("anchor", "positive", "negative")
            splits[split] = [dict(zip(columns, (q, p, p))) for q, p in pairs]
        retrieval = {split: data.retrieval[split] for split in SPLITS if split in data.retrieval}
        part = Part("pairs" if self.negatives == "batches" else "triplets", splits, disjoint=("anchor",))
        return replace(data, parts={"hard_negatives": part}, retrieval=retrieval)

    def check_window_fits(self, data: DataBundle, train_pairs: list[tuple[str, str]]) -> None:
        """The rank window holds `num_negatives` passages besides the gold one: a window past the end of what is
        mined among (the corpus; with `negatives=batches`, the training queries' gold passages) mines no
        negatives, or fewer than asked, for every query, and made `phase.num_negatives=50000` on 244 passages a
        run of 106,522 triplets from 441 queries."""
        among = len({p for _, p in train_pairs}) if self.negatives == "batches" else len(data.corpus)
        what = "training queries' gold passages" if self.negatives == "batches" else "corpus"
        if self.range_min + self.num_negatives > among - 1:
            raise UserError(
                f"phase.num_negatives={self.num_negatives} from rank phase.range_min={self.range_min} needs "
                f"{self.range_min + self.num_negatives} passages besides each gold one, but the {what} has "
                f"{among}; expected phase.range_min + phase.num_negatives <= {among - 1}"
            )

    def prepare(self, data: DataBundle, model, start: StartingModel, tracker, run_dir: Path) -> DataBundle:
        """Mine (or reuse) the triplets, log them and their statistics, and return them as the training data.

        `start` (what `starting_model()` returned) is logged as `init_from.json` and kept with cached triplets.
        """
        from embedlab.mining.cache import MiningCache, data_fingerprint, mining_key, weights_hash

        if start.source:
            tracker.log_dict(start.source, "init_from.json")
        _, _, pairs = retrieval_pairs(data, "train")
        corpus = []  # batches: the training golds only, as only another training query's gold joins its batch
        if self.negatives == "rows":
            known = set(pairs)  # validation queries get negatives too: the validation loss needs triplets
            pairs = pairs + [pair for pair in retrieval_pairs(data, "validation")[2] if pair not in known]
            corpus = [data.corpus[doc_id] for doc_id in sorted(data.corpus)]  # as retrieval evaluation encodes it
        settings = asdict(self.settings())
        miner = self.mining_model(model, tracker)
        key = mining_key(weights_hash(miner), data_fingerprint(pairs, corpus), settings)
        cache = MiningCache(self.cache_dir) if self.cache_dir else None
        cached = cache.load(key) if cache else None
        if cached is not None:
            log.info(
                f"hard negatives: reusing cached triplets {cache.path(key)} (same model weights, data and settings)"
            )
        mined = cached or self.mine(miner, pairs, corpus, start.work if miner is model else None)
        if cache and cached is None:
            cache.save(key, mined, {"settings": settings, "started_from": start.source})
        if not mined.triplets:
            raise UserError(
                f"phase=hard_negatives mined no negatives for {mined.stats['queries']} queries; "
                "expected some: raise phase.range_max or loosen relative_margin / absolute_margin / max_score"
            )
        log_mining(tracker, mined, key, cached=cached is not None)
        if self.negatives == "batches":
            return self.neighbor_bundle(data, mined, tracker)
        return triplet_bundle(data, mined)

    def neighbor_bundle(self, data: DataBundle, mined: MinedNegatives, tracker) -> DataBundle:
        """The training pairs in batches of neighbours (`embedlab.mining.batches`), the validation pairs as
        they are; logs `mining_neighbors_in_batch`, the share of rows that have a mined negative in their batch."""
        from embedlab.mining.batches import neighbor_batches, neighbors_in_batch

        negatives: dict[str, list[str]] = {}
        for t in mined.triplets:  # best first, once per negative
            if t["negative"] not in negatives.setdefault(t["anchor"], []):
                negatives[t["anchor"]].append(t["negative"])
        splits: dict[str, list[dict[str, str]]] = {"train": [], "validation": [], "test": []}
        for split in ("train", "validation"):
            rows = retrieval_pairs(data, split)[2]
            batches = (
                neighbor_batches(rows, negatives, self.group_size, self.seed)
                if split == "train"
                else [list(range(len(rows)))]
            )
            splits[split] = [{"anchor": rows[i][0], "positive": rows[i][1]} for batch in batches for i in batch]
            if split == "train":
                share = neighbors_in_batch(rows, negatives, batches)
                tracker.log_metrics({"mining_neighbors_in_batch": share}, step=0)
                log.info(
                    f"hard negatives: {len(batches)} batches of neighbours; {share:.0%} of the rows have a mined negative in theirs"
                )
        retrieval = {split: data.retrieval[split] for split in SPLITS if split in data.retrieval}
        part = Part("pairs", splits, disjoint=("anchor",))
        bundle = replace(
            data, source=f"{data.source} (batches of neighbours)", parts={"hard_negatives": part}, retrieval=retrieval
        )
        bundle.check_disjoint()
        return bundle

    def mining_model(self, model, tracker):
        """The model that mines: the phase's own, or `mine_with` loaded beside it (same device and length)."""
        if not self.mine_with:
            return model
        from embedlab.models.sentence_transformer import load_sentence_transformer

        resolved = resolve_init_from(str(self.mine_with), key="phase.mine_with")
        tracker.log_dict(resolved, "mine_with.json")
        log.info(
            f"hard negatives: mined with {resolved['path']} (phase.mine_with), training starts from the phase's model"
        )
        return load_sentence_transformer(
            resolved["path"], max_seq_length=model.max_seq_length, device=str(model.device), key="phase.mine_with"
        )

    def mine(self, model, pairs: list[tuple[str, str]], corpus: list[str], work=None) -> MinedNegatives:
        """Mine with `model`; `work` (its `ModelWork`) shares the corpus encoding with the run's evaluations."""
        from embedlab.mining.hard_negatives import mine_hard_negatives

        reranker = self.reranker.load(str(model.device))  # loaded (and any error raised) before encoding
        encode = (lambda passages: work.encode_documents(model, passages, self.batch_size)) if work else None
        return mine_hard_negatives(
            model,
            pairs,
            corpus,
            num_negatives=self.num_negatives,
            range_min=self.range_min,
            range_max=self.range_max,
            relative_margin=self.relative_margin,
            absolute_margin=self.absolute_margin,
            max_score=self.max_score,
            reranker=reranker,
            batch_size=self.batch_size,
            rerank_batch_size=self.reranker.batch_size,
            encode_passages=encode,
            fill_short=self.fill_short,
            seed=self.seed,
        )

    def settings(self) -> MiningSettings:
        return MiningSettings(
            self.num_negatives,
            self.range_min,
            self.range_max,
            self.relative_margin,
            self.absolute_margin,
            self.max_score,
            self.reranker.name_or_path,
            self.fill_short,
        )


def retrieval_pairs(data: DataBundle, split: str) -> tuple[dict[str, str], dict[str, set[str]], list[tuple[str, str]]]:
    """The split's retrieval queries, their gold passages, and (query, gold passage) pairs to mine for."""
    found = data.retrieval_split(split)
    if found is None or not data.corpus or not found[1].queries:
        raise UserError(
            f"phase=hard_negatives needs a retrieval corpus and {split} queries, but dataset={data.name} has "
            "none; expected a dataset with corpus.jsonl, queries.jsonl and qrels (e.g. dataset=physics) and "
            "dataset.fractions that leave a validation split"
        )
    _, queries = found
    pairs = [
        (queries.queries[q], data.corpus[d])
        for q in queries.queries
        for d in sorted(queries.relevant[q])
        if d in data.corpus
    ]
    return queries.queries, queries.relevant, pairs


def triplet_bundle(data: DataBundle, mined: MinedNegatives) -> DataBundle:
    """Mined triplets assigned to the split of their query: train and validation as the dataset split them.

    The retrieval splits are the dataset's own, so phase 2's validation ranks the corpus for the same
    held-out queries phase 1 validated on; the test split is kept.
    """
    splits_of: dict[str, list[str]] = {}  # a validation query that also trains (train_on_validation) is in both
    for split in ("train", "validation"):
        for text in retrieval_pairs(data, split)[0].values():
            splits_of.setdefault(text, []).append(split)
    splits: dict[str, list[dict[str, str]]] = {"train": [], "validation": [], "test": []}
    for t in mined.triplets:
        for split in splits_of.get(t["anchor"], []):
            splits[split].append({k: t[k] for k in ("anchor", "positive", "negative")})
    retrieval = {split: data.retrieval[split] for split in SPLITS if split in data.retrieval}
    part = Part("triplets", splits, disjoint=("anchor",))
    bundle = replace(
        data, source=f"{data.source} (hard negatives)", parts={"hard_negatives": part}, retrieval=retrieval
    )
    bundle.check_disjoint()
    return bundle


def log_mining(tracker, mined: MinedNegatives, key: str, cached: bool) -> None:
    """Statistics and timings as metrics (step 0) and JSON; the triplets as JSONL; a short report on stdout."""
    stats = {k: float(v) for k, v in mined.stats.items()}
    tracker.log_metrics({f"mining_{k}": v for k, v in {**stats, **mined.timings}.items()}, step=0)
    tracker.log_metrics({"mining_cache_hit": float(cached)}, step=0)
    tracker.log_dict(
        {"cache_key": key, "cache_hit": cached, "stats": mined.stats, "timings": mined.timings},
        "hard_negatives/stats.json",
    )
    tracker.log_artifact_text("".join(json.dumps(t) + "\n" for t in mined.triplets), "hard_negatives/triplets.jsonl")
    log.info(mining_report(mined, cached))


def mining_report(mined: MinedNegatives, cached: bool) -> str:
    s, t = mined.stats, mined.timings
    filled = (
        f", filled with {s['random_negatives']} random passages (phase.fill_short)" if s.get("random_negatives") else ""
    )
    origin = "reused from cache; timings are from the run that mined them" if cached else "mined now"
    return "\n".join(
        [
            f"hard negatives ({origin}): {s['triplets']} triplets for {s['queries']} queries over {s['corpus']} passages",
            f"  candidates considered {s['candidates_considered']}, skipped: relative_margin "
            f"{s['skipped_relative_margin']}, absolute_margin {s['skipped_absolute_margin']}, "
            f"max_score {s['skipped_max_score']}; queries short of negatives {s['queries_short']}{filled}",
            f"  mean score: positives {s['mean_positive_score']:.4f}, negatives {s['mean_negative_score']:.4f}"
            f"{' (cross-encoder)' if s['reranked'] else ''}",
            f"  time: encode {t['encode_s']:.2f}s, search {t['search_s']:.3f}s, re-rank {t['rerank_s']:.2f}s, "
            f"filter {t['filter_s']:.3f}s, total {t['total_s']:.2f}s",
        ]
    )
