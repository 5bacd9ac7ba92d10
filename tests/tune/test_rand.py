"""mushin_nb.rand: distributions checked against scipy.stats, seeded draws, bad input."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from mushin_nb import rand
from mushin_nb.errors import MushinTypeError, MushinValueError


def _draws(dist, n=3000, seed=1):
    return [d["v"] for d in rand.sample({"v": dist}, n, seed=seed)]


def test_uniform_follows_scipy_uniform():
    values = _draws(rand.uniform(-2.0, 3.0))
    assert stats.kstest(values, stats.uniform(loc=-2.0, scale=5.0).cdf).pvalue > 0.01
    assert all(-2.0 <= v < 3.0 for v in values)


def test_loguniform_follows_scipy_loguniform():
    values = _draws(rand.loguniform(1e-4, 1e-1))
    assert stats.kstest(values, stats.loguniform(1e-4, 1e-1).cdf).pvalue > 0.01
    # a plain uniform on the same range is rejected: the test has power
    assert stats.kstest(values, stats.uniform(1e-4, 1e-1 - 1e-4).cdf).pvalue < 1e-6


def test_ints_are_uniform_with_both_ends_included():
    values = _draws(rand.ints(2, 6))
    counts = np.bincount(values, minlength=7)[2:]
    assert set(values) == {2, 3, 4, 5, 6}
    assert stats.chisquare(counts).pvalue > 0.01
    assert all(isinstance(v, int) for v in values)


def test_oneof_weights_follow_the_given_proportions():
    values = _draws(rand.oneof(["a", "b", "c"], weights=[1, 2, 7]))
    counts = [values.count(x) for x in "abc"]
    assert stats.chisquare(counts, f_exp=[300, 600, 2100]).pvalue > 0.01


def test_oneof_draws_from_nested_distributions():
    values = _draws(rand.oneof([rand.uniform(0, 1), rand.uniform(10, 11), 42]), n=600)
    low, high, fixed = ([v for v in values if 0 <= v < 1], [v for v in values if 10 <= v < 11],
                        [v for v in values if v == 42])
    assert len(low) + len(high) + len(fixed) == 600 and min(map(len, (low, high, fixed))) > 150


def test_same_seed_same_draws_and_global_rng_untouched():
    space = {"lr": rand.loguniform(1e-5, 1), "depth": rand.ints(1, 8),
             "act": rand.oneof(["relu", "gelu"]), "fixed": [1, 2]}
    np_state, py_state = np.random.get_state(), random.getstate()
    first = rand.sample(space, 20, seed=123)
    assert first == rand.sample(space, 20, seed=123)
    assert first == rand.sample(space, 20, seed=np.random.default_rng(123))
    assert first != rand.sample(space, 20, seed=124)
    assert all(d["fixed"] == [1, 2] for d in first)
    assert list(first[0]) == ["lr", "depth", "act", "fixed"]
    assert random.getstate() == py_state
    after = np.random.get_state()
    assert after[0] == np_state[0] and (after[1] == np_state[1]).all()


@given(low=st.floats(-1e6, 1e6), width=st.floats(1e-3, 1e6), seed=st.integers(0, 2**32))
def test_uniform_stays_in_range(low, width, seed):
    value = rand.uniform(low, low + width).draw(np.random.default_rng(seed))
    assert low <= value <= low + width


@given(low=st.floats(1e-8, 1e3), factor=st.floats(1.001, 1e6), seed=st.integers(0, 2**32))
def test_loguniform_stays_in_range(low, factor, seed):
    value = rand.loguniform(low, low * factor).draw(np.random.default_rng(seed))
    assert low * (1 - 1e-12) <= value <= low * factor * (1 + 1e-12)


@given(low=st.integers(-50, 50), span=st.integers(0, 20), seed=st.integers(0, 2**32))
def test_ints_stay_in_range(low, span, seed):
    assert low <= rand.ints(low, low + span).draw(np.random.default_rng(seed)) <= low + span


@given(low=st.floats(-1e6, 1e6, allow_nan=False), drop=st.floats(0, 1e6))
def test_empty_or_reversed_ranges_are_refused(low, drop):
    with pytest.raises(MushinValueError, match=r"`high` must be greater than `low` = .*"
                                               r"Fix: give uniform\(low, high\) with low < high"):
        rand.uniform(low, low - drop)


@pytest.mark.parametrize("call, cls, match", [
    (lambda: rand.uniform(math.nan, 1), MushinValueError, r"`low` must be a finite number"),
    (lambda: rand.uniform("0", 1), MushinTypeError, r"`low` must be a real number, got '0'"),
    (lambda: rand.uniform(0, math.inf), MushinValueError, r"`high` must be a finite number"),
    (lambda: rand.loguniform(0, 1), MushinValueError, r"`low` must be a positive number, got 0 "
                                                      r".*a log scale needs low > 0"),
    (lambda: rand.loguniform(1e-3, 1e-4), MushinValueError, r"`high` must be greater than"),
    (lambda: rand.ints(1.5, 3), MushinTypeError, r"`low` must be an int, got 1.5"),
    (lambda: rand.ints(3, 1), MushinValueError, r"`high` must be at least `low` = 3, got 1"),
    (lambda: rand.oneof([]), MushinValueError, r"`values` must be a non-empty list of choices"),
    (lambda: rand.oneof("abc"), MushinTypeError, r"`values` must be a list of choices, got 'abc'"),
    (lambda: rand.oneof([1, 2], weights=[1]), MushinValueError, r"`weights` must be 2 non-neg"),
    (lambda: rand.oneof([1, 2], weights=[1, -1]), MushinValueError, r"`weights` must be 2"),
    (lambda: rand.sample({"a": 1}, 0, seed=0), MushinValueError, r"`n` must be a positive int"),
    (lambda: rand.sample({"a": 1}, 2, seed=None), MushinTypeError,
     r"`seed` must be a non-negative int or a numpy.random.Generator, got None.*Fix: pass an "
     r"explicit seed"),
    (lambda: rand.sample({"a": 1}, 2, seed=-1), MushinTypeError, r"`seed` must be a non-neg"),
    (lambda: rand.sample([1], 2, seed=0), MushinTypeError, r"`space` must be a mapping"),
])
def test_bad_input(call, cls, match):
    with pytest.raises(cls, match=match):
        call()
