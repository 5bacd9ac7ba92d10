"""Figures of the statistics beyond one family: critical-difference diagram, performance
profiles, aggregate intervals, power curve and equivalence against a margin.

As every figure of :mod:`mushin_nb.plots`, each takes ``backend="hvplot"`` (a HoloViews object,
hover shows the numbers) or ``backend="matplotlib"`` (a static ``Figure``; ``ax=`` draws
into axes you own).  Each takes the result of the matching function of
:mod:`mushin_nb.stats` (duck-typed, so this module imports nothing of the package above
:mod:`mushin_nb.errors`).

Examples
--------
>>> import pandas as pd
>>> curve = pd.DataFrame({"n": [2, 5, 10], "detectable_effect": [0.05, 0.02, 0.013]})
>>> fig = plot_power(curve, backend="matplotlib")
>>> fig.axes[0].get_xlabel()
'seeds per method'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.plots._common import STATUS_COLOURS, check_backend, panels
from mushin_nb.plots._notebook import holoviews

__all__ = ["plot_aggregates", "plot_cd", "plot_equivalence", "plot_power", "plot_profile"]

# the same red and blue as STATUS_COLOURS: "worse" differs, "equivalent" does not
VERDICT_COLOURS = {"better": "#2ca02c", "worse": STATUS_COLOURS["differs"],
                   "equivalent": STATUS_COLOURS["does not differ"], "inconclusive": "0.5"}


def _axes(ax: Any, width: float, height: float) -> tuple[Any, Any]:
    """The figure and the one axes of a single-panel figure (``ax`` when given)."""
    fig, axes = panels(ax, 1, width, height)
    return fig, axes[0]


def _hv() -> Any:
    hv = holoviews()  # the bokeh extension, offline in a notebook (see mushin_nb.plots)
    import hvplot.pandas  # noqa: F401  inline too, once holoviews() has run

    return hv


def _need(arg: str, value: Any, attrs: tuple[str, ...], what: str) -> None:
    if not all(hasattr(value, a) for a in attrs):
        raise bad_value(arg, value, what, cls=MushinTypeError)


# ----------------------------------------------------------------------------- CD diagram


def _cd_layout(rank: Any) -> tuple[list[str], np.ndarray, list[tuple[float, float]]]:
    names = list(rank.mean_ranks.index)
    ranks = rank.mean_ranks.to_numpy(dtype=float)
    bars = [(float(ranks[names.index(g[0])]), float(ranks[names.index(g[-1])]))
            for g in rank.groups()]
    return names, ranks, bars


def plot_cd(rank: Any, *, backend: str = "hvplot", ax: Any = None) -> Any:
    """Critical-difference diagram (Demsar 2006) of :func:`mushin_nb.stats.rank_methods`.

    Methods sit at their mean rank (1 = best, on the left); a thick bar joins methods no
    post-hoc test separates; the bar at the top is Nemenyi's CD.
    """
    check_backend(backend)
    _need("rank", rank, ("mean_ranks", "groups", "critical_difference"),
          "a RankResult from mushin_nb.stats.rank_methods")
    names, ranks, bars = _cd_layout(rank)
    k = len(names)
    half = (k + 1) // 2
    # label rows: the better half to the left, the rest to the right, one row each
    rows = [(-(i + 1.0), 0.5, "right") if i < half else (-(k - i) * 1.0, k + 0.5, "left")
            for i in range(k)]
    cd = float(rank.critical_difference)
    title = (f"Friedman p={rank.p_value:.3g}, CD={cd:.3g} ({rank.posthoc}, "
             f"{rank.n_blocks} {rank.block}s)")
    if backend == "matplotlib":
        fig, axis = _axes(ax, 6.5, 1.2 + 0.32 * half)
        axis.hlines(0, 1, k, color="black")
        axis.vlines(np.arange(1, k + 1), 0, 0.12, color="black")
        for i, (name, r) in enumerate(zip(names, ranks)):
            y, x, align = rows[i]
            axis.plot([r, r, x], [0, y, y], color="0.3", linewidth=1)
            axis.text(x, y, f"{name} ({r:.2f})", ha=align, va="center", fontsize=9)
        for j, (lo, hi) in enumerate(bars):
            axis.plot([lo - 0.03, hi + 0.03], [-0.25 - 0.18 * j] * 2, color="black",
                      linewidth=4, solid_capstyle="round")
        axis.plot([1, 1 + cd], [0.45, 0.45], color="crimson", linewidth=2)
        axis.text(1 + cd / 2, 0.55, "CD", ha="center", va="bottom", color="crimson")
        axis.set_xlim(0, k + 1)
        axis.set_ylim(-(half + 0.8), 0.9)
        axis.set_xticks(range(1, k + 1))
        axis.set_yticks([])
        for side in ("left", "right", "bottom"):
            axis.spines[side].set_visible(False)
        axis.xaxis.tick_top()
        axis.set_title(title, fontsize=9)
        return fig
    hv = _hv()
    segments = [(r, 0, r, rows[i][0]) for i, r in enumerate(ranks)] + \
        [(r, rows[i][0], rows[i][1], rows[i][0]) for i, r in enumerate(ranks)]
    labels = hv.Labels([(rows[i][1], rows[i][0], f"{n} ({r:.2f})") for i, (n, r) in
                        enumerate(zip(names, ranks))], ["rank", "y"], "label")
    points = hv.Points(list(zip(ranks, np.zeros(k), names)), ["rank", "y"], "method").opts(
        tools=["hover"], size=7, color="black")
    groups = hv.Segments([(lo, -0.25 - 0.18 * j, hi, -0.25 - 0.18 * j)
                          for j, (lo, hi) in enumerate(bars)]).opts(line_width=5)
    cd_bar = hv.Segments([(1, 0.45, 1 + cd, 0.45)]).opts(color="crimson", line_width=2)
    return (hv.Segments(segments).opts(color="gray") * groups * cd_bar * points * labels).opts(
        title=title, width=620, height=140 + 28 * half, xlim=(0, k + 1), yaxis=None)


# ----------------------------------------------------------------------------- profiles


def plot_profile(profile: Any, *, backend: str = "hvplot", ax: Any = None) -> Any:
    """Performance profiles (:func:`mushin_nb.stats.performance_profile`) with their bands."""
    check_backend(backend)
    _need("profile", profile, ("coords", "sel"), "a DataArray from performance_profile")
    taus = profile["tau"].values
    methods = [str(m) for m in profile["method"].values]
    if backend == "matplotlib":
        fig, axis = _axes(ax, 5.5, 3.6)
        for i, m in enumerate(methods):
            row = profile.isel(method=i)
            axis.plot(taus, row.values, label=m, color=f"C{i % 10}")
            axis.fill_between(taus, row["ci_low"].values, row["ci_high"].values, alpha=0.2,
                              color=f"C{i % 10}")
        axis.set_xlabel("threshold tau")
        axis.set_ylabel("fraction of runs > tau")
        axis.legend(fontsize=8)
        return fig
    hv = _hv()
    layers = []
    for i, m in enumerate(methods):
        row = profile.isel(method=i)
        layers.append(hv.Area((taus, row["ci_low"].values, row["ci_high"].values),
                              "tau", ["low", "high"], label=m).opts(alpha=0.2))
        layers.append(hv.Curve((taus, row.values), "tau", "fraction", label=m).opts(
            tools=["hover"]))
    return hv.Overlay(layers).opts(width=560, height=360, legend_position="right",
                                   xlabel="threshold tau", ylabel="fraction of runs > tau")


# ----------------------------------------------------------------------------- aggregates


def plot_aggregates(tables: Any, *, backend: str = "hvplot", ax: Any = None) -> Any:
    """Interval plot of :func:`mushin_nb.stats.aggregate` tables.

    Parameters
    ----------
    tables : DataFrame or dict
        One table (``estimate, ci_low, ci_high`` by method) or ``stat name -> table``, one
        panel each (matplotlib) or overlaid side by side (hvplot).
    """
    import pandas as pd

    check_backend(backend)
    if isinstance(tables, pd.DataFrame):
        tables = {"aggregate": tables}
    if not isinstance(tables, dict) or not tables:
        raise bad_value("tables", tables, "a DataFrame from aggregate() or a dict stat -> "
                        "DataFrame", cls=MushinTypeError)
    for name, table in tables.items():
        _need(f"tables[{name!r}]", table, ("columns",), "a DataFrame from aggregate()")
        if not {"estimate", "ci_low", "ci_high"} <= set(table.columns):
            raise bad_value(f"tables[{name!r}]", list(table.columns),
                            "a table with columns estimate, ci_low, ci_high",
                            "pass what mushin_nb.stats.aggregate() returned")
    if backend == "matplotlib":
        from matplotlib.figure import Figure

        n = len(tables)
        rows = len(next(iter(tables.values())))
        if ax is not None and n == 1:
            fig, axes = ax.figure, [ax]
        else:
            fig = Figure(figsize=(3.2 * n, 0.4 * rows + 1.3), layout="constrained")
            axes = list(fig.subplots(1, n, squeeze=False)[0])
        for axis, (name, table) in zip(axes, tables.items()):
            y = np.arange(len(table))[::-1]
            err = np.vstack([table["estimate"] - table["ci_low"],
                             table["ci_high"] - table["estimate"]])
            axis.errorbar(table["estimate"], y, xerr=err, fmt="o", capsize=3)
            axis.set_yticks(y, labels=[str(m) for m in table.index])
            axis.set_title(name)
        return fig
    hv = _hv()
    shown = []
    for name, table in tables.items():
        frame = table.reset_index().rename(columns={table.index.name or "index": "method"})
        frame = frame.assign(below=frame["estimate"] - frame["ci_low"],
                             above=frame["ci_high"] - frame["estimate"])
        shown.append((hv.ErrorBars(frame, "method", ["estimate", "below", "above"]) *
                       hv.Scatter(frame, "method", ["estimate", "ci_low", "ci_high"]).opts(
                           tools=["hover"], size=8)).opts(invert_axes=True, title=name,
                                                          width=300, invert_yaxis=True))
    return hv.Layout(shown).cols(len(shown))


# ----------------------------------------------------------------------------- power


def plot_power(curve: Any, *, observed: float | None = None, backend: str = "hvplot",
               ax: Any = None) -> Any:
    """Power curve: the detectable effect against seeds per method.

    ``curve`` is :func:`mushin_nb.stats.power.power_curve`'s table (``n``,
    ``detectable_effect``); ``observed`` draws a difference to read the seeds off.
    """
    check_backend(backend)
    _need("curve", curve, ("columns",), "a DataFrame with columns n, detectable_effect")
    if not {"n", "detectable_effect"} <= set(curve.columns):
        raise bad_value("curve", list(curve.columns), "columns n and detectable_effect",
                        "pass what mushin_nb.stats.power.power_curve() returned")
    n, effect = curve["n"].to_numpy(), curve["detectable_effect"].to_numpy()
    if backend == "matplotlib":
        fig, axis = _axes(ax, 5.0, 3.4)
        axis.plot(n, effect, marker="o")
        if observed is not None:
            axis.axhline(abs(observed), color="crimson", linestyle="--", label="observed")
            axis.legend()
        axis.set_xlabel("seeds per method")
        axis.set_ylabel("detectable effect")
        return fig
    hv = _hv()
    plot = hv.Curve((n, effect), "seeds per method", "detectable effect") * hv.Scatter(
        (n, effect), "seeds per method", "detectable effect").opts(tools=["hover"], size=6)
    if observed is not None:
        plot = plot * hv.HLine(abs(observed)).opts(color="crimson", line_dash="dashed")
    return plot.opts(width=480, height=320)


# ----------------------------------------------------------------------------- equivalence


def plot_equivalence(result: Any, metric: str | None = None, *, backend: str = "hvplot",
                     ax: Any = None) -> Any:
    """Each difference interval of one metric against the equivalence margin ``[-m, m]``,
    coloured by verdict (a BenchmarkResult built with ``margin=``)."""
    check_backend(backend)
    _need("result", result, ("comparisons", "margin"), "a BenchmarkResult")
    if result.margin is None or "verdict" not in result.comparisons:
        raise bad_value("result", result, "a result built with margin=...",
                        "rerun compare_dataset(..., margin=0.01) (or compare, Study)")
    comp = result.comparisons
    names = list(dict.fromkeys(comp["metric"]))
    metric = names[0] if metric is None else metric
    if metric not in names:
        raise bad_value("metric", metric, f"one of {names}", f"e.g. metric={names[0]!r}")
    rows = comp[comp["metric"] == metric]
    labels = [f"{a} - {b}" for a, b in zip(rows["method_a"], rows["method_b"])]
    m = float(result.margin)
    if backend == "matplotlib":
        fig, axis = _axes(ax, 5.5, 0.4 * len(rows) + 1.4)
        y = np.arange(len(rows))[::-1]
        axis.axvspan(-m, m, color="#1f77b4", alpha=0.12, label=f"margin ±{m:g}")
        axis.axvline(0, color="0.6", linewidth=1)
        for yi, row in zip(y, rows.itertuples()):
            axis.errorbar(row.diff, yi, xerr=[[row.diff - row.diff_ci_low],
                                              [row.diff_ci_high - row.diff]], fmt="o",
                          capsize=3, color=VERDICT_COLOURS.get(row.verdict, "0.3"))
        axis.set_yticks(y, labels=[f"{lab} ({v})" for lab, v in zip(labels, rows["verdict"])])
        axis.set_xlabel(f"difference in {metric} (CI)")
        axis.legend(fontsize=8)
        return fig
    hv = _hv()
    frame = rows.assign(pair=labels, below=rows["diff"] - rows["diff_ci_low"],
                        above=rows["diff_ci_high"] - rows["diff"])
    band = hv.VSpan(-m, m).opts(color="#1f77b4", alpha=0.12)
    bars = hv.ErrorBars(frame, "pair", ["diff", "below", "above"])
    points = hv.Scatter(frame, "pair", ["diff", "verdict", "p_equivalence"]).opts(
        tools=["hover"], size=8, color=hv.dim("verdict").categorize(VERDICT_COLOURS))
    return (bars * points * band).opts(invert_axes=True, width=520, title=metric,
                                       height=100 + 36 * len(frame))
