"""A metric against a swept dimension, with a t-interval band over the seeds."""

from __future__ import annotations

from typing import Any

import numpy as np

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.plots._common import check_backend, panels, pick
from mushin_nb.plots._notebook import holoviews


def _curve_frame(ds: Any, metric: str, x: str, over: str | None, group: str | None,
                 confidence: float) -> Any:
    """Mean and t-interval over ``over`` at each (group, x): columns x, [group,] mean, ..."""
    import pandas as pd
    import xarray as xr
    from scipy import stats

    if not isinstance(ds, xr.Dataset):
        raise bad_value("ds", ds, "an xarray.Dataset", "pass a sweep result, e.g. wf.to_xarray()",
                        MushinTypeError)
    pick("metric", metric, [str(v) for v in ds.data_vars])
    values = ds[metric]
    dims = [str(d) for d in values.dims]
    pick("x", x, dims)
    if group is not None:
        pick("group", group, [d for d in dims if d != x])
    if over is not None:
        pick("over", over, [d for d in dims if d not in (x, group)])
    rest = [d for d in dims if d not in (x, over, group)]
    if rest:
        raise bad_value("ds", values.sizes, f"no dimension besides {x!r}, {over!r}, {group!r}",
                        f"pick one value of {rest} with ds.sel(...) or pass group=")
    if not 0.0 < confidence < 1.0:
        raise bad_value("confidence", confidence, "a float in (0, 1)", "e.g. confidence=0.95")
    if over is None:
        mean, n = values, xr.ones_like(values)
        half = xr.full_like(values, np.nan, dtype=float)
    else:
        mean, n = values.mean(over), values.count(over)
        sd = values.std(over, ddof=1)
        quantile = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
        half = xr.where(n > 1, quantile * sd / np.sqrt(n), np.nan)
    frame = pd.DataFrame({
        "mean": mean.to_series(), "ci_low": (mean - half).to_series(),
        "ci_high": (mean + half).to_series(), "n": n.to_series()}).reset_index()
    return frame.sort_values(x, kind="stable")  # groups keep their coordinate order


def plot_curve(ds: Any, metric: str, x: str, *, over: str | None = "seed",
               group: str | None = None, confidence: float = 0.95, backend: str = "hvplot",
               ax: Any = None) -> Any:
    """A metric against a swept dimension, with a t-interval band over ``over`` (seeds).

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep result (e.g. a robustness curve over ``epsilon``).
    metric : str
        The data variable to plot.
    x : str
        The dimension on the x axis.
    over : str or None
        The dimension averaged over, whose spread gives the band (None: no band).
    group : str, optional
        A dimension drawn as one line per value.
    confidence : float
        Level of the t-interval of the mean.
    backend : {"hvplot", "matplotlib"}
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    holoviews object or matplotlib.figure.Figure
    """
    check_backend(backend)
    frame = _curve_frame(ds, metric, x, over, group, confidence)
    lines = ([(None, frame)] if group is None
             else [(key, part) for key, part in frame.groupby(group, sort=False)])
    if backend == "matplotlib":
        fig, (axis,) = panels(ax, 1, 5.0, 3.4)
        for i, (key, part) in enumerate(lines):
            label = None if key is None else str(key)
            axis.plot(part[x], part["mean"], marker="o", color=f"C{i % 10}", label=label)
            axis.fill_between(part[x], part["ci_low"], part["ci_high"], color=f"C{i % 10}",
                              alpha=0.25, linewidth=0)
        axis.set_xlabel(x)
        axis.set_ylabel(metric)
        if group is not None:
            axis.legend(title=group)
        return fig
    hv = holoviews()
    layers = []
    for key, part in lines:
        label = "" if key is None else f"{group}={key}"
        layers.append(hv.Area(part, x, ["ci_low", "ci_high"], label=label).opts(
            alpha=0.25, line_alpha=0))
        layers.append(hv.Curve(part, x, ["mean", "ci_low", "ci_high", "n"], label=label).opts(
            tools=["hover"]))
    return hv.Overlay(layers).opts(ylabel=metric, xlabel=x, width=520, height=340,
                                   title=f"{metric} vs {x}")
