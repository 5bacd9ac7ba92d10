"""Strip plot: every seed's value per method, with the method's mean as a bar."""

from __future__ import annotations

from typing import Any

import numpy as np

from mushin_nb.plots._common import (
    STATUS_COLOURS,
    inputs,
    label_width,
    panels,
    selector,
    status,
)
from mushin_nb.plots._notebook import holoviews


def _status_of(result: Any, name: str, methods: list[str]) -> dict[str, str]:
    table = result.summary()
    rows = table[table["metric"] == name].set_index("method").loc[methods]
    return dict(zip(methods, status(rows["significant_vs_ref"].fillna(""))))


def plot_seeds(result: Any, metric: str | None = None, *, backend: str = "hvplot",
               ax: Any = None) -> Any:
    """Strip plot: every seed's value per method, with the method's mean as a bar.

    Points are coloured by the method's status against the reference
    (:data:`mushin_nb.plots.STATUS_COLOURS`), as in the forest plot.

    Parameters
    ----------
    result : BenchmarkResult
        Its ``data`` gives the points, its ``summary()`` their colours.
    metric : str, optional
        The metric to draw; by default every one (a panel each with matplotlib, a
        selector with hvplot).
    backend : {"hvplot", "matplotlib"}
        Interactive (a HoloViews overlay, a HoloMap for several metrics) or static.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into (matplotlib, one metric); their figure is returned.

    Returns
    -------
    holoviews.Overlay, holoviews.HoloMap or matplotlib.figure.Figure
    """
    metrics, methods = inputs(result, metric, backend)
    frames = {}
    for name in metrics:
        frame = result.data[name].transpose("method", "seed").to_dataframe().reset_index()
        kinds = _status_of(result, name, methods)
        frames[name] = frame.assign(method=frame["method"].astype(str),
                                    status=lambda f, k=kinds: f["method"].map(k))
    if backend == "matplotlib":
        fig, axes = panels(ax, len(metrics), 0.55 * len(methods) + 1.8,
                           3.0 + label_width(methods) * 0.7)
        for axis, name in zip(axes, metrics):
            _strip_mpl(axis, frames[name], methods, name)
        return fig
    return selector({name: _strip_hv(frames[name], name) for name in metrics})


def _strip_mpl(axis: Any, frame: Any, methods: list[str], name: str) -> None:
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
    for i, method in enumerate(methods):
        rows = frame[frame["method"] == method]
        values = rows[name].to_numpy(dtype=float)
        axis.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=22, alpha=0.8,
                     color=STATUS_COLOURS[rows["status"].iloc[0]])
        axis.hlines(np.nanmean(values) if np.isfinite(values).any() else np.nan,
                    i - 0.3, i + 0.3, color="black", linewidth=2)
    rotate = len(methods) > 5 or max(len(m) for m in methods) > 10
    axis.set_xticks(range(len(methods)), labels=methods, rotation=45 if rotate else 0,
                    ha="right" if rotate else "center")
    axis.set_ylabel(name)
    axis.set_title(f"{name} per seed")


def _strip_hv(frame: Any, name: str) -> Any:
    hv = holoviews()
    points = hv.Scatter(frame, "method", [name, "seed", "status"]).opts(
        jitter=0.3, size=7, alpha=0.8, tools=["hover"],
        color=hv.dim("status").categorize(STATUS_COLOURS))
    means = frame.groupby("method", sort=False)[name].mean().reset_index()
    bars = hv.Scatter(means, "method", name).opts(marker="dash", size=28, color="black")
    longest = max(len(m) for m in means["method"])
    rotate = len(means) > 5 or longest > 10
    return (points * bars).opts(title=f"{name} per seed", width=max(360, 120 + 60 * len(means)),
                                height=300 + (5 * longest if rotate else 0),
                                show_legend=False, xrotation=45 if rotate else 0,
                                shared_axes=False)
