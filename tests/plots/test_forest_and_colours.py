"""Forest plots zoom to the intervals (both backends, the same range); colours say the same
thing in every figure; 12 methods x 6 metrics stay readable.

The expected numbers are the statsmodels intervals of ``reference`` (tests/plots/conftest).
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pytest
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex, to_rgb

from mushin_nb import plots
from mushin_nb.compare import BenchmarkResult
from mushin_nb.plots import STATUS_COLOURS

from .conftest import METHODS

PAD = 0.08  # the share of the intervals' span left free on each side (plots.forest.PAD)


def _expected_range(reference, metric):
    table = reference.summary().query("metric == @metric")
    low, high = table["ci_low"].min(), table["ci_high"].max()
    return low - PAD * (high - low), high + PAD * (high - low)


def _bokeh(obj):
    return hv.renderer("bokeh").get_plot(obj).state


@pytest.mark.parametrize("metric", ["accuracy", "loss"])
def test_both_backends_zoom_to_the_same_range(result, reference, metric):
    expected = _expected_range(reference, metric)
    assert plots.forest_range(result, metric) == pytest.approx(expected, rel=1e-9)
    fig = plots.plot_summary(result, metric, backend="matplotlib")
    assert fig.axes[0].get_xlim() == pytest.approx(expected, rel=1e-9)
    figure = _bokeh(plots.plot_summary(result, metric))  # invert_axes: the values run along x
    assert (figure.x_range.start, figure.x_range.end) == pytest.approx(expected, rel=1e-9)


def test_intervals_near_one_fill_the_panel_not_a_zero_to_one_axis():
    ds = xr.Dataset({"accuracy": (("method", "seed"), [[0.961, 0.962, 0.960, 0.963],
                                                       [0.955, 0.957, 0.956, 0.954]])},
                    coords={"method": ["a", "b"], "seed": range(4)})
    result = BenchmarkResult.from_dataset(ds)
    table = result.summary()
    span = table["ci_high"].max() - table["ci_low"].min()
    for low, high in [plots.forest_range(result, "accuracy"),
                      plots.plot_summary(result, backend="matplotlib").axes[0].get_xlim()]:
        assert span / (high - low) == pytest.approx(1 / (1 + 2 * PAD))
        assert 0.94 < low and high < 0.97


def _forest_colours(result, metric):
    """method -> colour of its point in the matplotlib forest plot."""
    fig = plots.plot_summary(result, metric, backend="matplotlib")
    axis = fig.axes[0]
    names = {round(t.get_position()[1]): t.get_text().rstrip(" *")
             for t in axis.get_yticklabels()}
    colours = {}
    for container in axis.containers:
        line = container[0]
        for y in line.get_ydata():
            colours[names[round(y)]] = to_hex(line.get_color())
    return colours


def test_colours_say_reference_differs_does_not_differ_in_every_figure(result, reference):
    marks = {m: reference._mark("accuracy", m) for m in METHODS}
    expected = {m: STATUS_COLOURS["reference" if i == 0 else
                                  "differs" if marks[m] == "*" else "does not differ"]
                for i, m in enumerate(METHODS)}
    assert set(expected.values()) == set(STATUS_COLOURS.values())  # the data has all three
    assert _forest_colours(result, "accuracy") == expected
    # the strip plot colours each method's seeds the same way
    fig = plots.plot_seeds(result, "accuracy", backend="matplotlib")
    strips = [c for c in fig.axes[0].collections if len(c.get_offsets()) == 6]
    assert [to_hex(s.get_facecolor()[0][:3]) for s in strips] == [expected[m] for m in METHODS]
    # the p-value matrix: a significant pair is red, the others blue (white on the diagonal)
    fig = plots.plot_pvalues(result, "accuracy", backend="matplotlib")
    image = fig.axes[0].get_images()[0]
    rgba = image.cmap(image.norm(image.get_array()))
    red, blue = np.array(to_rgb(STATUS_COLOURS["differs"])), np.array(
        to_rgb(STATUS_COLOURS["does not differ"]))
    matrix = plots.pvalue_matrix(result, "accuracy")
    rows = reference.comparisons.query("metric == 'accuracy'")
    for row in rows.itertuples():
        i, j = METHODS.index(row.method_a), METHODS.index(row.method_b)
        cell = rgba[i, j, :3]
        nearer_red = np.linalg.norm(cell - red) < np.linalg.norm(cell - blue)
        assert nearer_red == bool(row.significant), (row.method_a, row.method_b)
        assert matrix.loc[row.method_a, row.method_b] == pytest.approx(row.p_holm, rel=1e-9)
    # and the hvplot forest uses the same three colours, in its legend order
    overlay = plots.plot_summary(result, "accuracy")
    scatters = [el for el in overlay if isinstance(el, hv.Scatter)]
    colours = {el.label: hv.Store.lookup_options("bokeh", el, "style").kwargs["color"]
               for el in scatters}
    assert colours == {k: v for k, v in STATUS_COLOURS.items() if k in colours}
    assert len(colours) == 3


def _wide_result():
    rng = np.random.default_rng(1)
    methods = ["baseline", *[f"method_with_a_rather_long_name_{i}" for i in range(11)]]
    metrics = ["accuracy", "f1", "auroc", "ece", "nll", "brier"]
    data = {m: (("method", "seed"), 0.5 + 0.01 * rng.standard_normal((12, 6))
                + np.linspace(0, 0.03, 12)[:, None]) for m in metrics}
    return BenchmarkResult.from_dataset(xr.Dataset(
        data, coords={"method": methods, "seed": range(6)})), methods


def _boxes(renderer, texts):
    return [t.get_window_extent(renderer) for t in texts if t.get_text()]


@pytest.mark.parametrize("plot", [plots.plot_summary, plots.plot_pvalues, plots.plot_seeds],
                         ids=lambda f: f.__name__)
def test_twelve_methods_and_six_metrics_stay_readable(plot):
    result, methods = _wide_result()
    fig = plot(result, backend="matplotlib")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    assert len(fig.axes) >= 6 and len(fig.axes) <= 12  # wraps into rows, not one long strip
    width, height = fig.bbox.width, fig.bbox.height
    assert width / height < 4
    for axis in fig.axes[:6]:
        labels = axis.get_yticklabels() if plot is not plots.plot_seeds else \
            axis.get_xticklabels()
        assert {t.get_text().rstrip(" *") for t in labels} >= set(methods)
        boxes = _boxes(renderer, labels)
        for box in boxes:  # every label inside the figure...
            assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 \
                and box.y1 <= height + 1
        # ...and none on top of its neighbour: ticks at least a line of text apart
        along = 1 if plot is not plots.plot_seeds else 0
        places = sorted(axis.transData.transform(
            [(t.get_position()[0], t.get_position()[1]) for t in labels])[:, along])
        line = 1.2 * labels[0].get_fontsize() * fig.dpi / 72
        assert min(np.diff(places)) >= line
        for other in fig.axes[:6]:  # no label reaches into another panel's plot area
            if other is not axis:
                area = other.get_window_extent(renderer)
                assert not any(area.overlaps(box) for box in boxes)
    hv_figure = _bokeh(plot(result, "accuracy"))
    longest = max(len(m) for m in methods)
    assert hv_figure.width >= 300 + 6 * longest
