"""A study's plots as files: Optuna's plotly figures in one interactive HTML page, its matplotlib figures as PNG."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

PLOTS = ("plot_optimization_history", "plot_param_importances", "plot_parallel_coordinate")


HTML_FILE = "study_plots.html"  # every interactive plot in one page: plotly.js (~4.8 MB) is embedded once


def write_plots(study, folder: Path) -> list[str]:
    """Write each plot to `folder` as `<name>.png` (matplotlib), and all of them to one `study_plots.html`
    (plotly, when installed; it opens without a network); returns one note per plot that could not be drawn."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return [f"plots skipped: {len(complete)} complete trial(s), at least 2 needed"]
    import matplotlib

    matplotlib.use("Agg")  # no display in a sweep
    formats = ["png", *(["html"] if importlib.util.find_spec("plotly") is not None else [])]
    notes, figures = [], {}
    for name in PLOTS:
        for form in formats:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the matplotlib backend is flagged experimental
                    if form == "html":
                        figures[name] = plotly_figure(study, name)
                    else:
                        write_png(study, name, folder)
            except Exception as exc:  # e.g. importances need parameters that vary across complete trials
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                notes.append(f"{name}.{form} skipped: {reason}")
    if figures:
        write_html(figures, folder / HTML_FILE)
    return notes


def plotly_figure(study, name: str):
    import optuna.visualization as vis

    return getattr(vis, name)(study)


def write_html(figures: dict, path: Path) -> None:
    """One page with every figure, plotly.js embedded in the first only."""
    parts = [
        f"<h2>{name}</h2>" + figure.to_html(full_html=False, include_plotlyjs=i == 0)
        for i, (name, figure) in enumerate(figures.items())
    ]
    body = "\n".join(parts)
    path.write_text(f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>\n')


def write_png(study, name: str, folder: Path) -> None:
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as vis

    getattr(vis, name)(study).figure.savefig(folder / f"{name}.png", bbox_inches="tight", dpi=120)
    plt.close("all")


def plot_points(names: list[str], values: list[float], metric: str, path: Path) -> None:
    """A horizontal bar per grid point (its run name), the objective on the x axis, written as PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display in a sweep
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.4 * len(names) + 1.2))
    ax.barh(range(len(names)), values, color="#4c72b0")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel(metric)
    low, high = min(values), max(values)
    pad = (high - low) * 0.2 or abs(high) * 0.05 or 0.01
    ax.set_xlim(low - pad, high + pad)
    for i, value in enumerate(values):
        ax.text(value, i, f" {value:.4f}", va="center")
    fig.savefig(path, bbox_inches="tight", dpi=120)
    plt.close(fig)
