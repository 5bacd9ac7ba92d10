"""Holm's adjusted p-values equal statsmodels'."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mushin_nb import stats
from tests.stats.conftest import holm_reference, same


@settings(max_examples=50, deadline=None)
@given(p=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=30))
def test_holm_equals_statsmodels(p):
    same(stats.holm(p), holm_reference(p), tol=1e-12)


def test_holm_leaves_undefined_p_values_out_of_the_family():
    p = [0.01, float("nan"), 0.04]
    same(stats.holm(p), [0.02, np.nan, 0.04])
