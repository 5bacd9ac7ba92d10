"""The tests' statistics and p-values, and their floors, equal scipy's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mushin_nb import stats
from tests.stats.conftest import same, scipy_test, scores


@settings(max_examples=25, deadline=None)
@given(a=scores, b=scores, test=st.sampled_from(stats.TESTS), seed=st.integers(0, 1000))
def test_every_test_gives_scipys_statistic_and_p_value(a, b, test, seed):
    if test in stats.PAIRED_TESTS:
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = scipy_test(test, np.array(a), np.array(b), seed)
    ours = stats.run_test(a, b, test=test, seed=seed)
    same(ours.pvalue, ref.pvalue)
    same(ours.statistic, ref.statistic)


@pytest.mark.parametrize(("test", "n", "floor"), [
    ("wilcoxon", 5, 2 / 2**5), ("wilcoxon", 6, 2 / 2**6), ("mannwhitney", 3, 2 / 20),
    ("mannwhitney", 4, 2 / 70), ("permutation", 3, 2 / 20), ("welch", 2, 0.0)])
def test_min_p_value_is_the_floor_of_the_exact_test(test, n, floor):
    assert stats.min_p_value(test, n, n) == pytest.approx(floor)
