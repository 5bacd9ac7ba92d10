"""Hedges' g equals statsmodels', P(A > B) equals scipy's U / (n_a n_b)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from scipy import stats as sps
from statsmodels.stats.meta_analysis import effectsize_smd

from mushin_nb import stats
from tests.stats.conftest import fine, same


@settings(max_examples=40, deadline=None)
@given(a=fine, b=fine)
def test_effect_sizes_equal_statsmodels_and_scipy(a, b):
    x, y = np.array(a), np.array(b)
    assume(np.ptp(np.concatenate([x, y])) > 0)
    smd, _ = effectsize_smd(x.mean(), x.std(ddof=1), len(x), y.mean(), y.std(ddof=1), len(y))
    same(stats.hedges_g(a, b), smd)
    u = sps.mannwhitneyu(x, y).statistic
    same(stats.prob_improvement(a, b), u / (len(x) * len(y)), tol=1e-12)
