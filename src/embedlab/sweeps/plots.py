"""A study's plots as files: Optuna's plotly figures as interactive HTML, and its matplotlib figures as PNG."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

PLOTS = ("plot_optimization_history", "plot_param_importances", "plot_parallel_coordinate")


def write_plots(study, folder: Path) -> list[str]:
    """Write each plot to `folder` as `<name>.png` (matplotlib) and `<name>.html` (plotly, when installed);
    returns one note per plot that could not be drawn."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return [f"plots skipped: {len(complete)} complete trial(s), at least 2 needed"]
    import matplotlib

    matplotlib.use("Agg")  # no display in a sweep
    formats = ["png", *(["html"] if importlib.util.find_spec("plotly") is not None else [])]
    notes = []
    for name in PLOTS:
        for form in formats:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the matplotlib backend is flagged experimental
                    write_one(study, name, form, folder)
            except Exception as exc:  # e.g. importances need parameters that vary across complete trials
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                notes.append(f"{name}.{form} skipped: {reason}")
    return notes


def write_one(study, name: str, form: str, folder: Path) -> None:
    if form == "html":
        import optuna.visualization as vis

        getattr(vis, name)(study).write_html(folder / f"{name}.html", include_plotlyjs=True)
        return
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
