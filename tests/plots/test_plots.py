"""Every plot renders with both backends on a real result and shows the reference numbers."""

from __future__ import annotations

import holoviews as hv
import matplotlib.image
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.figure import Figure
from statsmodels.stats.weightstats import DescrStatsW

from mushin_nb import plots
from mushin_nb.errors import MushinKeyError, MushinTypeError, MushinValueError

from .conftest import METHODS

RESULT_PLOTS = [plots.plot_summary, plots.plot_pvalues, plots.plot_seeds]


def _not_blank(fig: Figure, path) -> np.ndarray:
    fig.savefig(path, dpi=60)
    pixels = matplotlib.image.imread(path)[..., :3]
    assert pixels.std() > 0.05, "the figure is (almost) one flat colour"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20
    return pixels


def _texts(fig: Figure) -> str:
    out = []
    for axis in fig.axes:
        out += [t.get_text() for t in axis.get_yticklabels() + axis.get_xticklabels()]
        out += [t.get_text() for t in axis.texts] + [axis.get_title()]
    return " ".join(out)


@pytest.mark.parametrize("plot", RESULT_PLOTS, ids=lambda f: f.__name__)
def test_matplotlib_figure_has_content_and_names(plot, result, tmp_path):
    fig = plot(result, backend="matplotlib")
    assert isinstance(fig, Figure)
    _not_blank(fig, tmp_path / "all.png")
    assert all(m in _texts(fig) for m in METHODS)
    titles = {a.get_title().split()[0].rstrip(":") for a in fig.axes if a.get_title()}
    assert titles == {"accuracy", "loss"}


@pytest.mark.parametrize("plot", RESULT_PLOTS, ids=lambda f: f.__name__)
def test_matplotlib_draws_into_given_axes(plot, result, tmp_path):
    fig = Figure()
    ax = fig.subplots()
    assert plot(result, "accuracy", backend="matplotlib", ax=ax) is fig
    _not_blank(fig, tmp_path / "ax.png")
    with pytest.raises(MushinValueError, match="`metric` must be one metric name when `ax`"):
        plot(result, backend="matplotlib", ax=ax)


@pytest.mark.parametrize("plot", RESULT_PLOTS, ids=lambda f: f.__name__)
def test_hvplot_renders_to_html_with_names_and_hover(plot, result, tmp_path):
    one = plot(result, "accuracy")
    hv.save(one, tmp_path / "one.html")
    html = (tmp_path / "one.html").read_text()
    assert all(f'"{m}"' in html for m in METHODS)
    assert "HoverTool" in html
    both = plot(result)
    assert isinstance(both, hv.HoloMap) and list(both.keys()) == ["accuracy", "loss"]
    hv.save(both, tmp_path / "both.html")
    assert "loss" in (tmp_path / "both.html").read_text()


def test_forest_shows_the_reference_numbers_and_marks(result, reference):
    fig = plots.plot_summary(result, "accuracy", backend="matplotlib")
    table = reference.summary().query("metric == 'accuracy'").set_index("method").loc[METHODS]
    drawn = {}
    for container in fig.axes[0].containers:  # one errorbar per colour
        line, _, (segments,) = container
        for x, y, seg in zip(line.get_xdata(), line.get_ydata(), segments.get_segments()):
            drawn[int(round(y))] = (x, seg[0][0], seg[1][0])
    for i, method in enumerate(METHODS):
        mean, low, high = drawn[len(METHODS) - 1 - i]  # first method on top
        row = table.loc[method]
        np.testing.assert_allclose([mean, low, high], [row["mean"], row.ci_low, row.ci_high],
                                   rtol=1e-9)
    ticks = {round(t.get_position()[1]): t.get_text() for t in fig.axes[0].get_yticklabels()}
    assert ticks == {2: "baseline", 1: "mixup *", 0: "cutmix"}  # only mixup differs (Holm)


def test_pvalue_matrix_is_the_holm_table(result, reference):
    matrix = plots.pvalue_matrix(result, "accuracy")
    comparisons = reference.comparisons.query("metric == 'accuracy'")
    assert list(matrix.index) == METHODS and list(matrix.columns) == METHODS
    assert np.isnan(np.diag(matrix.to_numpy())).all()
    for row in comparisons.itertuples():
        assert matrix.loc[row.method_a, row.method_b] == pytest.approx(row.p_holm, rel=1e-9)
        assert matrix.loc[row.method_b, row.method_a] == pytest.approx(row.p_holm, rel=1e-9)
    raw = plots.pvalue_matrix(result, "accuracy", adjusted=False)
    assert raw.loc["baseline", "mixup"] == pytest.approx(comparisons.iloc[0].p_value, rel=1e-9)
    stacked = plots.pvalue_matrix(result)
    assert stacked.index.names == ["metric", "method_a"] and len(stacked) == 6


def test_pvalue_marks_follow_significance(result, reference):
    fig = plots.plot_pvalues(result, "accuracy", backend="matplotlib")
    starred = sorted(t.get_text() for t in fig.axes[0].texts if t.get_text().endswith("*"))
    expected = reference.comparisons.query("metric == 'accuracy' and significant")
    assert len(starred) == 2 * len(expected)  # both halves of the symmetric matrix
    assert {f"{p:.2g} *" for p in expected.p_holm} == set(starred)


def test_strip_plot_is_deterministic(result, tmp_path):
    first = _not_blank(plots.plot_seeds(result, backend="matplotlib"), tmp_path / "a.png")
    second = _not_blank(plots.plot_seeds(result, backend="matplotlib"), tmp_path / "b.png")
    np.testing.assert_array_equal(first, second)


def _robustness(seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    eps = [0.0, 0.1, 0.2, 0.4]
    slope = np.array([1.0, 2.0])[:, None, None]
    acc = 0.9 - slope * np.array(eps)[None, :, None] + 0.02 * rng.standard_normal((2, 4, 5))
    return xr.Dataset({"acc": (("model", "epsilon", "seed"), acc)},
                      coords={"model": ["small", "large"], "epsilon": eps, "seed": range(5)})


def test_curve_band_is_the_t_interval_of_statsmodels(tmp_path):
    ds = _robustness()
    ds["acc"][0, 2, 1] = np.nan  # a failed job: the band uses the 4 seeds left
    fig = plots.plot_curve(ds, "acc", "epsilon", group="model", backend="matplotlib")
    _not_blank(fig, tmp_path / "curve.png")
    axis = fig.axes[0]
    for k, model in enumerate(["small", "large"]):
        values = ds["acc"].sel(model=model).values
        ref = [DescrStatsW(v[~np.isnan(v)]).tconfint_mean(alpha=0.05) for v in values]
        np.testing.assert_allclose(axis.lines[k].get_ydata(), np.nanmean(values, axis=1))
        band = axis.collections[k].get_paths()[0].vertices[:, 1]
        low = np.array([r[0] for r in ref])
        high = np.array([r[1] for r in ref])
        assert np.isclose(band[:, None], low[None, :]).any(axis=0).all()
        assert np.isclose(band[:, None], high[None, :]).any(axis=0).all()
    assert [t.get_text() for t in axis.get_legend().get_texts()] == ["small", "large"]


def test_curve_hvplot_renders_with_hover(tmp_path):
    overlay = plots.plot_curve(_robustness(), "acc", "epsilon", group="model")
    hv.save(overlay, tmp_path / "curve.html")
    html = (tmp_path / "curve.html").read_text()
    assert "HoverTool" in html and "model=small" in html and "model=large" in html
    means = _robustness().mean("seed")
    fig = plots.plot_curve(means, "acc", "epsilon", over=None, group="model",
                           backend="matplotlib")  # no replicates: a line, no band
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(),
                               means["acc"].sel(model="large").values)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, (3, 4), elements=st.floats(-1e3, 1e3)),
       st.floats(0.5, 0.99))
def test_curve_frame_matches_statsmodels_for_any_data(values, confidence):
    ds = xr.Dataset({"m": (("x", "seed"), values)}, coords={"x": [1, 2, 3], "seed": range(4)})
    curve = plots.plot_curve(ds, "m", "x", confidence=confidence)
    data = curve.Curve.I.data
    for i, row in enumerate(values):
        stats = DescrStatsW(row)
        assert data["mean"].iloc[i] == pytest.approx(row.mean(), abs=1e-9)
        if stats.std > 1e-9:
            low, high = stats.tconfint_mean(alpha=1 - confidence)
            assert data["ci_low"].iloc[i] == pytest.approx(low, rel=1e-9, abs=1e-9)
            assert data["ci_high"].iloc[i] == pytest.approx(high, rel=1e-9, abs=1e-9)


def test_bad_inputs_say_what_to_do(result):
    with pytest.raises(MushinValueError, match="`backend` must be 'hvplot' or 'matplotlib'"):
        plots.plot_summary(result, backend="plotly")
    with pytest.raises(MushinKeyError, match=r"`metric` must be one of \['accuracy', 'loss'\]"):
        plots.plot_seeds(result, "f1")
    with pytest.raises(MushinTypeError, match="`result` must be a BenchmarkResult"):
        plots.plot_pvalues({"accuracy": [1, 2]})
    ds = _robustness()
    with pytest.raises(MushinValueError, match=r"pick one value of \['model'\] with ds.sel"):
        plots.plot_curve(ds, "acc", "epsilon")
    with pytest.raises(MushinKeyError, match="`x` must be one of"):
        plots.plot_curve(ds, "acc", "eps", group="model")
    with pytest.raises(MushinKeyError, match="`over` must be one of"):
        plots.plot_curve(ds, "acc", "epsilon", group="model", over="run")
    with pytest.raises(MushinValueError, match="`confidence` must be a float in"):
        plots.plot_curve(ds, "acc", "epsilon", group="model", confidence=95)
    with pytest.raises(MushinTypeError, match="`ds` must be an xarray.Dataset"):
        plots.plot_curve(ds.to_dataframe(), "acc", "epsilon")
