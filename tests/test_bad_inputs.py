"""Bad input, as a user would give it, on the tiny model: one `error:` line, exit 2, no traceback, no RUNNING
MLflow run, and nothing heavy imported first (no torch, transformers, sentence-transformers or MLflow): each case
is refused before the model loads, which is what makes it answer within seconds.

The cases cover each class the schema and the readers check: config types, ranges, choices and unknown keys;
files whose cells, quotes, headers or ids cannot be read faithfully; model folders; tracking stores; sweeps.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedlab_testing import (
    HEAVY_MODULES,
    REPO,
    Finished,
    assert_refused_in_one_line,
    run_train,
    run_train_logging_imports,
    write_jsonl,
    write_physics_folder,
)

pytestmark = pytest.mark.slow

PAIRS = [{"anchor": f"question {i} about optics", "positive": f"answer {i} about lenses"} for i in range(40)]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def beir_with(tmp: Path, name: str, physics: Path, **replace: str) -> Path:
    """A copy of the physics folder with some files' text replaced."""
    folder = tmp / name
    folder.mkdir()
    for file in ("pairs.jsonl", "corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        (folder / file).write_bytes((physics / file).read_bytes())
    for file, text in replace.items():
        (folder / file.replace("_", ".")).write_text(text, encoding="utf-8")
    return folder


def broken_models(tmp: Path, tiny: str) -> tuple[Path, Path]:
    """The tiny model without its tokenizer files, and with its weights cut in half."""
    import shutil

    no_tokenizer = Path(shutil.copytree(tiny, tmp / "no_tokenizer"))
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        for found in no_tokenizer.rglob(name):
            found.unlink()
    truncated = Path(shutil.copytree(tiny, tmp / "truncated"))
    weights = next(truncated.rglob("model.safetensors"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return no_tokenizer, truncated


# name -> (overrides as typed after `python -m train`, on top of the tiny model and the physics folder; text the
# error line must contain)
ON_PHYSICS = {
    # config: types, ranges, choices, unknown keys (the schema, before data or model)
    "lr not a number": ("training.lr=abc", "training.lr=abc is not a number"),
    "epochs not a number": ("training.epochs=abc", "training.epochs=abc"),
    "epochs infinite": ("training.epochs=inf", "training.epochs=inf is not finite"),
    "unknown scheduler": ("training.scheduler=cosine_annealing", "expected one of linear, cosine"),
    "unknown optimizer": ("training.optimizer=adam", "training.optimizer=adam is unknown"),
    "misspelled key": ("+training.batchsize=8", "did you mean training.batch_size?"),
    "negative seed": ("seed=-1", "seed=-1 is out of range"),
    "seed not a number": ("seed=abc", "seed=abc is not an integer"),
    "environment variable not set": (  # a traceback, exit 1, when the run read its overrides
        "dataset.path=${oc.env:EMBEDLAB_UNSET_DATA}",
        "dataset.path=${oc.env:EMBEDLAB_UNSET_DATA}: Environment variable 'EMBEDLAB_UNSET_DATA' not found; expected",
    ),
    "interpolation of no key": ("training.lr=${training.lrr}", "Interpolation key 'training.lrr' not found"),
    "logging steps 0": ("training.logging_steps=0", "training.logging_steps=0"),
    "max steps 0": ("training.max_steps=0", "training.max_steps=0"),
    "length buckets 0": ("training.length_buckets=0", "training.length_buckets=0"),
    "eval steps fractional": ("training.eval_steps=1.5", "training.eval_steps=1.5 is not an integer"),
    "threads 0": ("hardware.threads=0", "hardware.threads=0"),
    "workers negative": ("hardware.dataloader_workers=-1", "hardware.dataloader_workers=-1"),
    "unknown precision": ("hardware.precision=fp8", "hardware.precision=fp8 is unknown"),
    "mini batch 0": ("loss=cached_mnrl loss.mini_batch_size=0", "loss.mini_batch_size=0"),
    "max seq length 0": ("model.max_seq_length=0", "model.max_seq_length=0"),
    "no validation fraction": ("dataset.fractions=[0.9,0,0.1]", "leaves no validation split"),
    "two fractions": ("dataset.fractions=[0.5,0.5]", "dataset.fractions=[0.5,0.5]"),
    "registered name": ("tracking.registered_model_name='team/search:v1'", "registered_model_name"),
    "log model not a flag": ("tracking.log_model=maybe", "tracking.log_model=maybe"),
    "unknown top key": ("+seedd=1", "did you mean seed?"),
    "unknown multi-dataset sampler": ("sampler.multi_dataset=random", "sampler.multi_dataset=random"),
    "mining window reversed": ("phase=hard_negatives phase.range_min=30", "phase.range_min=30"),
    "resume a list": ("resume=[1,2]", "resume=[1,2]"),
    "group_by_label on pairs": ("sampler=group_by_label", "group_by_label needs a label column"),
    "batches of neighbours shuffled": (
        "phase=hard_negatives phase.negatives=batches",
        "phase.negatives=batches orders the rows into batches of neighbours, but sampler.batch_sampler=no_duplicates",
    ),
    "in_order without batches": ("sampler=in_order", "sampler=in_order keeps the batches that phase=hard_negatives"),
    "unknown negatives": ("phase=hard_negatives phase.negatives=triplets", "phase.negatives=triplets is unknown"),
    "mining window past the corpus": (  # it mined for minutes, every query short of negatives
        "phase=hard_negatives phase.range_max=100000 phase.num_negatives=50000",
        "phase.num_negatives=50000 from rank phase.range_min=0 needs 50000 passages besides each gold one, but the "
        "corpus has",
    ),
    "a stage's key on the chain": (
        "phase=two_phase phase.num_negatives=3",
        "phase.num_negatives is not a key of a chain of stages (it has stages, name), so no stage reads it; "
        "expected phase.stages.phase2.phase.num_negatives=<value>",
    ),
    "a stage's key added to the chain": (  # it was accepted, and no stage read it
        "phase=two_phase +phase.num_negatives=3",
        "phase.num_negatives=3 is not a key of a chain of stages (it has name, stages), so no stage reads it; "
        "expected phase.stages.phase2.phase.num_negatives=<value>",
    ),
    # model folders and tracking stores that are not there
    "hub model without the hub": ("model.name_or_path=someone/no-such-model", "is not a local folder, and"),
    "server not listening": ("tracking.uri=http://127.0.0.1:9", "nothing answers at 127.0.0.1:9"),
    "store folder not writable": ("tracking.uri=sqlite:////proc/mlflow.db", "cannot be opened for writing"),
    "postgres not listening": ("tracking.uri=postgresql://127.0.0.1:9/mlflow", "nothing answers at 127.0.0.1:9"),
    # composition: what Hydra refuses before any config exists (its own errors, as one line)
    "misspelled option": ("dataset=quroa", "dataset=quroa is not an option of dataset; expected"),
    "misspelled group": ("datset=physics", "datset is not a key of the config; did you mean dataset?"),
    "misspelled key without +": ("training.lrr=1e-5", "did you mean training.lr?"),
    "+ on a key the config has": (
        "+hardware.compile=true",
        "+hardware.compile=true: hardware.compile is already in the config, and + adds a key the config lacks; "
        "expected hardware.compile=true",
    ),
    "override grammar": ("training.lr=[", "no viable alternative at input '['"),
    "several values without -m": ("loss=mnrl,cosent", "to sweep over them add -m"),
    "home path unquoted": ("dataset.path=~/pairs.jsonl", "Hydra can read at character 14 ('~')"),
    "search space without -m": ("hparams_search=physics", "python -m train -m hparams_search=physics"),
    "metric with @": ("optimized_metric=ndcg@10", "did you mean ndcg_at_10?"),
    # deleted or nulled: what a run needs, taken away on the command line
    "group set to null": ("experiment=null", "experiment=null: a config group takes one of its options, not null"),
    "group set to NULL": ("loss=NULL", "loss=NULL: a config group takes one of its options, not NULL"),
    "group deleted": ("~loss", "loss is missing from the config (deleted with ~loss?)"),
    "key deleted": ("~training.lr", "training.lr is missing from the config"),
    "key of a chosen option deleted": ("~loss.scale", "loss.scale is missing from the config"),
    "top key deleted": ("~seed", "seed is missing from the config"),
    "in-memory store": ("tracking.uri=sqlite://", "is not a SQLite file MLflow keeps"),
    "misspelled store scheme": ("tracking.uri=sqllite:////tmp/mlflow.db", "no tracking store for the scheme 'sqllite'"),
    "store scheme MLflow lacks": ("tracking.uri=ftp://host/mlflow", "no tracking store for the scheme 'ftp'"),
    "sweep and --cfg together": ("-m training.lr=1e-4,2e-4 --cfg job", "--cfg and --multirun together: Hydra runs one"),
    "misspelled nested option": (
        "loss=mixed loss@loss.parts.labeled=cosin",
        "loss/cosin (in the defaults of conf/loss/mixed.yaml) is not an option of loss",
    ),
}
IN_FILES = [  # the cases that need files written first (bad_inputs)
    "a file where the dataset's folder goes",
    "unknown dataset key",
    "unknown quoting",
    "list cell",
    "lone surrogate",
    "key named twice",
    "link to nowhere",
    "object cell",
    "parquet list column",
    "stray quote, last column",
    "stray quote, first column",
    "repeated header",
    "true as a score",
    "label not a number",
    "null document id",
    "qrels score not a number",
    "retrieval only evaluates",
    "bundled labeled data, pair loss",
    "model without tokenizer",
    "truncated weights",
    "store is a folder",
    "folder store",
]


def bad_inputs(tmp: Path, tiny: str) -> dict[str, tuple[list[str], str]]:
    """name -> (overrides, text the error line must contain): ON_PHYSICS, and the IN_FILES cases."""
    physics = write_physics_folder(tmp / "physics")
    local = [f"model.name_or_path={tiny}", "dataset=local"]
    base = [f"model.name_or_path={tiny}", f"dataset.path={physics}"]
    rows = [dict(r) for r in PAIRS]
    rows[2]["anchor"] = ["how", "do", "i"]
    lists = write_jsonl(tmp / "lists.jsonl", rows)
    rows = [dict(r) for r in PAIRS]
    rows[4]["anchor"] = "half a pair \ud800 here"  # written as JSON's \ud800 escape
    surrogate = write_jsonl(tmp / "surrogate.jsonl", rows)
    twice = write_lines(
        tmp / "twice.jsonl", [json.dumps(r) for r in PAIRS[:6]] + ['{"anchor": "a", "positive": "b", "positive": "c"}']
    )
    nowhere = tmp / "moved.jsonl"
    nowhere.symlink_to(tmp / "gone" / "pairs.jsonl")
    rows = [dict(r) for r in PAIRS]
    rows[5]["positive"] = {"text": "an object"}
    objects = write_jsonl(tmp / "objects.jsonl", rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp / "lists.parquet"
    pq.write_table(pa.table({"anchor": [["a", "b"]] * 40, "positive": [f"p{i}" for i in range(40)]}), parquet)
    tsv = ["anchor\tpositive", *[f"{r['anchor']}\t{r['positive']}" for r in PAIRS]]
    stray_last = write_lines(tmp / "stray_last.tsv", [*tsv[:13], 'question 12\t"5 inch screen', *tsv[14:]])
    stray_first = write_lines(tmp / "stray_first.tsv", [*tsv[:13], '"question 12\t5 inch screen', *tsv[14:]])
    dup = write_lines(tmp / "dup.csv", ["anchor,positive,positive", *[f"a{i},p{i},x{i}" for i in range(40)]])
    scored = [{"sentence1": f"s{i} one", "sentence2": f"s{i} two", "score": 0.5} for i in range(40)]
    scored[4]["score"] = True
    true_score = write_jsonl(tmp / "true_score.jsonl", scored)
    labeled = write_lines(tmp / "labels.csv", ["sentence1,sentence2,label", *[f"a{i},b{i},yes" for i in range(40)]])
    corpus = (physics / "corpus.jsonl").read_text().splitlines()
    first = json.loads(corpus[0])
    null_id = beir_with(
        tmp, "null_id", physics, corpus_jsonl="\n".join([json.dumps({**first, "_id": None}), *corpus[1:]])
    )
    qrels = (physics / "qrels.tsv").read_text().splitlines()
    bad_score = beir_with(
        tmp, "bad_score", physics, qrels_tsv="\n".join([qrels[0], qrels[1].rsplit("\t", 1)[0] + "\thigh", *qrels[2:]])
    )
    no_tokenizer, truncated = broken_models(tmp, tiny)
    return {name: ([*base, *typed.split()], expected) for name, (typed, expected) in ON_PHYSICS.items()} | {
        # config keys of the local reader
        "unknown dataset key": ([*local, f"dataset.path={lists}", "+dataset.delimiter=x"], "dataset.delimiter"),
        "unknown quoting": ([*local, f"dataset.path={dup}", "dataset.quoting=maybe"], "dataset.quoting=maybe"),
        # files: cells, quotes, headers, ids, scores (the readers, before the model)
        "list cell": ([*local, f"dataset.path={lists}"], "row 3 column 'anchor' is a list"),
        "lone surrogate": ([*local, f"dataset.path={surrogate}"], "row 5 column 'anchor' holds '\\ud800', half of"),
        "key named twice": ([*local, f"dataset.path={twice}"], "line 7 names key 'positive' twice in one object"),
        "link to nowhere": ([*local, f"dataset.path={nowhere}"], "which leads to no file (missing, or a loop)"),
        "object cell": ([*local, f"dataset.path={objects}"], "row 6 column 'positive' is an object"),
        "parquet list column": ([*local, f"dataset.path={parquet}"], "column 'anchor' is a list"),
        "stray quote, last column": ([*local, f"dataset.path={stray_last}"], "line 14 column 'positive' opens"),
        "stray quote, first column": ([*local, f"dataset.path={stray_first}"], "dataset.quoting=none"),
        "repeated header": ([*local, f"dataset.path={dup}"], "repeats column 'positive'"),
        "true as a score": (
            [*local, f"dataset.path={true_score}", "dataset.kind=scored_pairs", "loss=cosine"],
            "column 'score' is a boolean",
        ),
        "label not a number": (
            [*local, f"dataset.path={labeled}", "dataset.kind=labeled_pairs", "loss=cosine"],
            "'label'='yes' is not numeric",
        ),
        "null document id": ([f"model.name_or_path={tiny}", f"dataset.path={null_id}"], "has _id null"),
        "qrels score not a number": ([f"model.name_or_path={tiny}", f"dataset.path={bad_score}"], "score 'high'"),
        "retrieval only evaluates": (
            [*local, f"dataset.path={physics}", "dataset.kind=retrieval", "dataset.use=eval"],
            "has no training data (dataset.use=eval only evaluates)",
        ),
        "bundled labeled data, pair loss": (
            [f"model.name_or_path={tiny}", "dataset=word_association", "loss=mnrl"],
            "has labeled_pairs (part 'labeled'); expected a loss for that data",
        ),
        # model folders
        "model without tokenizer": ([f"model.name_or_path={no_tokenizer}", f"dataset.path={physics}"], "no tokenizer"),
        "truncated weights": ([f"model.name_or_path={truncated}", f"dataset.path={physics}"], "is truncated"),
        # tracking stores
        "store is a folder": ([*base, f"tracking.uri=sqlite:///{tmp}"], "is a folder"),
        "a file where the dataset's folder goes": (
            [f"model.name_or_path={tiny}", f"dataset.path={physics / 'pairs.jsonl'}"],
            "pairs.jsonl: is a file; expected a folder holding pairs.jsonl",
        ),
        "folder store": ([*base, f"tracking.uri=file://{tmp}/mlruns"], "is a folder store, which MLflow 3"),
    }


SWEEPS = {
    "no trials": (["hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0 is out of range"),
    "direction misspelled": (["hydra.sweeper.direction=maximise"], "hydra.sweeper.direction=maximise is unknown"),
    "storage URL": (["hydra.sweeper.storage=sqlite//x.db"], "is not a database URL"),
    "resume in a study": (["resume=0123abcd"], "resume=0123abcd with -m: resume= continues one stopped run"),
    "reversed interval": (["training.lr=interval(2e-4,1e-5)"], "is not a valid interval"),
    "range end that cannot run": (["training.batch_size=choice(0,16)"], "the value 0 cannot run"),
    "parameter through the sweeper's params": (
        ["hydra.sweeper.params.training.lr=interval(1e-5,1e-4)"],
        "a search space's parameter is set by its own key; expected python -m train -m hparams_search=<space> "
        "training.lr=interval(1e-5,1e-4)",
    ),
    "parameter through the sweeper's params, quoted": (
        ["hydra.sweeper.params.training.lr='interval(1e-5,1e-4)'"],
        "hparams_search=<space> training.lr=...",
    ),
}


@pytest.fixture(scope="module")
def cases(tiny_model_path, tmp_path_factory):
    return bad_inputs(tmp_path_factory.mktemp("bad_inputs"), tiny_model_path)


def refused(*overrides: str, tmp_path: Path, expected: str) -> Finished:
    """`python -m train <overrides>` with an MLflow store of its own in `tmp_path`: the one line a user sees,
    given before anything that takes seconds to import was imported (no torch, transformers,
    sentence-transformers or MLflow: a model, a run and a training step each need one). That, not a clock, is
    why bad input answers within seconds. Returns the result."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result, imported = run_train_logging_imports(*overrides, env={"MLFLOW_TRACKING_URI": uri})
    assert_refused_in_one_line(result, expected, uri)
    assert "hydra" in imported  # the import log is there to read
    assert not set(HEAVY_MODULES) & imported, sorted(set(HEAVY_MODULES) & imported)
    return result


CASE_NAMES = [*ON_PHYSICS, *IN_FILES]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_is_one_line(name, cases, tmp_path):
    overrides, expected = cases[name]
    refused(*overrides, f"hydra.run.dir={tmp_path / 'run'}", tmp_path=tmp_path, expected=expected)


@pytest.mark.parametrize("name", list(SWEEPS))
def test_bad_sweep_is_one_line_before_any_job(name, tiny_model_path, tmp_path):
    overrides, expected = SWEEPS[name]
    sweep = [
        "-m",
        "hparams_search=physics",
        f"model.name_or_path={tiny_model_path}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        f"hydra.sweeper.storage=sqlite:///{tmp_path / 'optuna.db'}",
    ]
    refused(*sweep, *overrides, tmp_path=tmp_path, expected=expected)  # the case's values last: they win
    assert not (tmp_path / "sweep" / "0").exists()  # no job ran


GRIDS = {
    "loss that cannot read the data": ("loss=mnrl,cosent", "grid point 1 (loss=cosent"),
    "misspelled option": ("dataset=physics,quroa", "did you mean quora?"),
    "resume in a grid": ("resume=true loss.scale=10,20", "resume=true with -m: resume= continues one stopped run"),
    "environment variable not set in a grid": (  # the check was skipped, with a warning, and the jobs failed
        "seed=${oc.env:EMBEDLAB_UNSET_SEED} loss.scale=10,20",
        "seed=${oc.env:EMBEDLAB_UNSET_SEED}: Environment variable 'EMBEDLAB_UNSET_SEED' not found; expected",
    ),
    "Optuna setting on a grid": (
        "hydra.sweeper.n_trials=3 loss.scale=10,20",
        "hydra.sweeper.n_trials is a setting of the Optuna sweeper, but this command's sweeper is the grid",
    ),
    "Optuna setting added to a grid": (  # what Hydra's advice for the one above, a +, gave: the grid's TypeError
        "+hydra.sweeper.n_trials=3 loss.scale=10,20",
        "hydra.sweeper.n_trials is a setting of the Optuna sweeper, but this command's sweeper is the grid",
    ),
}


@pytest.mark.parametrize("name", list(GRIDS))
def test_a_grid_is_checked_at_every_point_before_its_first_job(name, tiny_model_path, tmp_path):
    grid, expected = GRIDS[name]
    model, folder = f"model.name_or_path={tiny_model_path}", f"hydra.sweep.dir={tmp_path / 'grid'}"
    result = refused("-m", *grid.split(), model, folder, tmp_path=tmp_path, expected=expected)
    assert "UserWarning" not in result.stderr  # Hydra's warning for a failed callback, with its 15-line message
    assert not (tmp_path / "grid" / "0").exists()  # the good first point did not start either
    assert not (tmp_path / "mlflow.db").exists()  # nor did any run: not even the store was made


def test_hydra_full_error_still_gives_hydras_own_trace(tmp_path):
    result = run_train("dataset=quroa", f"hydra.run.dir={tmp_path}", env={"HYDRA_FULL_ERROR": "1"})
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "MissingConfigException" in result.stderr


def test_the_catalogue_has_at_least_40_new_cases(cases):
    assert set(CASE_NAMES) == set(cases)
    assert len(CASE_NAMES) + len(SWEEPS) + len(GRIDS) >= 40


def test_docs_count_the_catalogue_as_it_is():
    """docs/errors.md says how many cases run here; it said 56, 5 and 2 while there were 78, 8 and 3."""
    import re

    text = " ".join((REPO / "docs" / "errors.md").read_text(encoding="utf-8").split())
    said = re.search(r"for (\d+) bad inputs, (\d+) bad sweeps and (\d+) bad grids", text)
    assert said, "docs/errors.md no longer counts tests/test_bad_inputs.py's cases"
    assert tuple(map(int, said.groups())) == (len(CASE_NAMES), len(SWEEPS), len(GRIDS))
