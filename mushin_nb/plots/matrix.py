"""The pairwise Holm-adjusted p-values as a method x method matrix (table and figure)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mushin_nb.plots._common import (
    STATUS_COLOURS,
    check_result,
    inputs,
    label_width,
    methods_of,
    metrics_of,
    panels,
    selector,
)
from mushin_nb.plots._notebook import holoviews


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

    check_result(result)
    metrics, methods = metrics_of(result, metric), methods_of(result)
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

    A cell is red where the pair differs after Holm correction and blue where it does not
    (:data:`mushin_nb.plots.STATUS_COLOURS`), the shade darker the smaller the p-value;
    the number is the Holm-adjusted p-value.

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
    metrics, methods = inputs(result, metric, backend)
    cells = {name: _pvalue_cells(result.comparisons, name, methods) for name in metrics}
    if backend == "matplotlib":
        side = 0.55 * len(methods) + label_width(methods)
        fig, axes = panels(ax, len(metrics), side + 0.6, side)
        for axis, name in zip(axes, metrics):
            _matrix_mpl(axis, cells[name], methods, name)
        return fig
    return selector({name: _matrix_hv(cells[name], name) for name in metrics})


def _tone(p: float, significant: bool) -> float:
    """A cell's place on :func:`_colours`: below 0.5 blue (no difference), above red."""
    if np.isnan(p):
        return np.nan
    strength = 1.0 - min(max(p, 0.0), 1.0) ** 0.5  # p = 0: 1, p = 1: 0
    return 0.5 + 0.5 * (0.3 + 0.7 * strength) if significant else 0.5 - 0.5 * (
        0.15 + 0.55 * strength)


def _colours(n: int = 256) -> list[str]:
    """Dark blue, light blue, white, light red, dark red: both backends draw with it."""
    from matplotlib.colors import LinearSegmentedColormap, to_hex

    blue, red = STATUS_COLOURS["does not differ"], STATUS_COLOURS["differs"]
    cmap = LinearSegmentedColormap.from_list("status", [blue, "#ffffff", red])
    return [to_hex(cmap(i / (n - 1))) for i in range(n)]


def _pvalue_cells(comparisons: Any, name: str, methods: list[str]) -> Any:
    """Long table of the cells: method_a, method_b, p_holm, p_value, label, tone, ink."""
    p_holm = _pair_table(comparisons, name, methods, "p_holm")
    p_raw = _pair_table(comparisons, name, methods, "p_value")
    significant = _pair_table(comparisons, name, methods, "significant")
    frame = p_holm.stack(future_stack=True).rename("p_holm").reset_index()
    frame["p_value"] = p_raw.stack(future_stack=True).to_numpy()
    marks = [mark is True or mark == 1 for mark in significant.stack(future_stack=True)]
    frame["label"] = ["" if np.isnan(p) else f"{p:.2g}" + (" *" if mark else "")
                      for p, mark in zip(frame["p_holm"], marks)]
    frame["tone"] = [_tone(p, mark) for p, mark in zip(frame["p_holm"], marks)]
    frame["ink"] = ["white" if abs(t - 0.5) > 0.38 else "black" for t in frame["tone"]]
    return frame


def _matrix_mpl(axis: Any, cells: Any, methods: list[str], name: str) -> None:
    from matplotlib.colors import ListedColormap

    n = len(methods)
    cmap = ListedColormap(_colours()).with_extremes(bad="#eeeeee")
    axis.imshow(cells["tone"].to_numpy(dtype=float).reshape(n, n), cmap=cmap, vmin=0, vmax=1)
    labels = cells["label"].to_numpy().reshape(n, n)
    inks = cells["ink"].to_numpy().reshape(n, n)
    size = 9 if n <= 8 else 7
    for (i, j), text in np.ndenumerate(labels):
        axis.text(j, i, text, ha="center", va="center", color=inks[i, j], fontsize=size)
    axis.set_xticks(range(n), labels=methods, rotation=45, ha="right")
    axis.set_yticks(range(n), labels=methods)
    axis.set_title(f"{name}: Holm p-values", fontsize="medium")
    axis.set_xlabel("red: differs, blue: does not differ", fontsize="small")


def _matrix_hv(cells: Any, name: str) -> Any:
    hv = holoviews()
    n = int(np.sqrt(len(cells)))
    longest = max(len(str(m)) for m in cells["method_a"])
    heat = hv.HeatMap(cells, ["method_b", "method_a"], ["tone", "p_holm", "p_value", "label"])
    heat = heat.opts(cmap=_colours(), clim=(0.0, 1.0), tools=["hover"], invert_yaxis=True,
                     xrotation=45, title=f"{name}: Holm p-values", shared_axes=False,
                     xlabel="red: differs, blue: does not differ", ylabel="",
                     width=max(420, 140 + 7 * longest + 64 * n),
                     height=max(300, 100 + 7 * longest + 44 * n), line_color="white")
    parts = [hv.Labels(cells[cells["ink"] == ink], ["method_b", "method_a"], "label").opts(
        text_font_size="9pt" if n <= 8 else "7pt", text_color=ink)
        for ink in ("black", "white") if (cells["ink"] == ink).any()]
    return hv.Overlay([heat, *parts])
