"""The figures of ranking, aggregates, profiles, power and equivalence draw in both backends,
show the numbers they are given, and refuse wrong inputs with the fix."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure

from mushin_nb import plots, stats
from mushin_nb.compare import compare_dataset
from mushin_nb.errors import MushinTypeError, MushinValueError


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(0)
    x = rng.normal(0.8, 0.02, (5, 10, 4)) + np.linspace(0, 0.04, 5)[:, None, None]
    return xr.DataArray(x, dims=("method", "task", "seed"),
                        coords={"method": ["sgd", "adam", "lion", "lamb", "shampoo"]})


@pytest.fixture(scope="module")
def figures(scores):
    """Each figure's function and its input."""
    ds = xr.Dataset({"acc": (("method", "seed"), scores.values[:3, 0])},
                    coords={"method": ["a", "b", "c"], "seed": range(4)})
    return {
        "cd": (plots.plot_cd, stats.rank_methods(scores)),
        "profile": (plots.plot_profile, stats.performance_profile(scores, reps=200)),
        "aggregates": (plots.plot_aggregates, {
            s: stats.aggregate(scores, stat=s, reps=200) for s in ("iqm", "optimality_gap")}),
        "power": (plots.plot_power, stats.power_curve(0.01, seeds=[3, 5, 10])),
        "equivalence": (plots.plot_equivalence, compare_dataset(ds, margin=0.03)),
    }


def _texts(fig):
    return " ".join(t.get_text() for ax in fig.axes for t in
                    [*ax.texts, *ax.get_yticklabels(), ax.title, ax.xaxis.label])


@pytest.mark.parametrize("name", ["cd", "profile", "aggregates", "power", "equivalence"])
def test_both_backends_draw(figures, name, tmp_path):
    fn, value = figures[name]
    fig = fn(value, backend="matplotlib")
    assert isinstance(fig, Figure)
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 5000
    view = fn(value, backend="hvplot")
    hv.save(view, tmp_path / "f.html")
    assert "HoverTool" in (tmp_path / "f.html").read_text()


def test_cd_diagram_labels_every_method_with_its_mean_rank(figures):
    _, rank = figures["cd"]
    text = _texts(plots.plot_cd(rank, backend="matplotlib"))
    for method, r in rank.mean_ranks.items():
        assert f"{method} ({r:.2f})" in text
    assert f"CD={rank.critical_difference:.3g}" in text


def test_figures_draw_into_given_axes(figures):
    fig = Figure()
    ax = fig.subplots()
    for name in ("cd", "profile", "power", "equivalence"):
        fn, value = figures[name]
        assert fn(value, backend="matplotlib", ax=ax) is fig


def test_equivalence_plot_marks_verdicts_and_the_margin(figures):
    _, result = figures["equivalence"]
    text = _texts(result.plot("equivalence", backend="matplotlib"))
    for v in result.comparisons["verdict"]:
        assert f"({v})" in text


def test_bad_inputs_say_what_to_do(figures):
    with pytest.raises(MushinValueError, match="`backend` must be 'hvplot' or 'matplotlib'"):
        plots.plot_power(figures["power"][1], backend="bokeh")
    with pytest.raises(MushinTypeError, match="`rank` must be a RankResult"):
        plots.plot_cd(pd.DataFrame())
    with pytest.raises(MushinValueError, match="`curve` must be columns n and detectable"):
        plots.plot_power(pd.DataFrame({"x": [1]}))
    plain = compare_dataset(xr.Dataset({"acc": (("method", "seed"), [[1.0, 2], [3, 4.5]])},
                                       coords={"method": ["a", "b"], "seed": [0, 1]}))
    with pytest.raises(MushinValueError, match="built with margin="):
        plain.plot("equivalence")
