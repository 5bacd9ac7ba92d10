"""Shared by the stats tests: score strategies, scipy and statsmodels references, `same`."""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

# scores on a coarse grid make ties and zero differences common, as with accuracies
coarse = st.lists(st.integers(0, 20).map(lambda v: 0.70 + v / 100), min_size=2, max_size=12)
fine = st.lists(st.floats(0, 1, allow_nan=False, width=32), min_size=2, max_size=12)
scores = st.one_of(coarse, fine)


def scipy_test(name, a, b, seed=0):
    if name == "welch":
        return sps.ttest_ind(a, b, equal_var=False)
    if name == "student":
        return sps.ttest_ind(a, b)
    if name == "paired-t":
        return sps.ttest_rel(a, b)
    if name == "mannwhitney":
        return sps.mannwhitneyu(a, b)
    if name == "wilcoxon":
        return sps.wilcoxon(a, b)
    return sps.permutation_test((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis),
                                vectorized=True, rng=np.random.default_rng(seed))


def holm_reference(p):
    """statsmodels' Holm; its gc.collect() per call is skipped (it only costs time here)."""
    with mock.patch("gc.collect"):
        return multipletests(p, method="holm")[1]


def same(ours, ref, tol=1e-9):
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol, equal_nan=True)


def mean_diff(x, y, axis=-1):
    return x.mean(axis=axis) - y.mean(axis=axis)


def family(n_methods=3, n_metrics=2, n_seeds=6, seed=0):
    rng = np.random.default_rng(seed)
    shift = np.linspace(0, 0.05, n_methods)[:, None, None]
    return rng.normal(0.8, 0.02, (n_methods, n_metrics, n_seeds)) + shift
