"""TOST equals statsmodels' ttost_ind / ttost_paired, the P(A>B) interval its
rank_compare_2indep, and the verdicts follow from Holm over each family."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.nonparametric import rank_compare_2indep
from statsmodels.stats.weightstats import ttost_ind, ttost_paired

from mushin_nb import stats
from mushin_nb.compare import BenchmarkResult, compare_dataset
from mushin_nb.errors import MushinTypeError, MushinValueError

from .conftest import holm_reference, same

sample = st.lists(st.floats(0.5, 1.0, allow_nan=False, width=32), min_size=3, max_size=12)


@settings(max_examples=40, deadline=None)
@given(a=sample, b=sample, margin=st.floats(0.001, 0.2))
def test_tost_equals_statsmodels(a, b, margin):
    a, b = np.array(a), np.array(b)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for kind, usevar in (("welch", "unequal"), ("student", "pooled")):
            same(stats.tost(a, b, margin=margin, kind=kind).pvalue,
                 ttost_ind(a, b, -margin, margin, usevar=usevar)[0], tol=1e-7)
        n = min(a.size, b.size)
        same(stats.tost(a[:n], b[:n], margin=margin, kind="paired").pvalue,
             ttost_paired(a[:n], b[:n], -margin, margin)[0], tol=1e-7)


@settings(max_examples=40, deadline=None)
@given(a=sample, b=sample, confidence=st.sampled_from([0.9, 0.95]))
def test_prob_interval_equals_statsmodels_brunner_munzel(a, b, confidence):
    a, b = np.array(a, float), np.array(b, float)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ref = rank_compare_2indep(a, b)
        low, high = ref.conf_int(alpha=1 - confidence)
        ok = np.isfinite(low) and ref.var > 0
    ours = stats.prob_ci(a, b, confidence)
    if ok:
        same([ours.low, ours.high], [low, high], tol=1e-9)
    else:
        assert np.isnan(ours.low) and np.isnan(ours.high)


def _ds(shift=(0.0, 0.0005, 0.05), n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.9, 0.002, (len(shift), n)) + np.array(shift)[:, None]
    return xr.Dataset({"acc": (("method", "seed"), x)},
                      coords={"method": ["a", "b", "c"], "seed": np.arange(n)})


def test_compare_with_margin_adds_holm_tost_and_verdicts():
    ds = _ds()
    result = compare_dataset(ds, margin=0.005)
    comp = result.comparisons
    assert list(comp.columns) == list(stats.COMPARISON_COLUMNS) + list(stats.EQUIVALENCE_COLUMNS)
    x = ds["acc"].values
    ref = [ttost_ind(x[i], x[j], -0.005, 0.005, usevar="unequal")[0]
           for i, j in ((0, 1), (0, 2), (1, 2))]
    same(comp["p_equivalence"], ref, tol=1e-9)
    same(comp["p_equivalence_holm"], holm_reference(ref))
    assert comp["verdict"].tolist() == ["equivalent", "worse", "worse"]
    text = repr(result)
    assert "margin=0.005 (TOST)" in text
    lines = text.splitlines()
    assert [line.split()[-1] for line in lines[4:]] == ["equivalent", "better"]
    assert result.summary()["verdict_vs_ref"].tolist() == ["", "equivalent", "better"]
    assert "verdict_vs_ref" not in compare_dataset(ds).summary()


def test_inconclusive_when_neither_test_rejects_and_nothing_changes_without_margin():
    ds = _ds(shift=(0.0, 0.001, 0.002), n=3)
    plain = compare_dataset(ds)
    assert tuple(plain.comparisons.columns) == stats.COMPARISON_COLUMNS
    result = compare_dataset(ds, margin=0.0005)
    assert set(result.comparisons["verdict"]) == {"inconclusive"}
    assert result.comparisons[list(stats.COMPARISON_COLUMNS)].equals(plain.comparisons)


def test_lower_is_better_flips_better_and_worse(tmp_path):
    ds = _ds().rename({"acc": "ece"})
    result = compare_dataset(ds, margin=0.005, lower_is_better=["ece"])
    assert result.comparisons["verdict"].tolist() == ["equivalent", "better", "better"]
    again = BenchmarkResult.load(result.to_netcdf(tmp_path / "r.nc"))
    assert again.comparisons.equals(result.comparisons) and again.margin == 0.005
    assert again.lower_is_better == ["ece"]


def test_paired_tests_use_the_paired_tost():
    ds = _ds()
    comp = compare_dataset(ds, test="paired-t", margin=0.005).comparisons
    x = ds["acc"].values
    same(comp["p_equivalence"][0], ttost_paired(x[0], x[1], -0.005, 0.005)[0])


def test_prob_intervals_table():
    result = compare_dataset(_ds(shift=(0, 0.001, 0.002), n=6))
    table = result.prob_intervals()
    x = result.data["acc"].values
    low, high = rank_compare_2indep(x[0], x[1]).conf_int(alpha=0.05)
    same(table.loc[0, ["prob_ci_low", "prob_ci_high"]].astype(float), [low, high])


@pytest.mark.parametrize("margin, cls", [(0, MushinValueError), (-0.1, MushinValueError),
                                         (float("nan"), MushinValueError),
                                         ("0.1", MushinTypeError)])
def test_bad_margin_names_the_argument(margin, cls):
    with pytest.raises(cls, match="`margin` must be a finite number > 0"):
        compare_dataset(_ds(), margin=margin)
