"""Two-sided significance tests of two samples of per-seed scores, as scipy runs them."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from mushin_nb.errors import bad_value
from mushin_nb.stats._checks import PAIRED_TESTS, _sample, check_settings
from mushin_nb.stats._rng import as_generator


class TestResult(NamedTuple):
    """Statistic and two-sided p-value of one test."""

    __test__ = False  # not a pytest test class despite the name

    statistic: float
    pvalue: float


def _test_rows(test: str, a: np.ndarray, b: np.ndarray, seed: Any,
               n_resamples: int) -> tuple[np.ndarray, np.ndarray]:
    """Run ``test`` on every row of ``a`` (r, n_a) against ``b`` (r, n_b), as scipy does."""
    from scipy import stats

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # scipy's own precision/ties warnings are re-issued as one MushinWarning by callers
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        if test in ("welch", "student"):
            res = stats.ttest_ind(a, b, axis=-1, equal_var=test == "student")
        elif test == "paired-t":
            res = stats.ttest_rel(a, b, axis=-1)
        elif test in ("mannwhitney", "wilcoxon"):
            # row by row: scipy picks exact/asymptotic from ties anywhere in its input
            fn = stats.mannwhitneyu if test == "mannwhitney" else stats.wilcoxon
            res = [fn(x, y) for x, y in zip(a, b)]
            return (np.array([r.statistic for r in res], float),
                    np.array([r.pvalue for r in res], float))
        else:  # permutation: difference in means, independent samples
            res = stats.permutation_test(
                (a, b), _mean_diff, vectorized=True, n_resamples=n_resamples, axis=-1,
                alternative="two-sided", rng=as_generator(seed))
    return np.atleast_1d(np.asarray(res.statistic, float)), np.atleast_1d(
        np.asarray(res.pvalue, float))


def _mean_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def run_test(a: Sequence[float], b: Sequence[float], test: str = "welch", *, seed: Any = 0,
             n_resamples: int = 9999) -> TestResult:
    """Two-sided test of "A and B score the same" on per-seed scores.

    The statistic and p-value are scipy's: ``welch`` = ``ttest_ind(equal_var=False)``,
    ``student`` = ``ttest_ind``, ``paired-t`` = ``ttest_rel``, ``mannwhitney`` =
    ``mannwhitneyu`` (method ``"auto"``), ``wilcoxon`` = ``wilcoxon(a, b)``,
    ``permutation`` = ``permutation_test`` on the difference of
    means with ``n_resamples`` and ``rng=numpy.random.default_rng(seed)``.

    Parameters
    ----------
    a, b : sequence of float
        One score per seed.  Paired tests need ``a[i]`` and ``b[i]`` from the same seed.
    test : str
        One of :data:`TESTS`.
    seed : int or numpy.random.Generator
        Randomness of the permutation test.
    n_resamples : int
        Permutations of the permutation test (exact when there are fewer partitions).

    Returns
    -------
    TestResult
        ``(statistic, pvalue)``.

    Examples
    --------
    >>> run_test([1.0, 2.0, 3.0], [4.0, 5.0, 6.5], test="student").pvalue < 0.05
    True
    """
    check_settings(test)
    x, y = _sample("a", a), _sample("b", b)
    if test in PAIRED_TESTS and x.size != y.size:
        raise bad_value("b", b, f"as many scores as `a` ({x.size}) for the paired test "
                        f"{test!r}", "pair the scores by seed, or use test='welch'")
    stat, p = _test_rows(test, x[None], y[None], seed, n_resamples)
    return TestResult(float(stat[0]), float(p[0]))


@functools.lru_cache(maxsize=256)
def min_p_value(test: str, n_a: int, n_b: int, n_resamples: int = 9999) -> float:
    """Smallest two-sided p-value ``test`` can give with ``n_a`` and ``n_b`` seeds.

    Computed by scipy on perfectly separated scores, so it is the floor of the test as
    scipy runs it (exact Wilcoxon with 5 pairs: 2 / 2**5 = 0.0625).  The t-tests have no
    floor above 0.

    Examples
    --------
    >>> min_p_value("wilcoxon", 5, 5)
    0.0625
    >>> min_p_value("welch", 2, 2)
    0.0
    """
    check_settings(test)
    if test in ("welch", "student", "paired-t"):
        return 0.0
    b = np.arange(n_b, dtype=float)
    a = np.arange(n_a, dtype=float) + n_b + 1.0
    if test == "wilcoxon":  # distinct positive differences 1..n
        a = b + np.arange(1, n_b + 1, dtype=float)
    _, p = _test_rows(test, a[None], b[None], 0, n_resamples)
    return float(p[0])
