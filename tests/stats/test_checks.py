"""Bad settings and inputs raise errors that name the argument and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from mushin_nb import stats
from mushin_nb.errors import MushinTypeError, MushinValueError


def test_bad_settings_and_inputs_raise_clear_errors():
    with pytest.raises(MushinValueError, match="`test` must be one of 'welch', 'student', "
                       "'mannwhitney', 'wilcoxon', 'paired-t', 'permutation', got 't'"):
        stats.check_settings("t")
    with pytest.raises(MushinValueError, match=r"`alpha` must be a float in \(0, 1\), got 5"):
        stats.check_settings(alpha=5)
    with pytest.raises(MushinTypeError, match="`alpha` must be a float"):
        stats.check_settings(alpha="0.05")
    with pytest.raises(MushinValueError, match="`pairs` must be one of 'all', 'reference'"):
        stats.check_settings(pairs="some")
    with pytest.raises(MushinValueError, match="`bootstrap` must be one of 'percentile', 'bca' "
                       "or None"):
        stats.check_settings(bootstrap="basic")
    with pytest.raises(MushinTypeError, match="`seed` must be a non-negative int"):
        stats.check_settings(seed=1.5)
    with pytest.raises(MushinValueError, match="`a` must be at least 2 scores"):
        stats.run_test([0.5], [0.4, 0.6])
    with pytest.raises(MushinValueError, match="`b` must be scores without NaN"):
        stats.run_test([0.5, 0.6], [0.4, float("nan")])
    with pytest.raises(MushinValueError, match="`b` must be as many scores as `a` \\(2\\) for "
                       "the paired test 'wilcoxon'"):
        stats.run_test([0.5, 0.6], [0.4, 0.5, 0.6], test="wilcoxon")
    with pytest.raises(MushinValueError, match="method 'b' has 1 score\\(s\\) for metric 'acc': "
                       "a test needs at least 2 seeds"):
        stats.compare_scores(np.array([[[0.5, 0.6]], [[0.5, np.nan]]]), methods=["a", "b"],
                             metrics=["acc"])
