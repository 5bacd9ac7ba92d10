"""Forest plot: each method's mean with its confidence interval, zoomed to the intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from mushin_nb.plots._common import (
    STATUS_COLOURS,
    inputs,
    label_width,
    metrics_of,
    padded_range,
    panels,
    pick,
    selector,
    status,
)
from mushin_nb.plots._notebook import holoviews


def _rows(result: Any, name: str, methods: list[str]) -> Any:
    table = result.summary()
    rows = table[table["metric"] == name].set_index("method").loc[methods]
    return rows.assign(status=status(rows["significant_vs_ref"].fillna("")))


def _span(rows: Any) -> tuple[float, float]:
    return padded_range(rows[["mean", "ci_low", "ci_high"]].to_numpy(dtype=float))


def forest_range(result: Any, metric: str) -> tuple[float, float]:
    """The value axis of ``metric``'s forest plot, the same in both backends.

    It spans every mean and interval bound, with 8 % of that span free on each side:
    intervals around 0.96 fill the panel instead of a few pixels of a 0..1 axis.

    Parameters
    ----------
    result : BenchmarkResult
    metric : str

    Returns
    -------
    tuple of float
        ``(low, high)``.

    Examples
    --------
    >>> import xarray as xr
    >>> from mushin_nb.compare import BenchmarkResult
    >>> ds = xr.Dataset({"acc": (("method", "seed"), [[0.95, 0.96, 0.97], [0.90, 0.91, 0.92]])},
    ...                 coords={"method": ["a", "b"], "seed": [0, 1, 2]})
    >>> low, high = forest_range(BenchmarkResult.from_dataset(ds), "acc")
    >>> 0.85 < low < 0.90 and 0.97 < high < 1.0
    True
    """
    pick("metric", metric, metrics_of(result, None))
    methods = [str(m) for m in result.data["method"].values]
    return _span(_rows(result, metric, methods))


def plot_summary(result: Any, metric: str | None = None, *, backend: str = "hvplot",
                 ax: Any = None) -> Any:
    """Forest plot: each method's mean with its confidence interval, per metric.

    The dashed line is the reference (first) method's mean.  Colours follow
    :data:`mushin_nb.plots.STATUS_COLOURS`: the reference is grey, a method that differs
    from it after Holm correction (``significant_vs_ref == "*"``) is red and marked ``*``,
    one that does not differ is blue.  The value axis is :func:`forest_range`.

    Parameters
    ----------
    result : BenchmarkResult
        See the module docstring for the contract.
    metric : str, optional
        One metric; default all (one panel each, or a selector with hvplot).
    backend : {"hvplot", "matplotlib"}
    ax : matplotlib.axes.Axes, optional
        Draw into these axes (matplotlib, one metric).

    Returns
    -------
    holoviews object or matplotlib.figure.Figure
    """
    metrics, methods = inputs(result, metric, backend)
    frames = {name: _rows(result, name, methods) for name in metrics}
    if backend == "matplotlib":
        fig, axes = panels(ax, len(metrics), 3.0 + label_width([f"{m} *" for m in methods]),
                           0.32 * len(methods) + 1.5)
        for i, (axis, name) in enumerate(zip(axes, metrics)):
            _forest_mpl(axis, frames[name], name, legend=i == 0)  # one legend says it all
        return fig
    return selector({name: _forest_hv(frames[name], name) for name in metrics})


def _forest_mpl(axis: Any, rows: Any, name: str, legend: bool) -> None:
    from matplotlib.ticker import MaxNLocator

    y = np.arange(len(rows))[::-1]  # first method on top
    kinds = rows["status"].to_numpy()
    err = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
    axis.axvline(rows["mean"].iloc[0], color=STATUS_COLOURS["reference"], linestyle="--",
                 linewidth=1, alpha=0.6)
    for kind, colour in STATUS_COLOURS.items():
        keep = kinds == kind
        if keep.any():
            axis.errorbar(rows["mean"][keep], y[keep], xerr=err[:, keep], fmt="o",
                          color=colour, capsize=3, label=kind)
    labels = [f"{m} *" if kind == "differs" else str(m) for m, kind in zip(rows.index, kinds)]
    axis.set_yticks(y, labels=labels)
    axis.set_ylim(-0.6, len(rows) - 0.4)
    axis.set_xlim(*_span(rows))
    axis.xaxis.set_major_locator(MaxNLocator(5))
    axis.set_xlabel(f"{name} (mean and CI)")
    axis.set_title(name, pad=22 if legend else 6)  # the legend sits between axes and title
    if legend:
        axis.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize="small",
                    frameon=False, handletextpad=0.2, columnspacing=0.8)


def _forest_hv(rows: Any, name: str) -> Any:
    hv = holoviews()
    frame = rows.reset_index().assign(
        below=lambda f: f["mean"] - f["ci_low"], above=lambda f: f["ci_high"] - f["mean"],
        significant_vs_ref=lambda f: f["significant_vs_ref"].fillna(""))
    colour = hv.dim("status").categorize(STATUS_COLOURS)
    bars = hv.ErrorBars(frame, "method", ["mean", "below", "above", "status"]).opts(
        color=colour, line_width=2)
    points = [hv.Scatter(frame[frame["status"] == kind], "method",
                         ["mean", "ci_low", "ci_high", "significant_vs_ref"], label=kind).opts(
        tools=["hover"], size=9, color=STATUS_COLOURS[kind])
        for kind in STATUS_COLOURS if (frame["status"] == kind).any()]
    reference = hv.HLine(float(frame["mean"].iloc[0])).opts(
        color=STATUS_COLOURS["reference"], line_dash="dashed", alpha=0.6)
    longest = max(len(str(m)) for m in frame["method"])
    return hv.Overlay([bars, *points, reference]).opts(
        invert_axes=True, title=name, ylabel=f"{name} (mean and CI)", xlabel="method",
        invert_yaxis=True, ylim=_span(rows), legend_position="top", show_legend=True,
        shared_axes=False,
        width=max(480, 380 + 7 * longest), height=150 + 30 * len(frame))
