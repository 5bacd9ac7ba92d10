"""The ``sel(method=...)`` contract of mushin_nb results (mushin_nb.results docstring).

On an object with a ``method`` dimension, ``sel(method="cnn")`` selects that method; on
everything else xarray's fill-method keyword keeps its meaning, checked against xarray's own
answers computed by hand (positional indexing) rather than by our code.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from mushin_nb.errors import MushinKeyError
from mushin_nb.results import build_dataset, enable_method_sel, load_results, save_netcdf

VALUES = [[0.90, 0.91, 0.92], [0.80, 0.82, 0.81]]


@pytest.fixture
def results() -> xr.Dataset:
    return build_dataset({"method": ["cnn", "mlp"], "seed": [0, 1, 2]},
                         {"accuracy": [v for row in VALUES for v in row]})


def test_the_seed_documents_lines_select_a_method(results):
    cnn = results.sel(method="cnn")
    assert dict(cnn.sizes) == {"seed": 3} and cnn["method"].item() == "cnn"
    assert cnn["accuracy"].values.tolist() == VALUES[0]
    assert float(results["accuracy"].sel(method="mlp", seed=1)) == VALUES[1][1]


def test_lists_slices_and_derived_objects_select_too(results):
    assert results.sel(method=["mlp"])["accuracy"].values.tolist() == [VALUES[1]]
    assert results.sel(method=slice("mlp", None))["method"].values.tolist() == ["mlp"]
    mean = results.mean("seed").sel(method="mlp")  # a plain Dataset that xarray made
    assert float(mean["accuracy"]) == pytest.approx(np.mean(VALUES[1]))
    assert float(results["accuracy"].sel(method="cnn", drop=True).sum()) == pytest.approx(
        sum(VALUES[0]))


def test_a_label_that_is_not_a_method_names_the_methods(results):
    with pytest.raises(MushinKeyError, match=r"`method` must be one of the methods "
                                             r"\['cnn', 'mlp'\], got 'cnnn'"):
        results.sel(method="cnnn")
    with pytest.raises(KeyError):
        results["accuracy"].sel(method="cnnn", seed=0)


def test_a_loaded_file_keeps_the_contract(results, tmp_path):
    again = load_results(save_netcdf(results, tmp_path / "r.nc"))
    assert again.sel(method="mlp")["accuracy"].values.tolist() == VALUES[1]


def test_fill_methods_keep_xarrays_meaning_on_a_numeric_coordinate():
    enable_method_sel()
    ds = xr.Dataset({"v": ("x", [10, 20, 30])}, coords={"x": [1.0, 2.0, 3.0]})
    assert int(ds.sel(x=1.4, method="nearest")["v"]) == 10
    assert int(ds["v"].sel(x=2.6, method="pad")) == 20
    assert int(ds["v"].sel(x=2.1, method="bfill")) == 30
    assert int(ds.sel(x=2.9, method="nearest", tolerance=0.2)["v"]) == 30
    with pytest.raises(KeyError):
        ds.sel(x=2.5, method="nearest", tolerance=0.1)
    with pytest.raises(ValueError, match="Invalid fill method"):
        ds.sel(x=1.4, method="bogus")
    with pytest.raises(ValueError, match="Invalid fill method"):
        ds["v"].sel(x=1.4, method="mlp")


def test_fill_methods_keep_their_meaning_next_to_a_method_dimension(results):
    # a seed coordinate 0, 1, 2: 1.4 is nearest to 1 and pads to 1
    assert results["accuracy"].sel(seed=1.4, method="nearest").values.tolist() == [
        VALUES[0][1], VALUES[1][1]]
    assert results.sel({"seed": 1.6}, method="pad")["accuracy"].values.tolist() == [
        VALUES[0][1], VALUES[1][1]]
    with pytest.raises(ValueError, match="Invalid fill method"):  # a mapping: xarray's keyword
        results.sel({"seed": 1}, method="mlp")


def test_a_method_named_like_a_fill_method(tmp_path):
    ds = build_dataset({"method": ["nearest", "mlp"], "seed": [0, 1]},
                       {"loss": [1.0, 2.0, 3.0, 4.0]})
    assert ds.sel(method="nearest")["loss"].values.tolist() == [1.0, 2.0]
    with pytest.warns(UserWarning, match=r"sel\(\{'method': 'nearest', \.\.\.\}\)"):
        picked = ds.sel(seed=0.9, method="nearest")  # xarray's nearest seed, as ever
    assert picked["loss"].values.tolist() == [2.0, 4.0]


def test_objects_without_a_method_dimension_are_left_alone():
    enable_method_sel()
    ds = xr.Dataset({"v": ("x", [1, 2])}, coords={"x": [0.0, 1.0], "method": "cnn"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ds.sel(method="nearest").identical(ds)  # no indexer: xarray returns it as is
    assert int(ds.sel(x=0.8, method="nearest")["v"]) == 2


def test_enabling_twice_wraps_once():
    enable_method_sel()
    first = xr.Dataset.sel
    enable_method_sel()
    assert xr.Dataset.sel is first and first.__doc__.startswith("Returns a new dataset")
