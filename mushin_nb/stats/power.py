"""The seed planner: power, seeds needed and the detectable effect of each test.

Effects and standard deviations are in the metric's own units: ``effect`` is the true
difference of the means of A and B, ``sd`` the spread of one method's scores over seeds
(a pair ``(sd_a, sd_b)`` for unequal spreads), or of the paired differences for a paired test.
The t-tests are analytic: ``student`` and ``paired-t`` use the noncentral t, as
``statsmodels.stats.power.TTestIndPower`` and ``TTestPower``; ``welch`` integrates the
noncentral normal over the sampling distributions of both variances (Gauss-Laguerre
quadrature, 48 nodes each), so its power is that of Welch's test with the
Welch-Satterthwaite degrees of freedom, exact up to the quadrature, for unequal spreads too.
``mannwhitney``, ``wilcoxon`` and ``permutation`` are simulated on normal scores with one
seeded ``numpy.random.Generator`` and report their Monte Carlo standard error.

Examples
--------
>>> seeds_needed(0.01, 0.01, test="student").n
17
>>> round(detectable_effect(10, 0.01, test="student").effect, 5)
0.01325
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from typing import Any, NamedTuple

import numpy as np

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.stats._rng import as_generator

__all__ = ["DetectableEffect", "Power", "SeedsNeeded", "achieved_power", "detectable_effect",
           "power_curve", "seeds_needed"]

#: tests with a closed-form (quadrature) power
ANALYTIC = ("welch", "student", "paired-t")
SIMULATED = ("mannwhitney", "wilcoxon", "permutation")
MAX_SEEDS = 10_000
_NODES = 48


class Power(NamedTuple):
    """Power of a test and its Monte Carlo standard error (0 when analytic)."""

    power: float
    mc_error: float
    method: str


class SeedsNeeded(NamedTuple):
    """Seeds per method needed, and the power they reach."""

    n: int
    power: float
    mc_error: float
    method: str


class DetectableEffect(NamedTuple):
    """Smallest true difference detected with the asked power at these seeds."""

    effect: float
    power: float
    mc_error: float
    method: str


# ----------------------------------------------------------------------------- validation


def _check(test: str, paired: bool, alpha: float, power: float | None) -> str:
    tests = ANALYTIC + SIMULATED
    if not isinstance(test, str) or test not in tests:
        raise bad_value("test", test, f"one of {', '.join(map(repr, tests))}",
                        "e.g. test='welch'")
    if test == "paired-t" or test == "wilcoxon":
        paired = True
    if paired and test in ("welch", "student"):
        test = "paired-t"
    if paired and test in ("mannwhitney", "permutation"):
        raise bad_value("paired", paired, f"False for the unpaired test {test!r}",
                        "use test='wilcoxon' or 'paired-t' for paired seeds")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise bad_value("alpha", alpha, "a float in (0, 1)", "use e.g. alpha=0.05")
    if power is not None and (isinstance(power, bool) or not isinstance(power, numbers.Real)
                              or not alpha < power < 1):
        raise bad_value("power", power, f"a float in (alpha={alpha:g}, 1)",
                        "use e.g. power=0.8")
    return test


def _positive(arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad_value(arg, value, "a finite number > 0", f"pass e.g. {arg}=0.01",
                        cls=MushinTypeError)
    if not math.isfinite(value) or value <= 0:
        raise bad_value(arg, value, "a finite number > 0",
                        f"pass the {arg} in the metric's units, e.g. {arg}=0.01")
    return float(value)


def _sds(sd: Any, test: str) -> tuple[float, float]:
    if isinstance(sd, (tuple, list)):
        if len(sd) != 2 or test == "paired-t":
            raise bad_value("sd", sd, "one sd, or a pair (sd_a, sd_b) for an unpaired test",
                            "pass sd=0.01 (the sd of the paired differences when paired)")
        return _positive("sd", sd[0]), _positive("sd", sd[1])
    s = _positive("sd", sd)
    return s, s


def _sizes(n: Any) -> tuple[int, int]:
    pair = n if isinstance(n, (tuple, list)) else (n, n)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                             or v < 2 for v in pair):
        raise bad_value("n", n, "an int >= 2 (seeds per method) or a pair (n_a, n_b)",
                        "a test needs at least 2 seeds per method, e.g. n=5")
    return int(pair[0]), int(pair[1])


# ----------------------------------------------------------------------------- analytic


def _nct_power(nc: float, df: float, alpha: float) -> float:
    from scipy import special, stats

    crit = stats.t.isf(alpha / 2, df)
    with np.errstate(all="ignore"):
        p = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
    if math.isfinite(p):
        return p
    # scipy's noncentral t fails far in the tail (few df, large nc); both tails together
    # are E_Z[F_chi2(df (Z + nc)^2 / crit^2)], a smooth integral over the normal Z
    from scipy import integrate

    def f(z: float) -> float:
        return float(stats.norm.pdf(z) * special.chdtr(df, df * (z + nc) ** 2 / crit**2))

    return float(integrate.quad(f, -nc - 40, -nc, limit=200)[0]
                 + integrate.quad(f, -nc, -nc + 40, limit=200)[0])


@functools.lru_cache(maxsize=64)
def _laguerre(df: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (as chi-square / df values) and weights of a chi-square(df) expectation."""
    from scipy import special

    x, w = special.roots_genlaguerre(_NODES, df / 2 - 1)
    w = w / math.gamma(df / 2)
    return 2 * x / df, w


def _welch_power(n_a: int, n_b: int, effect: float, sd_a: float, sd_b: float,
                 alpha: float) -> float:
    from scipy import special, stats

    ua, wa = _laguerre(n_a - 1)
    ub, wb = _laguerre(n_b - 1)
    va = (sd_a**2 / n_a) * ua[:, None]  # s_a^2 / n_a at each node
    vb = (sd_b**2 / n_b) * ub[None, :]
    se = np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    c = stats.t.isf(alpha / 2, df) * se
    sigma = math.sqrt(sd_a**2 / n_a + sd_b**2 / n_b)
    reject = special.ndtr((effect - c) / sigma) + special.ndtr((-c - effect) / sigma)
    return float(np.sum(wa[:, None] * wb[None, :] * reject))


def _analytic(test: str, n: tuple[int, int], effect: float, sds: tuple[float, float],
              alpha: float) -> float:
    if test == "paired-t":
        return _nct_power(effect / sds[0] * math.sqrt(n[0]), n[0] - 1, alpha)
    if test == "student":
        pooled = math.sqrt(((n[0] - 1) * sds[0]**2 + (n[1] - 1) * sds[1]**2) / (sum(n) - 2))
        nc = effect / pooled * math.sqrt(n[0] * n[1] / sum(n))
        return _nct_power(nc, sum(n) - 2, alpha)
    return _welch_power(n[0], n[1], effect, sds[0], sds[1], alpha)


# ----------------------------------------------------------------------------- simulated


def _simulate(test: str, n: tuple[int, int], effect: float, sds: tuple[float, float],
              alpha: float, reps: int, seed: Any) -> tuple[float, float]:
    from scipy import stats

    rng = as_generator(seed)
    a = rng.normal(effect, sds[0], (reps, n[0]))
    b = rng.normal(0.0, sds[1], (reps, n[1]))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if test == "mannwhitney":
            p = stats.mannwhitneyu(a, b, axis=-1).pvalue
        elif test == "wilcoxon":
            p = stats.wilcoxon(a - b, axis=-1).pvalue
        else:
            p = stats.permutation_test(
                (a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), vectorized=True,
                n_resamples=499, axis=-1, rng=rng).pvalue
    hit = float(np.mean(np.asarray(p) < alpha))
    return hit, math.sqrt(max(hit * (1 - hit), 1e-12) / reps)


def achieved_power(n: Any, effect: float, sd: Any, *, alpha: float = 0.05,
                   test: str = "welch", paired: bool = False, reps: int = 2000,
                   seed: Any = 0) -> Power:
    """Power of ``test`` with ``n`` seeds per method against a true difference ``effect``.

    Parameters
    ----------
    n : int or (int, int)
        Seeds per method, or ``(n_a, n_b)``.
    effect : float
        True difference of the means (metric units).
    sd : float or (float, float)
        Spread over seeds of one method (or of each); of the paired differences if paired.
    alpha : float
        Two-sided significance level.
    test : str
        ``welch``, ``student``, ``paired-t`` (analytic), ``mannwhitney``, ``wilcoxon``,
        ``permutation`` (simulated: ``reps`` normal data sets from ``seed``; a quarter as
        many, with 499 permutations each, for ``permutation``).
    paired : bool
        Paired seeds: ``welch``/``student`` become ``paired-t``.

    Returns
    -------
    Power
        ``(power, mc_error, method)``.

    Examples
    --------
    >>> round(achieved_power(10, 0.01, 0.01, test="student").power, 4)
    0.562
    """
    test = _check(test, paired, alpha, None)
    sizes, sds = _sizes(n), _sds(sd, test)
    effect = abs(float(effect))
    if test in SIMULATED:
        reps = reps if test != "permutation" else max(reps // 4, 200)
        p, err = _simulate(test, sizes, effect, sds, alpha, reps, seed)
        return Power(p, err, f"simulation ({reps} normal data sets)")
    return Power(_analytic(test, sizes, effect, sds, alpha), 0.0, _METHOD[test])


_METHOD = {"student": "noncentral t", "paired-t": "noncentral t",
           "welch": "Welch quadrature"}


def seeds_needed(effect: float, sd: Any, *, power: float = 0.8, alpha: float = 0.05,
                 test: str = "welch", paired: bool = False, reps: int = 2000,
                 seed: Any = 0) -> SeedsNeeded:
    """Smallest number of seeds per method detecting ``effect`` with probability ``power``.

    Student and paired: ``ceil`` of statsmodels' ``TTestIndPower().solve_power`` /
    ``TTestPower().solve_power`` with ``effect_size = effect / sd``.  See the module notes
    for Welch and the simulated tests.

    Parameters
    ----------
    effect, sd, alpha, test, paired, reps, seed
        As for :func:`achieved_power`.
    power : float
        The wanted probability of a significant result.

    Returns
    -------
    SeedsNeeded
        ``(n, power, mc_error, method)``: ``n`` seeds per method reach ``power``.

    Examples
    --------
    >>> seeds_needed(0.02, 0.01, test="paired-t").n
    5
    """
    test = _check(test, paired, alpha, power)
    effect = _positive("effect", abs(effect) if isinstance(effect, numbers.Real)
                       and not isinstance(effect, bool) else effect)
    sds = _sds(sd, test)

    def at(n: int) -> Power:
        return achieved_power(n, effect, sds if test != "paired-t" else sds[0], alpha=alpha,
                              test=test, reps=reps, seed=seed)

    guide = "paired-t" if test == "wilcoxon" else ("student" if test in SIMULATED else test)
    low, high = 2, 2  # bracket on the analytic guide, then walk with the test itself
    while _analytic(guide, (high, high), effect, sds, alpha) < power:
        low, high = high, high * 2
        if high > MAX_SEEDS:
            raise bad_value("effect", effect, f"an effect detectable with at most {MAX_SEEDS} "
                            "seeds", "the effect is tiny against the spread: check sd")
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if _analytic(guide, (mid, mid), effect, sds, alpha) < power \
            else (low, mid)
    n = high
    if test in SIMULATED:
        n = max(2, int(n / 0.9) - 1)
        while at(n).power < power:
            n += 1
            if n > MAX_SEEDS:
                break
        while n > 2 and at(n - 1).power >= power:
            n -= 1
    got = at(n)
    return SeedsNeeded(n, got.power, got.mc_error, got.method)


def detectable_effect(n: Any, sd: Any, *, power: float = 0.8, alpha: float = 0.05,
                      test: str = "welch", paired: bool = False, reps: int = 2000,
                      seed: Any = 0) -> DetectableEffect:
    """Smallest true difference ``n`` seeds per method detect with probability ``power``.

    Student and paired: statsmodels' ``solve_power(nobs1=n, ...)`` times ``sd``.  The
    simulated tests solve on common random numbers (one seed for every candidate effect).

    Returns
    -------
    DetectableEffect
        ``(effect, power, mc_error, method)``.

    Examples
    --------
    >>> round(detectable_effect(5, 0.01, test="paired-t").effect, 5)
    0.01682
    """
    from scipy import optimize

    test = _check(test, paired, alpha, power)
    sizes, sds = _sizes(n), _sds(sd, test)
    if test == "wilcoxon" and sizes[0] < 6 and alpha <= 2 / 2**sizes[0]:
        raise bad_value("n", n, f"at least 6 seeds for test='wilcoxon' at alpha={alpha:g}",
                        "exact Wilcoxon with so few seeds never reaches alpha; run more "
                        "seeds or use test='paired-t'")

    def gap(e: float) -> float:
        return achieved_power(sizes, e, sds if test != "paired-t" else sds[0], alpha=alpha,
                              test=test, reps=reps, seed=seed).power - power

    scale = max(sds)
    high = scale
    while gap(high) < 0:
        high *= 2
        if high > 1e6 * scale:
            raise bad_value("n", n, "enough seeds for this test to reach the power",
                            "run more seeds or use a t-test")
    if test in SIMULATED:
        low = 0.0
        for _ in range(30):  # bisection: the simulated power is a step function of e
            mid = (low + high) / 2
            low, high = (mid, high) if gap(mid) < 0 else (low, mid)
        effect = high
    else:
        effect = optimize.brentq(gap, 1e-12 * scale, high, xtol=1e-14 * scale, rtol=1e-12)
    got = achieved_power(sizes, effect, sds if test != "paired-t" else sds[0], alpha=alpha,
                         test=test, reps=reps, seed=seed)
    return DetectableEffect(float(effect), got.power, got.mc_error, got.method)


def power_curve(sd: Any, *, seeds: Any = range(2, 21), power: float = 0.8,
                alpha: float = 0.05, test: str = "welch", paired: bool = False,
                reps: int = 2000, seed: Any = 0) -> Any:
    """The detectable effect at each number of seeds: the table a power curve draws.

    Examples
    --------
    >>> power_curve(0.01, seeds=[5, 10], test="student").round(4)
        n  detectable_effect
    0   5             0.0203
    1  10             0.0132
    """
    import pandas as pd

    ns = [int(n) for n in seeds]
    effects = [detectable_effect(n, sd, power=power, alpha=alpha, test=test, paired=paired,
                                 reps=reps, seed=seed).effect for n in ns]
    return pd.DataFrame({"n": ns, "detectable_effect": effects})
