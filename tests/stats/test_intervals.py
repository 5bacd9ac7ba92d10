"""t and bootstrap intervals equal scipy's, and the same seed gives the same interval."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from mushin_nb import stats
from tests.stats.conftest import fine, mean_diff, same


@settings(max_examples=40, deadline=None)
@given(a=fine, b=fine, confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_t_intervals_equal_scipy(a, b, confidence):
    assume(np.ptp(a) > 0 and np.ptp(b) > 0)
    x, y = np.array(a), np.array(b)
    same(stats.mean_ci(a, confidence),
          sps.t.interval(confidence, len(a) - 1, loc=x.mean(), scale=sps.sem(x)))
    for kind, equal_var in (("welch", False), ("student", True)):
        ci = sps.ttest_ind(x, y, equal_var=equal_var).confidence_interval(confidence)
        same(stats.diff_ci(a, b, kind=kind, confidence=confidence), (ci.low, ci.high))
    n = min(len(a), len(b))
    assume(np.ptp(x[:n] - y[:n]) > 0)
    ci = sps.ttest_rel(x[:n], y[:n]).confidence_interval(confidence)
    same(stats.diff_ci(a[:n], b[:n], kind="paired", confidence=confidence), (ci.low, ci.high))


@settings(max_examples=25, deadline=None)
@given(a=fine, b=fine, method=st.sampled_from(["percentile", "BCa"]),
       paired=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_bootstrap_intervals_equal_scipy_bootstrap_with_the_same_seed(a, b, method, paired,
                                                                      seed):
    if paired:
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        assume(np.ptp(np.subtract(a, b)) > 0)
    assume(np.ptp(a) > 0 and np.ptp(b) > 0)
    kw = dict(n_resamples=2000, confidence_level=0.9, method=method, vectorized=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sps.bootstrap((np.array(a), np.array(b)), mean_diff, paired=paired,
                            rng=np.random.default_rng(seed), **kw).confidence_interval
        ref_mean = sps.bootstrap((np.array(a),), np.mean, rng=np.random.default_rng(seed),
                                 **kw).confidence_interval
        ours = stats.bootstrap_ci(a, b, method=method.lower(), paired=paired, confidence=0.9,
                                  n_resamples=2000, rng=seed)
        ours_mean = stats.bootstrap_ci(a, method=method.lower(), confidence=0.9,
                                       n_resamples=2000, rng=np.random.default_rng(seed))
    assume(np.isfinite(ref).all() and np.isfinite(ref_mean).all())  # scipy's degenerate cases
    same(ours, ref)
    same(ours_mean, ref_mean)


def test_bootstrap_is_deterministic_per_seed_and_differs_across_seeds():
    a, b = [0.81, 0.84, 0.80, 0.86, 0.83], [0.79, 0.80, 0.78, 0.82, 0.77]
    first = stats.bootstrap_ci(a, b, rng=3)
    assert first == stats.bootstrap_ci(a, b, rng=3)
    assert first == stats.bootstrap_ci(a, b, rng=np.random.default_rng(3))
    assert first != stats.bootstrap_ci(a, b, rng=4)


def test_constant_scores_give_a_zero_width_bootstrap_interval():
    assert stats.bootstrap_ci([0.5, 0.5, 0.5], [0.25, 0.25], method="percentile") == (0.25, 0.25)
