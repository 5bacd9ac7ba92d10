"""BenchmarkResult: the statistics of existing scores, its NetCDF file, its views and plots."""

from __future__ import annotations

import html.parser
import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats as sps

from mushin_nb.compare import BenchmarkResult
from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinKeyError,
    MushinTypeError,
    MushinValueError,
)
from mushin_nb.stats import MushinWarning


def _dataset(seed=0, methods=("a", "b", "c"), n=6):
    rng = np.random.default_rng(seed)
    shift = np.linspace(0, 0.04, len(methods))[:, None]
    return xr.Dataset(
        {"acc": (("method", "seed"), rng.normal(0.8, 0.01, (len(methods), n)) + shift),
         "loss": (("method", "seed"), rng.normal(0.3, 0.02, (len(methods), n)))},
        coords={"method": list(methods), "seed": np.arange(10, 10 + n)},
        attrs={"dataset": "rings"})


def test_from_dataset_runs_the_statistics_on_existing_scores():
    ds = _dataset()
    out = BenchmarkResult.from_dataset(ds, test="mannwhitney", reference="b", pairs="reference",
                                       bootstrap="percentile", seed=3)
    assert out.data.attrs == {"dataset": "rings", "test": "mannwhitney", "alpha": 0.05,
                              "pairs": "reference", "reference": "b", "bootstrap": "percentile",
                              "seed": 3}
    comp = out.comparisons
    assert list(zip(comp["method_a"], comp["method_b"]))[:2] == [("a", "b"), ("c", "b")]
    for row in comp.itertuples():
        a = ds[row.metric].sel({"method": row.method_a}).values  # sel(method=) is a keyword
        b = ds[row.metric].sel({"method": row.method_b}).values
        assert row.p_value == pytest.approx(sps.mannwhitneyu(a, b).pvalue, rel=1e-12)
    again = BenchmarkResult.from_dataset(ds, test="mannwhitney", reference="b",
                                         pairs="reference", bootstrap="percentile", seed=3)
    pd.testing.assert_frame_equal(again.comparisons, comp)


def test_from_dataset_leaves_out_missing_runs_and_other_variables():
    ds = _dataset()
    ds["acc"][1, 2] = np.nan
    ds["curve"] = (("method", "seed", "step"), np.zeros((3, 6, 4)))
    with pytest.warns(MushinWarning) as record:
        out = BenchmarkResult.from_dataset(ds)
    messages = " | ".join(str(w.message) for w in record)
    assert "variables ['curve'] are not numeric over exactly ('method', 'seed')" in messages
    assert "1 score(s) are NaN (runs that failed, or seeds that not every method has)" in messages
    assert out.metrics == ["acc", "loss"]
    row = out.comparisons[(out.comparisons.metric == "acc")].iloc[0]
    assert (row.n_a, row.n_b) == (6, 5)


def test_from_dataset_refuses_bad_datasets():
    ds = _dataset()
    with pytest.raises(MushinTypeError, match="`ds` must be an xarray.Dataset"):
        BenchmarkResult.from_dataset(ds.to_dataframe())
    with pytest.raises(MushinValueError, match="dims \\('method', 'seed'\\).*compare_dataset"):
        BenchmarkResult.from_dataset(ds.rename(method="model"))
    dup = xr.concat([ds, ds.isel(seed=[0])], dim="seed")
    with pytest.raises(MushinValueError, match="`seed` must be unique seed labels.*10 appears "
                       "more than once"):
        BenchmarkResult.from_dataset(dup)
    with pytest.raises(MushinKeyError, match="unknown reference method 'z'"):
        BenchmarkResult.from_dataset(ds, reference="z")
    with pytest.warns(MushinWarning, match="variables \\['name'\\] are not numeric"), \
            pytest.raises(MushinValueError, match="at least one numeric variable"):
        BenchmarkResult.from_dataset(xr.Dataset({"name": (("method", "seed"),
                                                          [["x", "y"], ["z", "w"]])}))
    with pytest.raises(MushinValueError, match="method 'a' has 1 score\\(s\\)"):
        BenchmarkResult.from_dataset(ds.isel(seed=[0]))


def test_netcdf_round_trip_restores_everything(tmp_path, result):
    path = result.to_netcdf(tmp_path / "result.nc")
    loaded = BenchmarkResult.load(path)
    xr.testing.assert_identical(loaded.data, result.data)
    pd.testing.assert_frame_equal(loaded.comparisons, result.comparisons)
    pd.testing.assert_frame_equal(loaded.summary(), result.summary())
    assert repr(loaded) == repr(result) and loaded.test == "welch" and loaded.alpha == 0.05
    assert os.listdir(tmp_path) == ["result.nc"]


def test_single_method_round_trip_has_an_empty_comparison_table(tmp_path):
    out = BenchmarkResult.from_dataset(_dataset(methods=("only",)))
    assert out.comparisons.empty
    loaded = BenchmarkResult.load(out.to_netcdf(tmp_path / "one.nc"))
    pd.testing.assert_frame_equal(loaded.comparisons, out.comparisons)


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, result):
    path = result.to_netcdf(tmp_path / "result.nc")
    before = path.read_bytes()
    broken = BenchmarkResult.from_dataset(_dataset())
    broken.data.attrs["unstorable"] = {"a": 1}  # netCDF cannot hold a dict attribute
    with pytest.raises((TypeError, ValueError)):
        broken.to_netcdf(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["result.nc"]
    with pytest.raises(MushinFileNotFoundError, match="`path` must be a file path in an "
                       "existing directory"):
        result.to_netcdf(tmp_path / "missing" / "r.nc")
    with pytest.raises(MushinFileNotFoundError, match="`path` must be an existing file"):
        BenchmarkResult.load(tmp_path / "nope.nc")
    _dataset().to_netcdf(tmp_path / "plain.nc")
    with pytest.raises(MushinValueError, match="its 'comparisons' group is unreadable"):
        BenchmarkResult.load(tmp_path / "plain.nc")


class _Cells(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.pre, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th", "pre"):
            self._in = tag
            if tag != "pre":
                self.rows[-1].append("")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "pre":
            self.pre.append(data)
        elif self._in:
            self.rows[-1][-1] += data


def test_text_and_html_views_agree_and_html_is_escaped():
    ds = _dataset(methods=("<script>x</script>", "a & b", "plain"))
    out = BenchmarkResult.from_dataset(ds)
    text = repr(out)
    page = out._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    cells = _Cells()
    cells.feed(page)
    assert "".join(cells.pre) == text  # the embedded text fallback is the repr itself
    lines = text.splitlines()
    assert lines[0] == "BenchmarkResult: 3 methods x 6 seeds, 2 metrics"
    assert lines[1] in page.replace("&#x27;", "'") or lines[1] in cells.pre[0]
    assert cells.rows[0] == ["method", "metric", "mean", "95% CI", "vs ref"]
    summary = out.summary()
    assert len(cells.rows) == len(summary) + 1 == len(lines) - 2
    for line, row, record in zip(lines[3:], cells.rows[1:], summary.itertuples()):
        assert row[:3] == [record.method, record.metric, f"{record.mean:.4g}"]
        assert row[3] == f"[{record.ci_low:.4g}, {record.ci_high:.4g}]"
        assert row[4] == record.significant_vs_ref
        assert line.split() == " ".join(row).split()  # the same cells, in the same order


def test_plot_delegates_to_the_plots_module(result):
    import matplotlib.figure

    fig = result.plot("summary", backend="matplotlib")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert isinstance(result.plot("seeds", metric="accuracy", backend="matplotlib"),
                      matplotlib.figure.Figure)
    with pytest.raises(MushinValueError, match="`kind` must be one of 'summary', 'pvalues', "
                       "'seeds', got 'forest'"):
        result.plot("forest")
