"""What every figure shares: argument checks, panels, status colours, the metric selector."""

from __future__ import annotations

from typing import Any

import numpy as np

from mushin_nb.errors import MushinKeyError, MushinTypeError, bad_value, describe

BACKENDS = ("hvplot", "matplotlib")

#: Colour of each status, the same in every figure: the reference (first) method, a
#: method or pair that differs after Holm correction, and one that does not differ.
STATUS_COLOURS = {"reference": "#444444", "differs": "#d62728", "does not differ": "#1f77b4"}

#: Most panels side by side before the matplotlib figures wrap to a new row.
MAX_COLUMNS = 3


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise bad_value("backend", backend, "'hvplot' or 'matplotlib'",
                        "use backend='matplotlib' for a static figure")


def check_result(result: Any) -> None:
    if not all(hasattr(result, name) for name in ("data", "comparisons", "summary")):
        raise bad_value("result", result, "a BenchmarkResult (.data, .comparisons, .summary())",
                        "pass what mushin_nb.compare() or Study.run() returned",
                        MushinTypeError)


def pick(arg: str, value: str | None, known: list[str]) -> list[str]:
    """All of ``known`` for None, else ``[value]`` after checking it is known."""
    if value is None:
        return known
    if value not in known:
        raise MushinKeyError(f"`{arg}` must be one of {known}, got {describe(value)}. "
                             f"Fix: pick one of {known}")
    return [value]


def metrics_of(result: Any, metric: str | None) -> list[str]:
    names = list(dict.fromkeys(result.summary()["metric"]))
    return pick("metric", metric, names)


def methods_of(result: Any) -> list[str]:
    return [str(m) for m in result.data["method"].values]


def inputs(result: Any, metric: str | None, backend: str) -> tuple[list[str], list[str]]:
    """Check the arguments every result plot takes; return its metrics and methods."""
    check_backend(backend)
    check_result(result)
    return metrics_of(result, metric), methods_of(result)


def status(marks: Any, reference: bool = True) -> np.ndarray:
    """Status of each method from its ``significant_vs_ref`` marks (the first: reference)."""
    marks = np.asarray([m == "*" or m is True for m in marks], dtype=bool)
    out = np.where(marks, "differs", "does not differ").astype(object)
    if reference and len(out):
        out[0] = "reference"
    return out


def panels(ax: Any, n: int, width: float, height: float) -> tuple[Any, list[Any]]:
    """The figure and one axes per panel (new ones in rows of three, or ``ax`` when given)."""
    if ax is not None:
        if n != 1:
            raise bad_value("metric", None, "one metric name when `ax` is given",
                            "pass metric='...' or leave ax=None for one panel per metric")
        return ax.figure, [ax]
    from matplotlib.figure import Figure  # no pyplot: nothing global, no double display

    columns = min(n, MAX_COLUMNS)
    rows = -(-n // columns)
    fig = Figure(figsize=(width * columns, height * rows), layout="constrained")
    axes = list(fig.subplots(rows, columns, squeeze=False).ravel())
    for extra in axes[n:]:
        extra.set_visible(False)
    return fig, axes[:n]


#: Share of the data's span left free on each side of a value axis.
PAD = 0.08


def padded_range(values: Any) -> tuple[float, float]:
    """``(low, high)`` spanning the finite ``values``, with :data:`PAD` of the span free."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    width = high - low
    if width <= 0:  # one value: a span of 10 % of it (or 1) around it
        width = abs(high) * 0.1 or 1.0
        low, high = low - width / 2, high + width / 2
    return low - PAD * width, high + PAD * width


def label_width(labels: list[str]) -> float:
    """Inches a column of tick labels takes at the default font size."""
    return 0.09 * max((len(str(label)) for label in labels), default=4) + 0.3


def selector(panels_by_metric: dict[str, Any]) -> Any:
    """One panel as is; several in a HoloMap, drawn with a metric selector widget."""
    from mushin_nb.plots._notebook import holoviews

    if len(panels_by_metric) == 1:
        return next(iter(panels_by_metric.values()))
    # each metric has its own scale (accuracy near 1, ECE near 0): rescale per frame
    return holoviews().HoloMap(panels_by_metric, kdims="metric").opts(framewise=True)
