"""Figures of a comparison: CI forest, Holm p-value matrix, per-seed strips, metric curves.

Every plot takes ``backend="hvplot"`` (a HoloViews object drawn by bokeh: hover shows the
exact numbers, several metrics get a selector widget) or ``backend="matplotlib"`` (a static
``matplotlib.figure.Figure`` for papers; pass ``ax=`` to draw into axes you own, and the
figure of those axes is returned).

``result`` is a ``BenchmarkResult`` or anything with its contract: ``.data``, an
``xarray.Dataset`` with dimensions ``(method, seed)`` and one variable per metric;
``.comparisons``, the tidy DataFrame of pairwise tests (``metric, method_a, method_b,
p_value, p_holm, significant, ...``); ``.summary()``, the DataFrame ``method, metric,
mean, ci_low, ci_high, significant_vs_ref``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mushin_nb.errors import MushinKeyError, MushinTypeError, bad_value, describe

__all__ = ["plot_curve", "plot_pvalues", "plot_seeds", "plot_summary", "pvalue_matrix"]

BACKENDS = ("hvplot", "matplotlib")
_MARK = "crimson"  # colour of a method that differs from the reference


# ----------------------------------------------------------------------------- checks


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise bad_value("backend", backend, "'hvplot' or 'matplotlib'",
                        "use backend='matplotlib' for a static figure")


def _check_result(result: Any) -> None:
    if not all(hasattr(result, name) for name in ("data", "comparisons", "summary")):
        raise bad_value("result", result, "a BenchmarkResult (.data, .comparisons, .summary())",
                        "pass what mushin_nb.compare() or Study.run() returned",
                        MushinTypeError)


def _pick(arg: str, value: str | None, known: list[str]) -> list[str]:
    """All of ``known`` for None, else ``[value]`` after checking it is known."""
    if value is None:
        return known
    if value not in known:
        raise MushinKeyError(f"`{arg}` must be one of {known}, got {describe(value)}. "
                             f"Fix: pick one of {known}")
    return [value]


def _metrics(result: Any, metric: str | None) -> list[str]:
    names = list(dict.fromkeys(result.summary()["metric"]))
    return _pick("metric", metric, names)


def _methods(result: Any) -> list[str]:
    return [str(m) for m in result.data["method"].values]


def _inputs(result: Any, metric: str | None, backend: str) -> tuple[list[str], list[str]]:
    """Check the arguments every result plot takes; return its metrics and methods."""
    _check_backend(backend)
    _check_result(result)
    return _metrics(result, metric), _methods(result)


def _panels(ax: Any, n: int, width: float, height: float) -> tuple[Any, list[Any]]:
    """The figure and one axes per panel: new ones, or ``ax`` when given (one panel)."""
    if ax is not None:
        if n != 1:
            raise bad_value("metric", None, "one metric name when `ax` is given",
                            "pass metric='...' or leave ax=None for one panel per metric")
        return ax.figure, [ax]
    from matplotlib.figure import Figure  # no pyplot: nothing global, no double display

    fig = Figure(figsize=(width * n, height), layout="constrained")
    return fig, list(fig.subplots(1, n, squeeze=False)[0])


def _holoviews() -> Any:
    import holoviews as hv
    import hvplot.pandas  # noqa: F401  loads the bokeh extension in notebooks

    return hv


def _selector(panels: dict[str, Any]) -> Any:
    """One panel as is; several in a HoloMap, drawn with a metric selector widget."""
    if len(panels) == 1:
        return next(iter(panels.values()))
    # each metric has its own scale (accuracy near 1, ECE near 0): rescale per frame
    return _holoviews().HoloMap(panels, kdims="metric").opts(framewise=True)


# ----------------------------------------------------------------------------- forest


def plot_summary(result: Any, metric: str | None = None, *, backend: str = "hvplot",
                 ax: Any = None) -> Any:
    """Forest plot: each method's mean with its confidence interval, per metric.

    The dashed line is the reference (first) method's mean; a method that differs from it
    after Holm correction (``significant_vs_ref == "*"``) is marked in red and by ``*``.

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
    metrics, methods = _inputs(result, metric, backend)
    table = result.summary()
    frames = {name: table[table["metric"] == name].set_index("method").loc[methods]
              for name in metrics}
    if backend == "matplotlib":
        fig, axes = _panels(ax, len(metrics), 4.2, 0.45 * len(methods) + 1.4)
        for axis, name in zip(axes, metrics):
            _forest_mpl(axis, frames[name], name)
        return fig
    return _selector({name: _forest_hv(frames[name], name) for name in metrics})


def _forest_mpl(axis: Any, rows: Any, name: str) -> None:
    y = np.arange(len(rows))[::-1]  # first method on top
    marked = (rows["significant_vs_ref"].fillna("") == "*").to_numpy()
    err = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
    axis.axvline(rows["mean"].iloc[0], color="0.6", linestyle="--", linewidth=1)
    for keep, colour in ((~marked, "C0"), (marked, _MARK)):
        axis.errorbar(rows["mean"][keep], y[keep], xerr=err[:, keep], fmt="o", color=colour,
                      capsize=3)
    labels = [f"{m} *" if mark else str(m) for m, mark in zip(rows.index, marked)]
    axis.set_yticks(y, labels=labels)
    axis.set_xlabel(f"{name} (mean and CI)")
    axis.set_title(name)


def _forest_hv(rows: Any, name: str) -> Any:
    hv = _holoviews()
    frame = rows.reset_index().assign(
        below=lambda f: f["mean"] - f["ci_low"], above=lambda f: f["ci_high"] - f["mean"],
        significant_vs_ref=lambda f: f["significant_vs_ref"].fillna(""))
    bars = hv.ErrorBars(frame, "method", ["mean", "below", "above"])
    points = hv.Scatter(frame, "method", ["mean", "ci_low", "ci_high", "significant_vs_ref"])
    points = points.opts(tools=["hover"], size=9, color=hv.dim("significant_vs_ref").categorize(
        {"*": _MARK}, default="#1f77b4"))
    reference = hv.HLine(float(frame["mean"].iloc[0])).opts(color="gray", line_dash="dashed")
    return (bars * points * reference).opts(invert_axes=True, title=name, ylabel=name,
                                            xlabel="method", invert_yaxis=True,
                                            width=480, height=100 + 36 * len(frame))


# ----------------------------------------------------------------------------- p-values


def pvalue_matrix(result: Any, metric: str | None = None, *, adjusted: bool = True) -> Any:
    """The pairwise p-values of ``result.comparisons`` as a symmetric method x method table.

    Parameters
    ----------
    result : BenchmarkResult
    metric : str, optional
        One metric; default all, stacked with a ``(metric, method)`` row index.
    adjusted : bool
        Holm-adjusted p-values (``p_holm``, default) or raw ones (``p_value``).

    Returns
    -------
    pandas.DataFrame
        NaN on the diagonal and for pairs that were not tested.
    """
    import pandas as pd

    _check_result(result)
    metrics, methods = _metrics(result, metric), _methods(result)
    column = "p_holm" if adjusted else "p_value"
    tables = {name: _pair_table(result.comparisons, name, methods, column)
              for name in metrics}
    if metric is not None:
        return tables[metric]
    return pd.concat(tables, names=["metric"])


def _pair_table(comparisons: Any, name: str, methods: list[str], column: str) -> Any:
    import pandas as pd

    table = pd.DataFrame(np.nan, index=pd.Index(methods, name="method_a"),
                         columns=pd.Index(methods, name="method_b"),
                         dtype=object if column == "significant" else float)
    for row in comparisons[comparisons["metric"] == name].itertuples(index=False):
        a, b, value = str(row.method_a), str(row.method_b), getattr(row, column)
        table.loc[a, b] = table.loc[b, a] = value
    return table


def plot_pvalues(result: Any, metric: str | None = None, *, backend: str = "hvplot",
                 ax: Any = None) -> Any:
    """Matrix of the pairwise Holm-adjusted p-values; ``*`` marks a significant pair.

    Parameters
    ----------
    result : BenchmarkResult
    metric : str, optional
        One metric; default all (one panel each, or a selector with hvplot).
    backend : {"hvplot", "matplotlib"}
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    holoviews object or matplotlib.figure.Figure
    """
    metrics, methods = _inputs(result, metric, backend)
    cells = {name: _pvalue_cells(result.comparisons, name, methods) for name in metrics}
    if backend == "matplotlib":
        fig, axes = _panels(ax, len(metrics), 1.0 * len(methods) + 2.4, 0.9 * len(methods) + 1.2)
        for axis, name in zip(axes, metrics):
            _matrix_mpl(axis, cells[name], methods, name)
        return fig
    return _selector({name: _matrix_hv(cells[name], name) for name in metrics})


def _pvalue_cells(comparisons: Any, name: str, methods: list[str]) -> Any:
    """Long table of the off-diagonal cells: method_a, method_b, p_holm, p_value, label."""
    p_holm = _pair_table(comparisons, name, methods, "p_holm")
    p_raw = _pair_table(comparisons, name, methods, "p_value")
    significant = _pair_table(comparisons, name, methods, "significant")
    frame = p_holm.stack(future_stack=True).rename("p_holm").reset_index()
    frame["p_value"] = p_raw.stack(future_stack=True).to_numpy()
    marks = significant.stack(future_stack=True).to_numpy()
    frame["label"] = [
        "" if np.isnan(p) else f"{p:.2g}" + (" *" if mark is True or mark == 1 else "")
        for p, mark in zip(frame["p_holm"], marks)]
    return frame


def _matrix_mpl(axis: Any, cells: Any, methods: list[str], name: str) -> None:
    grid = cells["p_holm"].to_numpy(dtype=float).reshape(len(methods), len(methods))
    image = axis.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis_r")
    labels = cells["label"].to_numpy().reshape(len(methods), len(methods))
    for (i, j), text in np.ndenumerate(labels):
        colour = "black" if grid[i, j] < 0.5 else "white"  # viridis_r: light at 0
        axis.text(j, i, text, ha="center", va="center", color=colour, fontsize=9)
    axis.set_xticks(range(len(methods)), labels=methods, rotation=45, ha="right")
    axis.set_yticks(range(len(methods)), labels=methods)
    axis.set_title(f"{name}: Holm p-values")
    axis.figure.colorbar(image, ax=axis, shrink=0.8, label="Holm-adjusted p")


def _matrix_hv(cells: Any, name: str) -> Any:
    hv = _holoviews()
    heat = hv.HeatMap(cells, ["method_b", "method_a"], ["p_holm", "p_value", "label"])
    heat = heat.opts(cmap="viridis_r", clim=(0.0, 1.0), colorbar=True, tools=["hover"],
                     invert_yaxis=True, xrotation=45, title=f"{name}: Holm p-values",
                     width=160 + 70 * int(np.sqrt(len(cells))),
                     height=120 + 60 * int(np.sqrt(len(cells))))
    light = cells["p_holm"] < 0.5  # viridis_r is light near 0: dark text there, white beyond
    labels = [hv.Labels(cells[part], ["method_b", "method_a"], "label").opts(
        text_font_size="9pt", text_color=colour)
        for part, colour in ((light, "black"), (~light, "white"))]
    return heat * labels[0] * labels[1]


# ----------------------------------------------------------------------------- seeds


def plot_seeds(result: Any, metric: str | None = None, *, backend: str = "hvplot",
               ax: Any = None) -> Any:
    """Strip plot: every seed's value per method, with the method's mean as a bar.

    Parameters
    ----------
    result : BenchmarkResult
    metric : str, optional
        One metric; default all (one panel each, or a selector with hvplot).
    backend : {"hvplot", "matplotlib"}
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    holoviews object or matplotlib.figure.Figure
    """
    metrics, methods = _inputs(result, metric, backend)
    frames = {name: result.data[name].transpose("method", "seed").to_dataframe().reset_index()
              for name in metrics}
    if backend == "matplotlib":
        fig, axes = _panels(ax, len(metrics), 0.8 * len(methods) + 2.0, 3.4)
        for axis, name in zip(axes, metrics):
            _strip_mpl(axis, frames[name], methods, name)
        return fig
    return _selector({name: _strip_hv(frames[name], name) for name in metrics})


def _strip_mpl(axis: Any, frame: Any, methods: list[str], name: str) -> None:
    rng = np.random.default_rng(0)  # fixed jitter: the same figure every time
    for i, method in enumerate(methods):
        values = frame.loc[frame["method"].astype(str) == method, name].to_numpy(dtype=float)
        axis.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=22, alpha=0.8,
                     color=f"C{i % 10}")
        axis.hlines(np.nanmean(values) if np.isfinite(values).any() else np.nan,
                    i - 0.3, i + 0.3, color="black", linewidth=2)
    axis.set_xticks(range(len(methods)), labels=methods)
    axis.set_ylabel(name)
    axis.set_title(f"{name} per seed")


def _strip_hv(frame: Any, name: str) -> Any:
    hv = _holoviews()
    frame = frame.assign(method=frame["method"].astype(str))
    points = hv.Scatter(frame, "method", [name, "seed"]).opts(
        jitter=0.3, size=7, alpha=0.8, tools=["hover"], color="method", cmap="Category10")
    means = frame.groupby("method", sort=False)[name].mean().reset_index()
    bars = hv.Scatter(means, "method", name).opts(marker="dash", size=28, color="black")
    return (points * bars).opts(title=f"{name} per seed", width=120 + 70 * len(means),
                                height=320, show_legend=False)


# ----------------------------------------------------------------------------- curves


def _curve_frame(ds: Any, metric: str, x: str, over: str | None, group: str | None,
                 confidence: float) -> Any:
    """Mean and t-interval over ``over`` at each (group, x): columns x, [group,] mean, ..."""
    import pandas as pd
    import xarray as xr
    from scipy import stats

    if not isinstance(ds, xr.Dataset):
        raise bad_value("ds", ds, "an xarray.Dataset", "pass a sweep result, e.g. wf.to_xarray()",
                        MushinTypeError)
    _pick("metric", metric, [str(v) for v in ds.data_vars])
    values = ds[metric]
    dims = [str(d) for d in values.dims]
    _pick("x", x, dims)
    if group is not None:
        _pick("group", group, [d for d in dims if d != x])
    if over is not None:
        _pick("over", over, [d for d in dims if d not in (x, group)])
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
    _check_backend(backend)
    frame = _curve_frame(ds, metric, x, over, group, confidence)
    lines = ([(None, frame)] if group is None
             else [(key, part) for key, part in frame.groupby(group, sort=False)])
    if backend == "matplotlib":
        fig, (axis,) = _panels(ax, 1, 5.0, 3.4)
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
    hv = _holoviews()
    layers = []
    for key, part in lines:
        label = "" if key is None else f"{group}={key}"
        layers.append(hv.Area(part, x, ["ci_low", "ci_high"], label=label).opts(
            alpha=0.25, line_alpha=0))
        layers.append(hv.Curve(part, x, ["mean", "ci_low", "ci_high", "n"], label=label).opts(
            tools=["hover"]))
    return hv.Overlay(layers).opts(ylabel=metric, xlabel=x, width=520, height=340,
                                   title=f"{metric} vs {x}")
