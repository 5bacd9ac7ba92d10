"""results: per-job values to the Dataset contract, and exact netCDF round trips."""

import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mushin_nb.errors import MushinValueError
from mushin_nb.results import JSON_ATTRS, build_dataset, load_results, save_netcdf

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings(max_examples=30, **SETTINGS)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       metric_shape=st.lists(st.integers(1, 3), max_size=2), data=st.data())
def test_cells_land_where_numpy_puts_them(shape, metric_shape, data):
    names = [f"p{k}" for k in range(len(shape))]
    coords = {n: list(range(10 * k, 10 * k + s)) for k, (n, s) in enumerate(zip(names, shape))}
    full = data.draw(hnp.arrays(np.float64, tuple(shape) + tuple(metric_shape),
                                elements=st.floats(-1e6, 1e6)))
    # some job must succeed: with every job failed a metric's shape is unknowable
    missing = data.draw(st.sets(st.integers(0, math.prod(shape) - 1),
                                max_size=math.prod(shape) - 1))
    flat = full.reshape(math.prod(shape), *metric_shape)
    cells = [None if i in missing else flat[i] for i in range(len(flat))]
    ds = build_dataset(coords, {"m": cells}, {"fixed": 1})
    expected = full.copy()
    expected.reshape(len(flat), *metric_shape)[sorted(missing)] = np.nan
    assert ds.m.dims == (*names, *(f"m_dim{k}" for k in range(len(metric_shape))))
    np.testing.assert_array_equal(ds.m.values, expected)
    for name in names:
        assert ds[name].values.tolist() == coords[name]
    assert ds.attrs == {"fixed": 1}


def test_dtypes_are_kept_when_no_job_is_missing():
    ds = build_dataset({"seed": [0, 1]}, {"n": [1, 2], "ok": [True, False], "s": ["a", "bc"],
                                          "h": [np.float32(0.5), np.float32(1.5)]})
    assert ds.n.dtype == np.int64 and ds.ok.dtype == bool and ds.s.dtype.kind == "U"
    assert ds.h.dtype == np.float32
    holes = build_dataset({"seed": [0, 1]}, {"n": [1, None], "s": ["a", None],
                                             "h": [None, np.float32(1.5)]})
    assert holes.n.dtype == np.float64 and np.isnan(holes.n.values[1])
    assert holes.s.values.tolist() == ["a", ""] and holes.h.dtype == np.float32


def test_all_jobs_failed_gives_a_nan_variable():
    ds = build_dataset({"lr": [0.1, 0.2]}, {"acc": [None, None]})
    assert np.isnan(ds.acc.values).all() and ds.acc.dims == ("lr",)


def test_coord_from_metrics_names_the_first_metric_dimension():
    epochs = np.arange(4)
    cells = {"epoch": [epochs, epochs], "loss": [np.ones(4), np.zeros(4)],
             "w": [np.ones((4, 2)), np.ones((4, 2))]}
    ds = build_dataset({"seed": [0, 1]}, cells, coord_from_metrics="epoch")
    assert ds.loss.dims == ("seed", "epoch") and ds.w.dims == ("seed", "epoch", "w_dim1")
    assert ds.epoch.values.tolist() == [0, 1, 2, 3] and "epoch" not in ds.data_vars


# what netCDF can store as text (NUL and lone surrogates: see test_text_netcdf_cannot_store)
TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
attr_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**62, 2**62),
              st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(min_size=1, max_size=5), inner,
                                            max_size=3)),
    max_leaves=6)


@settings(max_examples=15, **SETTINGS)
@given(attrs=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
                             attr_values, max_size=5),
       values=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 2)),
                         elements=st.floats(allow_nan=True, allow_infinity=True)),
       labels=st.lists(st.text(TEXT, min_size=1, max_size=6), min_size=3, max_size=3,
                       unique=True))
def test_netcdf_round_trip_is_identical(tmp_path, attrs, values, labels):
    ds = xr.Dataset(
        {"acc": (("seed", "acc_dim0"), values),
         "ok": ("seed", np.arange(len(values)) % 2 == 0),
         "name": ("seed", np.array(labels[:len(values)]))},
        coords={"seed": np.arange(len(values)), "acc_dim0": np.arange(values.shape[1])},
        attrs=attrs)
    ds.acc.attrs = {"unit": "%", "flag": True}
    path = save_netcdf(ds, tmp_path / "r.nc")
    back = load_results(path)
    xr.testing.assert_identical(back, ds)
    assert back.attrs == attrs and JSON_ATTRS not in back.attrs
    assert back.acc.attrs == {"unit": "%", "flag": True}


def test_text_netcdf_cannot_store(tmp_path):
    path = tmp_path / "r.nc"
    first = build_dataset({"a": [1, 2]}, {"v": [1.0, 2.0]}, {"note": "x\x00y"})
    save_netcdf(first, path)  # attrs keep the NUL (stored as JSON)
    assert load_results(path).attrs["note"] == "x\x00y"
    assert save_netcdf(first.assign_attrs(odd="\ud800"), tmp_path / "odd.nc")
    assert load_results(tmp_path / "odd.nc").attrs["odd"] == "\ud800"
    (tmp_path / "odd.nc").unlink()
    for bad in ("a\x00b", "\ud800"):
        labelled = build_dataset({"name": ["ok", bad]}, {"v": [1.0, 2.0]})
        with pytest.raises(MushinValueError, match=r"`ds\['name'\]`.*NUL characters.*Fix: "):
            save_netcdf(labelled, path)
    xr.testing.assert_identical(load_results(path), first)  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["r.nc"]


def test_save_replaces_atomically(tmp_path):
    path = tmp_path / "r.nc"
    first = build_dataset({"a": [1, 2]}, {"v": [1.0, 2.0]})
    save_netcdf(first, path)
    with pytest.raises(MushinValueError, match=r"`ds.attrs\['bad'\]` must be a number, "
                                               r"string, bool, None, list or dict"):
        save_netcdf(first.assign_attrs(bad=object()), path)  # must not clobber the file
    xr.testing.assert_identical(load_results(path), first)
    assert [p.name for p in tmp_path.iterdir()] == ["r.nc"]


def test_every_dataset_we_build_or_load_has_the_mushin_accessor(tmp_path):
    from mushin_nb.results import build_dataset, load_results, save_netcdf

    ds = build_dataset({"method": ["a", "b"], "seed": [0, 1]}, {"acc": [0.9, 0.8, 0.5, 0.4]}, {})
    assert hasattr(ds, "mushin")
    path = save_netcdf(ds, tmp_path / "r.nc")
    assert hasattr(load_results(path), "mushin")
