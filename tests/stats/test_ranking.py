"""Friedman equals scipy, Nemenyi equals scikit-posthocs, the CD equals Demsar's table, and the
Holm post-hoc equals scipy's Wilcoxon with statsmodels' Holm."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import scikit_posthocs as sp
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from mushin_nb import stats
from mushin_nb.errors import MushinKeyError, MushinValueError
from mushin_nb.stats import MushinWarning
from mushin_nb.stats.ranking import nemenyi_cd

from .conftest import holm_reference, same

# Demsar (2006), table 5: q_alpha of the Nemenyi test for k = 2..10 classifiers
DEMSAR_Q = {0.05: [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164],
            0.10: [1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920]}


def _da(x, names=None):
    names = names or [f"m{i}" for i in range(x.shape[0])]
    return xr.DataArray(x, dims=("method", "task", "seed"), coords={"method": names})


@pytest.mark.parametrize("alpha", [0.05, 0.10])
def test_critical_difference_equals_demsars_table(alpha):
    for k, q in zip(range(2, 11), DEMSAR_Q[alpha]):
        n = 14
        assert nemenyi_cd(k, n, alpha) == pytest.approx(q * np.sqrt(k * (k + 1) / (6 * n)),
                                                        abs=1.5e-3)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(3, 8), n=st.integers(2, 15), seed=st.integers(0, 10_000),
       coarse=st.booleans())
def test_friedman_and_nemenyi_equal_scipy_and_scikit_posthocs(k, n, seed, coarse):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.8, 0.02, (k, n, 3)) + np.linspace(0, 0.02, k)[:, None, None]
    if coarse:  # ties within blocks
        x = np.round(x, 2)
    blocks = x.mean(-1).T
    if np.all(np.ptp(blocks, axis=1) == 0):
        return
    r = stats.rank_methods(_da(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sps.friedmanchisquare(*(-blocks).T)
    same([r.statistic, r.p_value], [ref.statistic, ref.pvalue], tol=1e-9)
    names = [f"m{i}" for i in range(k)]
    nemenyi = sp.posthoc_nemenyi_friedman(blocks)
    same(r.pairwise.loc[names, names].to_numpy(), nemenyi.to_numpy(), tol=1e-9)
    ranks = sps.rankdata(-blocks, axis=1).mean(0)
    same(r.mean_ranks.loc[names].to_numpy(), ranks)
    assert list(r.mean_ranks) == sorted(r.mean_ranks)


def test_lower_is_better_reverses_the_ranks():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (4, 10, 2)) + np.arange(4)[:, None, None]
    high = stats.rank_methods(_da(x))
    low = stats.rank_methods(_da(x), lower_is_better=True)
    assert list(high.mean_ranks.index) == ["m3", "m2", "m1", "m0"]
    assert list(low.mean_ranks.index) == ["m0", "m1", "m2", "m3"]
    assert high.statistic == pytest.approx(low.statistic)


def test_holm_posthoc_is_wilcoxon_with_holm():
    rng = np.random.default_rng(2)
    x = rng.normal(0.8, 0.02, (4, 12, 5)) + np.array([0, 0.005, 0.02, 0.03])[:, None, None]
    r = stats.rank_methods(_da(x), posthoc="holm")
    blocks = x.mean(-1)
    pairs = list(itertools.combinations(range(4), 2))
    ref = holm_reference([sps.wilcoxon(blocks[i], blocks[j]).pvalue for i, j in pairs])
    for (i, j), p in zip(pairs, ref):
        assert r.pairwise.loc[f"m{i}", f"m{j}"] == pytest.approx(p, rel=1e-12)


def test_groups_are_the_bars_of_the_cd_diagram():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.01, (5, 20, 2)) + np.array([0, 0.001, 0.002, 1, 1.001])[:, None, None]
    r = stats.rank_methods(_da(x, list("abcde")))
    groups = r.groups()
    assert all(len(g) >= 2 for g in groups)
    assert ["e", "d"] == groups[0][:2] and not any({"e", "a"} <= set(g) for g in groups)
    assert "Friedman" in repr(r) and "CD=" in repr(r)


def test_nan_runs_are_left_out_and_counted_and_incomplete_blocks_dropped():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (3, 6, 4))
    x[0, 0, 1] = np.nan
    x[1, 2, :] = np.nan
    with pytest.warns(MushinWarning, match="5 NaN run"):
        r = stats.rank_methods(_da(x))
    assert r.n_blocks == 5 and r.dropped == [2]


def test_bad_input_names_the_argument_and_the_fix():
    x = np.random.default_rng(0).normal(0, 1, (3, 4, 2))
    with pytest.raises(MushinKeyError, match="`block` must be a dimension of da.*'task'"):
        stats.rank_methods(_da(x), block="dataset")
    with pytest.raises(MushinValueError, match="at least 3 methods"):
        stats.rank_methods(_da(x[:2]))
    with pytest.raises(MushinValueError, match="at least 2 complete tasks"):
        stats.rank_methods(_da(x[:, :1]))
    with pytest.raises(MushinValueError, match="every method scores the same"):
        stats.rank_methods(_da(np.ones((3, 4, 2))))
    with pytest.raises(MushinValueError, match="`posthoc` must be one of 'nemenyi', 'holm'"):
        stats.rank_methods(_da(x), posthoc="bonferroni")
