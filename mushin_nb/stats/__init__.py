"""Significance tests, Holm correction, confidence intervals and effect sizes over seeds.

Data contract: a *score* is one number per (method, metric, seed).  Single comparisons take
two 1-D arrays ``a`` and ``b`` (the seeds of method A and method B); the vectorised family
path :func:`compare_scores` takes an array of shape ``(method, metric, seed)`` where NaN marks
a missing seed.  Every number equals the reference library named in each docstring (scipy,
statsmodels); randomness comes only from an explicit seed or ``numpy.random.Generator``.

Examples
--------
>>> a = [0.91, 0.93, 0.92, 0.94, 0.95]
>>> b = [0.88, 0.87, 0.89, 0.90, 0.86]
>>> round(run_test(a, b, test="welch").pvalue, 6)
0.001053
>>> holm([0.01, 0.04, 0.03]).tolist()
[0.03, 0.06, 0.06]
>>> prob_improvement(a, b)
1.0
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value
from mushin_nb.stats._rng import as_generator

__all__ = [
    "COMPARISON_COLUMNS",
    "SUMMARY_COLUMNS",
    "TESTS",
    "MushinWarning",
    "TestResult",
    "bootstrap_ci",
    "check_settings",
    "compare_scores",
    "diff_ci",
    "hedges_g",
    "holm",
    "mean_ci",
    "min_p_value",
    "prob_improvement",
    "run_test",
]

#: Names accepted by ``test=``; the first is the default.
TESTS = ("welch", "student", "mannwhitney", "wilcoxon", "paired-t", "permutation")
PAIRED_TESTS = frozenset({"wilcoxon", "paired-t"})
BOOTSTRAPS = ("percentile", "bca")
PAIRS = ("all", "reference")
#: Columns of ``BenchmarkResult.comparisons`` (DESIGN section 2), in order.
COMPARISON_COLUMNS = (
    "metric", "method_a", "method_b", "mean_a", "mean_b", "diff", "diff_ci_low",
    "diff_ci_high", "statistic", "p_value", "p_holm", "significant", "effect_size",
    "prob_improvement", "test", "n_a", "n_b",
)
#: Columns of ``BenchmarkResult.summary()`` (DESIGN section 2), in order.
SUMMARY_COLUMNS = ("method", "metric", "mean", "ci_low", "ci_high", "significant_vs_ref")


class MushinWarning(UserWarning):
    """A result is valid but weaker than it looks (too few seeds, ties, zero variance)."""


class TestResult(NamedTuple):
    """Statistic and two-sided p-value of one test."""

    __test__ = False  # not a pytest test class despite the name

    statistic: float
    pvalue: float


# ----------------------------------------------------------------------------- validation


def check_settings(test: str = "welch", alpha: float = 0.05, pairs: str = "all",
                   bootstrap: str | None = None, seed: Any = 0) -> None:
    """Validate the statistics options shared by ``compare`` and ``from_dataset``.

    Raises
    ------
    MushinValueError, MushinTypeError
        Naming the option, showing the value and listing the accepted ones.

    Examples
    --------
    >>> check_settings("welch", 0.05)
    >>> check_settings("t-test")
    Traceback (most recent call last):
    ...
    mushin_nb.errors.MushinValueError: `test` must be one of 'welch', 'student', ...
    """
    _choice("test", test, TESTS)
    _choice("pairs", pairs, PAIRS)
    if bootstrap is not None:
        _choice("bootstrap", bootstrap, BOOTSTRAPS, extra="or None")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise bad_value("alpha", alpha, "a float in (0, 1)", "use e.g. alpha=0.05",
                        cls=MushinTypeError)
    if not 0 < alpha < 1:
        raise bad_value("alpha", alpha, "a float in (0, 1)", "use e.g. alpha=0.05")
    as_generator(seed)


def _choice(arg: str, value: Any, known: Sequence[str], extra: str = "") -> None:
    if not isinstance(value, str) or value not in known:
        names = ", ".join(repr(k) for k in known)
        raise bad_value(arg, value, f"one of {names}{' ' + extra if extra else ''}",
                        f"pick one of the listed names, e.g. {arg}={known[0]!r}")


def _sample(arg: str, values: Any, minimum: int = 2) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise bad_value(arg, values, "a 1-D sequence of numbers", cls=MushinTypeError) from None
    if x.ndim != 1:
        raise bad_value(arg, values, "a 1-D sequence of numbers (one score per seed)")
    if np.isnan(x).any():
        raise bad_value(arg, values, "scores without NaN",
                        "drop the missing seeds before testing")
    if x.size < minimum:
        raise bad_value(arg, values, f"at least {minimum} scores (one per seed)",
                        "run more seeds: a test needs a spread to compare")
    return x


def _confidence(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) \
            or not 0 < confidence < 1:
        raise bad_value("confidence", confidence, "a float in (0, 1)", "use e.g. 0.95")
    return float(confidence)


# ----------------------------------------------------------------------------- tests


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


# ----------------------------------------------------------------------------- corrections


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values of one family of tests.

    Equal to ``statsmodels.stats.multitest.multipletests(p, method="holm")[1]``.  NaN
    p-values (undefined tests) are left out of the family and stay NaN.

    Examples
    --------
    >>> holm([0.01, 0.02, float("nan")]).tolist()
    [0.02, 0.02, nan]
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise bad_value("p_values", p_values, "a 1-D sequence of p-values")
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m:
        valid = p[ok]
        order = np.argsort(valid, kind="mergesort")
        stepped = np.maximum.accumulate(valid[order] * np.arange(m, 0, -1))
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(stepped, 1.0)
        out[ok] = adjusted
    return out


# ----------------------------------------------------------------------------- intervals


def _t_mean_rows(x: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy import stats

    n = x.shape[-1]
    m = x.mean(axis=-1)
    with np.errstate(all="ignore"):
        return stats.t.interval(confidence, n - 1, loc=m, scale=stats.sem(x, axis=-1))


def mean_ci(x: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval for the mean of per-seed scores.

    Equal to ``scipy.stats.t.interval(confidence, n - 1, loc=mean, scale=sem)``.

    Examples
    --------
    >>> [round(v, 4) for v in mean_ci([1.0, 2.0, 3.0])]
    [-0.4841, 4.4841]
    """
    low, high = _t_mean_rows(_sample("x", x)[None], _confidence(confidence))
    return float(low[0]), float(high[0])


def _t_diff_rows(kind: str, a: np.ndarray, b: np.ndarray, confidence: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    from scipy import stats

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if kind == "paired":
            res = stats.ttest_rel(a, b, axis=-1)
        else:
            res = stats.ttest_ind(a, b, axis=-1, equal_var=kind == "student")
        ci = res.confidence_interval(confidence)
    return np.atleast_1d(ci.low), np.atleast_1d(ci.high)


def diff_ci(a: Sequence[float], b: Sequence[float], *, kind: str = "welch",
            confidence: float = 0.95) -> tuple[float, float]:
    """t-interval for ``mean(a) - mean(b)``.

    ``kind="welch"``: Welch-Satterthwaite interval, ``"student"``: pooled variance,
    ``"paired"``: interval of the mean paired difference.  Equal to
    ``scipy.stats.ttest_ind(a, b, equal_var=...).confidence_interval(confidence)`` and
    ``ttest_rel(a, b).confidence_interval(confidence)``.

    Examples
    --------
    >>> low, high = diff_ci([3.0, 4.0, 5.0], [1.0, 2.0, 3.0])
    >>> low < 2.0 < high
    True
    """
    _choice("kind", kind, ("welch", "student", "paired"))
    x, y = _sample("a", a), _sample("b", b)
    if kind == "paired" and x.size != y.size:
        raise bad_value("b", b, f"as many scores as `a` ({x.size})", "pair by seed")
    low, high = _t_diff_rows(kind, x[None], y[None], _confidence(confidence))
    return float(low[0]), float(high[0])


def _jackknife_accel(u: list[np.ndarray]) -> np.ndarray:
    """BCa acceleration from jackknife influence values ``u`` (one (r, n_j) array per sample).

    For a difference of means the influence values are closed-form (``x - mean(x)``), which
    is what scipy's leave-one-out loop computes.
    """
    with np.errstate(all="ignore"):
        num = sum((ui**3).sum(axis=-1) / ui.shape[-1] ** 3 for ui in u)
        den = sum((ui**2).sum(axis=-1) / ui.shape[-1] ** 2 for ui in u)
        return num / (6.0 * den**1.5)


def _interval_rows(theta_b: np.ndarray, theta: np.ndarray, accel: np.ndarray | None,
                   confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile (``accel is None``) or BCa interval per row, as scipy.stats.bootstrap.

    ``theta_b`` (rows, reps) is sorted in place.  Returns low, high and a mask of rows whose
    BCa interval is undefined (degenerate bootstrap distribution); those rows get the
    percentile interval.
    """
    from scipy import special

    alpha = (1.0 - confidence) / 2.0
    rows, reps = theta_b.shape
    theta_b.sort(axis=-1)  # one sort serves the percentile of the score and the quantiles
    q = np.tile([alpha, 1.0 - alpha], (rows, 1))
    bad = np.zeros(rows, dtype=bool)
    if accel is not None:
        below_upto = np.array([(np.searchsorted(row, t, "left"), np.searchsorted(row, t, "right"))
                               for row, t in zip(theta_b, theta)]).reshape(rows, 2)
        with np.errstate(all="ignore"):
            z0 = special.ndtri(below_upto.sum(axis=-1) / (2.0 * reps))
            z = special.ndtri(alpha)
            n1, n2 = z0 + z, z0 - z
            q_bca = np.stack([special.ndtr(z0 + n1 / (1 - accel * n1)),
                              special.ndtr(z0 + n2 / (1 - accel * n2))], axis=-1)
        bad = ~np.isfinite(q_bca).all(axis=-1)
        q = np.where(bad[:, None], q, q_bca)
    ci = _sorted_quantiles(theta_b, q)
    constant = theta_b[:, -1] == theta_b[:, 0]
    low = np.where(constant, theta_b[:, 0], ci[:, 0])
    high = np.where(constant, theta_b[:, 0], ci[:, 1])
    return low, high, bad & ~constant


def _sorted_quantiles(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Quantiles ``p`` (rows, k) of sorted rows ``y``: scipy.stats.quantile's "linear" rule."""
    n = y.shape[-1]
    jg = p * n + (1 - p)
    jp1 = jg // 1
    j = jp1 - 1
    g = np.where(j < 0, 0.0, jg % 1)
    j = np.clip(j, 0, n - 1).astype(np.intp)
    jp1 = np.clip(jp1, 0, n - 1).astype(np.intp)
    return (1 - g) * np.take_along_axis(y, j, axis=-1) + g * np.take_along_axis(y, jp1, axis=-1)


def bootstrap_ci(a: Sequence[float], b: Sequence[float] | None = None, *,
                 method: str = "bca", paired: bool = False, confidence: float = 0.95,
                 n_resamples: int = 10_000, rng: Any = 0) -> tuple[float, float]:
    """Bootstrap interval for ``mean(a)``, or for ``mean(a) - mean(b)`` when ``b`` is given.

    Equal to ``scipy.stats.bootstrap`` with the same ``method`` (``"percentile"`` or
    ``"bca"``), ``paired``, ``n_resamples``, ``confidence_level`` and
    ``rng=numpy.random.default_rng(rng)``: the same seed gives the same interval.  A
    distribution with a single value gives that value as both ends (scipy gives NaN); a
    BCa interval that is undefined falls back to the percentile one, with a warning.

    Parameters
    ----------
    a, b : sequence of float
        Per-seed scores; with ``paired=True`` ``a[i]`` and ``b[i]`` come from seed ``i``.
    method : {"bca", "percentile"}
        Interval type.
    paired : bool
        Resample seeds jointly (paired data) instead of each sample on its own.
    confidence : float
        Confidence level.
    n_resamples : int
        Bootstrap resamples.
    rng : int or numpy.random.Generator
        Source of randomness; an int is a seed.

    Examples
    --------
    >>> ci = bootstrap_ci([0.90, 0.92, 0.91, 0.95], [0.85, 0.86, 0.88, 0.84], rng=0)
    >>> ci == bootstrap_ci([0.90, 0.92, 0.91, 0.95], [0.85, 0.86, 0.88, 0.84], rng=0)
    True
    >>> ci[0] > 0
    True
    """
    _choice("method", method, BOOTSTRAPS)
    confidence = _confidence(confidence)
    gen = as_generator(rng, "rng")
    x = _sample("a", a)
    if b is None:
        idx = gen.integers(0, x.size, (n_resamples, x.size))
        theta_b = x[idx].mean(axis=-1)[None]
        theta, u = np.array([x.mean()]), [(x - x.mean())[None]]
    else:
        y = _sample("b", b)
        if paired:
            if x.size != y.size:
                raise bad_value("b", b, f"as many scores as `a` ({x.size}) when paired=True",
                                "pair the scores by seed")
            idx = gen.integers(0, x.size, (n_resamples, x.size))
            idy = idx
            d = x - y
            u = [(d - d.mean())[None]]
        else:
            idx = gen.integers(0, x.size, (n_resamples, x.size))
            idy = gen.integers(0, y.size, (n_resamples, y.size))
            u = [(x - x.mean())[None], (y.mean() - y)[None]]
        theta_b = (x[idx].mean(axis=-1) - y[idy].mean(axis=-1))[None]
        theta = np.array([x.mean() - y.mean()])
    accel = _jackknife_accel(u) if method == "bca" else None
    low, high, bad = _interval_rows(theta_b, theta, accel, confidence)
    if bad.any():
        warnings.warn("the BCa interval is undefined for these scores (degenerate bootstrap "
                      "distribution); the percentile interval is given instead",
                      MushinWarning, stacklevel=2)
    return float(low[0]), float(high[0])


# ----------------------------------------------------------------------------- effect sizes


def _hedges_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = a.shape[-1], b.shape[-1]
    pooled = ((na - 1) * a.var(axis=-1, ddof=1) + (nb - 1) * b.var(axis=-1, ddof=1)) / (
        na + nb - 2)
    with np.errstate(all="ignore"):
        d = (a.mean(axis=-1) - b.mean(axis=-1)) / np.sqrt(pooled)
    return d * (1.0 - 3.0 / (4.0 * (na + nb) - 9.0))


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float:
    """Hedges' g: standardised mean difference with the small-sample correction.

    ``(mean(a) - mean(b)) / s_pooled * (1 - 3 / (4 (n_a + n_b) - 9))``, equal to the first
    value of ``statsmodels.stats.meta_analysis.effectsize_smd``.  Zero pooled variance gives
    ``inf`` (or NaN when the means are equal too).

    Examples
    --------
    >>> round(hedges_g([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]), 4)
    0.8
    """
    return float(_hedges_rows(_sample("a", a)[None], _sample("b", b)[None])[0])


def _prob_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = a[:, :, None] - b[:, None, :]
    wins = (diff > 0).sum(axis=(1, 2)) + 0.5 * (diff == 0).sum(axis=(1, 2))
    return wins / (a.shape[-1] * b.shape[-1])


def prob_improvement(a: Sequence[float], b: Sequence[float]) -> float:
    """Probability of improvement P(A > B) = U / (n_a n_b), ties counting one half.

    ``U`` is scipy's ``mannwhitneyu(a, b).statistic``: the share of (seed of A, seed of B)
    pairs where A scores higher.

    Examples
    --------
    >>> prob_improvement([1.0, 3.0], [2.0, 2.0])
    0.5
    """
    return float(_prob_rows(_sample("a", a, 1)[None], _sample("b", b, 1)[None])[0])


# ----------------------------------------------------------------------------- the family


class _Row(NamedTuple):
    metric: int
    a: int
    b: int


def _pairs(n_methods: int, pairs: str, reference: int) -> list[tuple[int, int]]:
    if pairs == "reference":
        return [(m, reference) for m in range(n_methods) if m != reference]
    return [(i, j) for i in range(n_methods) for j in range(i + 1, n_methods)]


class _Resampler:
    """Bootstrap index draws, made in a fixed order so the same seed gives the same draws.

    Unpaired: one draw per method (in method order), so the first pair of methods gets
    exactly the draws scipy.stats.bootstrap makes.  Paired: one draw per sample size, shared
    by all methods, so every pair is resampled by seed jointly as scipy does with
    ``paired=True``.
    """

    def __init__(self, rng: np.random.Generator, reps: int, paired: bool) -> None:
        self.rng, self.reps, self.paired = rng, reps, paired
        self._draws: dict[tuple[int, ...], np.ndarray] = {}

    def indices(self, method: int, n: int) -> np.ndarray:
        key = (n,) if self.paired else (method, n)
        if key not in self._draws:
            self._draws[key] = self.rng.integers(0, n, (self.reps, n))
        return self._draws[key]


def compare_scores(scores: Any, *, methods: Sequence[str], metrics: Sequence[str],
                   seeds: Sequence[Any] | None = None, test: str = "welch",
                   alpha: float = 0.05, pairs: str = "all", reference: int = 0,
                   bootstrap: str | None = None, seed: Any = 0, n_resamples: int = 10_000,
                   n_permutations: int = 9999) -> tuple[Any, Any]:
    """Every comparison of a study at once: tests, Holm, intervals and effect sizes.

    Vectorised over (method pair, metric): 10 methods x 6 metrics x 10 seeds with 10k BCa
    bootstrap resamples take well under half a second.

    Parameters
    ----------
    scores : array-like, shape (method, metric, seed)
        Per-seed scores; NaN marks a seed a method does not have.
    methods, metrics : sequence of str
        Labels of the first two axes.
    seeds : sequence, optional
        Seed ids of the last axis (for messages about unpaired data).
    test : str
        One of :data:`TESTS` (see :func:`run_test`); paired tests pair scores by seed.
    alpha : float
        Significance level after Holm; intervals have confidence ``1 - alpha``.
    pairs : {"all", "reference"}
        The family of one metric: all pairs ``(methods[i], methods[j]), i < j``, or each
        method against ``reference`` (``method_a`` = the method, ``method_b`` = reference).
    reference : int
        Index of the reference method.
    bootstrap : {None, "percentile", "bca"}
        None: t-intervals (:func:`diff_ci`, :func:`mean_ci`; paired tests use the paired
        interval, ``student`` the pooled one, others Welch's).  Otherwise bootstrap
        intervals as :func:`bootstrap_ci`, from one ``numpy.random.default_rng(seed)``.
    seed : int or numpy.random.Generator
        Randomness of the bootstrap and the permutation test.
    n_resamples, n_permutations : int
        Bootstrap resamples; permutations of the permutation test.

    Returns
    -------
    comparisons, summary : pandas.DataFrame
        Columns :data:`COMPARISON_COLUMNS` (one row per metric and pair, metric-major) and
        :data:`SUMMARY_COLUMNS` (one row per method and metric, method-major; "*" where a
        method differs from the reference after Holm).

    Warns
    -----
    MushinWarning
        When a test can never reach ``alpha`` with these seeds, when a method's scores have
        zero variance, and when ties make scipy use the normal approximation.

    Examples
    --------
    >>> s = np.array([[[0.90, 0.91, 0.92]], [[0.80, 0.82, 0.81]]])
    >>> comp, summ = compare_scores(s, methods=["a", "b"], metrics=["acc"])
    >>> bool(comp.loc[0, "significant"]), summ["significant_vs_ref"].tolist()
    (True, ['', '*'])
    """
    check_settings(test, alpha, pairs, bootstrap, seed)
    x = np.asarray(scores, dtype=float)
    if x.ndim != 3 or x.shape[0] != len(methods) or x.shape[1] != len(metrics):
        raise bad_value("scores", x.shape, f"an array of shape ({len(methods)} methods, "
                        f"{len(metrics)} metrics, seeds)")
    seeds = list(range(x.shape[2])) if seeds is None else list(seeds)
    counts = (~np.isnan(x)).sum(axis=2)
    if (counts < 2).any():
        m, k = np.argwhere(counts < 2)[0]
        raise MushinValueError(
            f"method {methods[m]!r} has {counts[m, k]} score(s) for metric {metrics[k]!r}: "
            "a test needs at least 2 seeds per method. Fix: run at least 2 seeds (5 or "
            "more for a useful test).")
    confidence = 1.0 - float(alpha)
    rng = as_generator(seed)
    paired = test in PAIRED_TESTS
    rows = [_Row(k, i, j) for k in range(x.shape[1])
            for i, j in _pairs(x.shape[0], pairs, reference)]
    if paired:
        _check_paired(x, rows, methods, metrics, seeds, test)
    notes = _Notes(test, alpha, methods, metrics)
    resampler = _Resampler(rng, n_resamples, paired) if bootstrap else None
    boot = _boot_means(x, resampler) if resampler else None
    # an int seed gives each permutation test a fresh default_rng(seed), as scipy's own call
    perm_seed = rng if isinstance(seed, np.random.Generator) else seed
    cols = _row_stats(x, rows, test, confidence, bootstrap, boot, perm_seed, n_permutations,
                      notes)
    n_methods, n_metrics = x.shape[:2]
    p_holm = np.full(len(rows), np.nan)
    for k in range(n_metrics):
        family = [r for r, row in enumerate(rows) if row.metric == k]
        p_holm[family] = holm(cols["p_value"][family])
    significant = np.nan_to_num(p_holm, nan=1.0) < alpha
    comparisons = _frame({
        "metric": [metrics[r.metric] for r in rows],
        "method_a": [methods[r.a] for r in rows],
        "method_b": [methods[r.b] for r in rows],
        **{c: cols[c] for c in COMPARISON_COLUMNS[3:10]},
        "p_holm": p_holm, "significant": significant,
        "effect_size": cols["effect_size"], "prob_improvement": cols["prob_improvement"],
        "test": [test] * len(rows), "n_a": cols["n_a"], "n_b": cols["n_b"],
    }, COMPARISON_COLUMNS)
    summary = _summary(x, methods, metrics, rows, significant, reference, confidence,
                       bootstrap, boot)
    notes.emit()
    return comparisons, summary


def _check_paired(x: np.ndarray, rows: list[_Row], methods: Sequence[str],
                  metrics: Sequence[str], seeds: list[Any], test: str) -> None:
    for row in rows:
        va, vb = ~np.isnan(x[row.a, row.metric]), ~np.isnan(x[row.b, row.metric])
        if (va != vb).any():
            only_a = [seeds[s] for s in np.flatnonzero(va & ~vb)]
            only_b = [seeds[s] for s in np.flatnonzero(vb & ~va)]
            raise MushinValueError(
                f"test={test!r} pairs scores by seed id, but methods {methods[row.a]!r} and "
                f"{methods[row.b]!r} do not share their seeds for metric "
                f"{metrics[row.metric]!r}: only {methods[row.a]!r} has seeds {only_a}, only "
                f"{methods[row.b]!r} has seeds {only_b}. Fix: give every method the same "
                "seed ids, or use an unpaired test such as test='welch'.")


def _boot_means(x: np.ndarray, resampler: _Resampler) -> np.ndarray:
    """Bootstrap distribution of the mean of every (method, metric): shape (M, K, reps).

    One 1-D gather per cell, the very arithmetic of scipy.stats.bootstrap, so a resample
    that ties the observed mean ties it here too.
    """
    out = np.empty(x.shape[:2] + (resampler.reps,))
    for m in range(x.shape[0]):
        for k in range(x.shape[1]):
            v = x[m, k][~np.isnan(x[m, k])]
            out[m, k] = v[resampler.indices(m, v.size)].mean(axis=-1)
    return out


class _Notes:
    """Collects the warnings of a family so each kind is issued once, listing its cases."""

    def __init__(self, test: str, alpha: float, methods: Sequence[str],
                 metrics: Sequence[str]) -> None:
        self.test, self.alpha, self.methods, self.metrics = test, alpha, methods, metrics
        self.floor: dict[tuple[int, int], float] = {}
        self.constant: set[tuple[int, int]] = set()
        self.ties: list[_Row] = []
        self.bca: list[_Row] = []

    def emit(self) -> None:
        if self.floor:
            sizes = ", ".join(f"{na} vs {nb} seeds: p >= {p:.4g}"
                              for (na, nb), p in sorted(self.floor.items()))
            warnings.warn(
                f"test={self.test!r} can never give p < alpha={self.alpha} here ({sizes}), so "
                "no difference can be significant. Fix: run more seeds, or use a t-test "
                "(test='welch' or 'paired-t').", MushinWarning, stacklevel=3)
        if self.constant:
            cells = ", ".join(f"{self.methods[m]!r}/{self.metrics[k]!r}"
                              for m, k in sorted(self.constant))
            warnings.warn(
                f"zero variance: every seed gives the same score for {cells}; t-tests and "
                "effect sizes are undefined or infinite there (NaN p-values are left out of "
                "Holm).", MushinWarning, stacklevel=3)
        if self.ties:
            cases = ", ".join(sorted({f"{self.metrics[r.metric]!r}: {self.methods[r.a]!r} vs "
                                      f"{self.methods[r.b]!r}" for r in self.ties}))
            warnings.warn(
                f"ties in the scores of {cases}: scipy's {self.test} test cannot use its "
                "exact distribution there and switches method (normal approximation or "
                "permutations, zero differences dropped); treat borderline p-values with care.",
                MushinWarning, stacklevel=3)
        if self.bca:
            warnings.warn(
                f"the BCa interval is undefined for {len(self.bca)} comparison(s) "
                "(degenerate bootstrap distribution); the percentile interval is given "
                "there instead.", MushinWarning, stacklevel=3)


def _row_stats(x: np.ndarray, rows: list[_Row], test: str, confidence: float,
               bootstrap: str | None, boot: np.ndarray | None, perm_seed: Any,
               n_permutations: int, notes: _Notes) -> dict[str, np.ndarray]:
    """Fill every per-comparison column, one vectorised call per group of equal sizes."""
    names = ("mean_a", "mean_b", "diff", "diff_ci_low", "diff_ci_high", "statistic",
             "p_value", "effect_size", "prob_improvement", "accel")
    cols = {c: np.full(len(rows), np.nan) for c in names}
    cols["n_a"] = np.zeros(len(rows), dtype=np.int64)
    cols["n_b"] = np.zeros(len(rows), dtype=np.int64)
    for members, a, b in _groups(x, rows):
        na, nb = a.shape[-1], b.shape[-1]
        cols["n_a"][members], cols["n_b"][members] = na, nb
        cols["mean_a"][members], cols["mean_b"][members] = a.mean(-1), b.mean(-1)
        cols["diff"][members] = a.mean(-1) - b.mean(-1)
        stat, p = _test_rows(test, a, b, perm_seed, n_permutations)
        cols["statistic"][members], cols["p_value"][members] = stat, p
        cols["effect_size"][members] = _hedges_rows(a, b)
        cols["prob_improvement"][members] = _prob_rows(a, b)
        if not bootstrap:
            kind = "paired" if test in PAIRED_TESTS else (
                "student" if test == "student" else "welch")
            low, high = _t_diff_rows(kind, a, b, confidence)
            cols["diff_ci_low"][members], cols["diff_ci_high"][members] = low, high
        elif bootstrap == "bca":
            d = a - b if test in PAIRED_TESTS else None
            u = [d - d.mean(-1, keepdims=True)] if d is not None else [
                a - a.mean(-1, keepdims=True), b.mean(-1, keepdims=True) - b]
            cols["accel"][members] = _jackknife_accel(u)
        floor = min_p_value(test, na, nb, n_permutations)
        if floor >= notes.alpha:
            notes.floor[(na, nb)] = floor
        for r in np.asarray(members)[np.ptp(a, axis=-1) == 0]:
            notes.constant.add((rows[r].a, rows[r].metric))
        for r in np.asarray(members)[np.ptp(b, axis=-1) == 0]:
            notes.constant.add((rows[r].b, rows[r].metric))
        if test in ("mannwhitney", "wilcoxon"):
            notes.ties.extend(rows[r] for r, ar, br in zip(members, a, b)
                              if _has_ties(test, ar, br))
    if bootstrap and rows:
        ia, ib, k = (np.array(v) for v in zip(*((r.a, r.b, r.metric) for r in rows)))
        accel = cols["accel"] if bootstrap == "bca" else None
        low, high, bad = _interval_rows(boot[ia, k] - boot[ib, k], cols["diff"], accel,
                                        confidence)
        cols["diff_ci_low"], cols["diff_ci_high"] = low, high
        notes.bca.extend(rows[r] for r in np.flatnonzero(bad))
    return cols


def _groups(x: np.ndarray, rows: list[_Row]) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
    """Rows grouped by (n_a, n_b) after dropping missing seeds, as stacked 2-D arrays."""
    if not np.isnan(x).any():  # the usual case: one group, gathered at once
        ia, ib, k = (np.array([getattr(r, f) for r in rows], dtype=np.intp)
                     for f in ("a", "b", "metric"))
        return [(list(range(len(rows))), x[ia, k], x[ib, k])] if rows else []
    values: dict[tuple[int, int], tuple[list[int], list, list]] = {}
    for r, row in enumerate(rows):
        a, b = x[row.a, row.metric], x[row.b, row.metric]
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        members, sa, sb = values.setdefault((a.size, b.size), ([], [], []))
        members.append(r)
        sa.append(a)
        sb.append(b)
    return [(m, np.stack(sa), np.stack(sb)) for m, sa, sb in values.values()]


def _has_ties(test: str, a: np.ndarray, b: np.ndarray) -> bool:
    if test == "mannwhitney":
        both = np.concatenate([a, b])
        return np.unique(both).size < both.size and (a.size <= 8 or b.size <= 8)
    d = np.abs(a - b)
    return bool((d == 0).any() or np.unique(d).size < d.size) and d.size <= 50


def _summary(x: np.ndarray, methods: Sequence[str], metrics: Sequence[str], rows: list[_Row],
             significant: np.ndarray, reference: int, confidence: float,
             bootstrap: str | None, boot: np.ndarray | None) -> Any:
    n_methods, n_metrics = x.shape[:2]
    cells = [(m, k) for m in range(n_methods) for k in range(n_metrics)]
    flat = x.reshape(len(cells), -1)
    means = np.nanmean(flat, axis=-1)
    low, high = np.full(len(cells), np.nan), np.full(len(cells), np.nan)
    for n in np.unique((~np.isnan(flat)).sum(-1)):
        members = np.flatnonzero((~np.isnan(flat)).sum(-1) == n)
        v = np.stack([flat[i][~np.isnan(flat[i])] for i in members])
        means[members] = v.mean(-1)  # the same arithmetic as the bootstrap's statistic
        if bootstrap:
            accel = _jackknife_accel([v - v.mean(-1, keepdims=True)]) \
                if bootstrap == "bca" else None
            low[members], high[members], _ = _interval_rows(
                boot.reshape(len(cells), -1)[members], means[members], accel, confidence)
        else:
            low[members], high[members] = _t_mean_rows(v, confidence)
    mark = {}
    for r, row in enumerate(rows):
        if reference in (row.a, row.b):
            other = row.b if row.a == reference else row.a
            mark[(other, row.metric)] = "*" if significant[r] else ""
    return _frame({
        "method": [methods[m] for m, _ in cells],
        "metric": [metrics[k] for _, k in cells],
        "mean": means, "ci_low": low, "ci_high": high,
        "significant_vs_ref": [mark.get(c, "") for c in cells],
    }, SUMMARY_COLUMNS)


#: dtype of every column of the two tables, so a saved and re-loaded table is identical
COLUMN_DTYPES = {
    "metric": str, "method_a": str, "method_b": str, "method": str, "test": str,
    "significant_vs_ref": str, "significant": bool, "n_a": np.int64, "n_b": np.int64,
}


def _frame(columns: dict[str, Any], order: Sequence[str]) -> Any:
    """Build a table with fixed column order and dtypes (strings as Python ``str``)."""
    import pandas as pd

    data = {}
    for name in order:
        kind = COLUMN_DTYPES.get(name, np.float64)
        values = columns[name]
        if kind is str:
            data[name] = np.array([str(v) for v in values], dtype=object)
        else:
            data[name] = np.asarray(values, dtype=kind)
    return pd.DataFrame(data, columns=list(order))

