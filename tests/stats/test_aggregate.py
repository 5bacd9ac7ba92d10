"""Aggregates equal rliable's point estimates (and scipy's trim_mean); their stratified-bootstrap
intervals agree with rliable's within Monte Carlo error and depend only on ``seed``."""

from __future__ import annotations

import os
import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from mushin_nb import stats
from mushin_nb.errors import MushinKeyError, MushinValueError
from mushin_nb.stats import MushinWarning

from .conftest import same

BENCH = Path(__file__).resolve().parents[2] / "bench" / "stats_speed.py"


@pytest.fixture(scope="module")
def rliable():
    """rliable's library and metrics, imported through the P3 bench's pandas-3 shim."""
    environ = dict(os.environ)  # the bench pins BLAS threads for its own process only
    bench = runpy.run_path(str(BENCH), run_name="stats_speed")
    os.environ.clear()
    os.environ.update(environ)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        library = bench["_rliable"]()
        from rliable import metrics
    return library, metrics


def _da(x):
    return xr.DataArray(x, dims=("method", "task", "seed"),
                        coords={"method": [f"m{i}" for i in range(x.shape[0])]})


RLIABLE = {"iqm": "aggregate_iqm", "median": "aggregate_median", "mean": "aggregate_mean",
           "optimality_gap": "aggregate_optimality_gap"}


@settings(max_examples=20, deadline=None)
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 7), st.integers(1, 6)),
       seed=st.integers(0, 1000), stat=st.sampled_from(list(RLIABLE)))
def test_point_estimates_equal_rliable(rliable, shape, seed, stat):
    _, metrics = rliable
    x = np.random.default_rng(seed).uniform(0, 1.4, shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MushinWarning)
        table = stats.aggregate(_da(x), stat=stat, reps=100)
    ref = [getattr(metrics, RLIABLE[stat])(x[m].T) for m in range(shape[0])]
    same(table["estimate"], ref, tol=1e-12)
    if stat == "iqm":
        same(table["estimate"], [sps.trim_mean(x[m], 0.25, axis=None) for m in range(shape[0])])


def test_profile_and_probability_of_improvement_equal_rliable(rliable):
    _, metrics = rliable
    x = np.round(np.random.default_rng(5).uniform(0, 1, (3, 6, 5)), 1)  # ties on purpose
    taus = np.linspace(0, 1, 11)
    profile = stats.performance_profile(_da(x), taus=taus, reps=200)
    ref = [[np.mean(x[m].T > t) for t in taus] for m in range(3)]
    same(profile.values, ref)
    assert profile.dims == ("method", "tau") and (profile.ci_low <= profile).all()
    poi = stats.probability_of_improvement(_da(x), pairs="all", reps=200)
    for row in poi.itertuples():
        i, j = int(row.method_a[1:]), int(row.method_b[1:])
        assert row.estimate == pytest.approx(metrics.probability_of_improvement(x[i].T, x[j].T))
        assert row.ci_low <= row.estimate <= row.ci_high


@pytest.mark.parametrize("stat", ["iqm", "mean"])
def test_intervals_agree_with_rliable_within_monte_carlo_error(rliable, stat):
    library, metrics = rliable
    x = np.random.default_rng(1).normal(0.7, 0.1, (2, 8, 6))
    ours = stats.aggregate(_da(x), stat=stat, reps=20_000, seed=3)
    np.random.seed(0)  # rliable draws from numpy's global RNG
    fn = getattr(metrics, RLIABLE[stat])
    _, cis = library.get_interval_estimates({f"m{m}": x[m].T for m in range(2)},
                                            lambda s: np.array([fn(s)]), reps=20_000)
    for m in range(2):
        low, high = cis[f"m{m}"][:, 0]
        width = high - low
        assert abs(ours.iloc[m]["ci_low"] - low) < 0.03 * width
        assert abs(ours.iloc[m]["ci_high"] - high) < 0.03 * width


def test_the_same_seed_gives_the_same_intervals_another_seed_others():
    x = np.random.default_rng(2).uniform(0, 1, (3, 5, 4))
    a = stats.aggregate(_da(x), seed=11, reps=2000)
    assert a.equals(stats.aggregate(_da(x), seed=11, reps=2000))
    assert a.equals(stats.aggregate(_da(x), seed=np.random.default_rng(11), reps=2000))
    assert not a.equals(stats.aggregate(_da(x), seed=12, reps=2000))
    p = stats.probability_of_improvement(_da(x), seed=4, reps=500)
    assert p.equals(stats.probability_of_improvement(_da(x), seed=4, reps=500))


def test_stratified_bootstrap_keeps_each_task_whole():
    # one task far above the others: a stratified resample always contains its runs, so the
    # mean over tasks moves only with within-task noise
    x = np.zeros((1, 3, 4))
    x[0, 0] = [10.0, 10.0, 10.0, 10.0]
    x[0, 1:] = [[0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0]]
    table = stats.aggregate(_da(x), stat="mean", reps=2000)
    assert table.iloc[0]["ci_low"] >= 10 / 3 and table.iloc[0]["ci_high"] <= 10 / 3 + 2 / 3


def test_nan_runs_are_left_out_and_counted():
    x = np.random.default_rng(3).uniform(0, 1, (2, 4, 5))
    x[0, 1, 2] = np.nan
    with pytest.warns(MushinWarning, match="1 NaN run"):
        table = stats.aggregate(_da(x), stat="iqm", reps=500)
    kept = x[0][~np.isnan(x[0])]
    assert table.iloc[0]["estimate"] == pytest.approx(sps.trim_mean(kept, 0.25))


def test_bad_input_names_the_argument_and_the_fix():
    x = np.random.default_rng(0).uniform(0, 1, (2, 3, 4))
    with pytest.raises(MushinKeyError, match="`task` must be a dimension of da"):
        stats.aggregate(_da(x), task="env")
    with pytest.raises(MushinValueError, match="`stat` must be one of 'iqm'"):
        stats.aggregate(_da(x), stat="max")
    x[1, 2] = np.nan
    with pytest.raises(MushinValueError, match="method 'm1' has no run"):
        stats.aggregate(_da(x))
    with pytest.raises(MushinValueError, match="`reps` must be an int >= 100"):
        stats.aggregate(_da(x[:1]), reps=10)
