"""The seed planner: power, seeds needed and the detectable effect of each test.

Effects and standard deviations are in the metric's own units: ``effect`` is the true
difference of the means of A and B, ``sd`` the spread of one method's scores over seeds
(a pair ``(sd_a, sd_b)`` for unequal spreads), or of the paired differences for a paired test.
The t-tests are analytic: ``student`` and ``paired-t`` use the noncentral t, as
``statsmodels.stats.power.TTestIndPower`` and ``TTestPower``; ``welch`` integrates the
noncentral normal over the sampling distributions of both variances (Gauss-Legendre
quadrature on their quantile scale, 32 nodes each; the t quantiles from a cubic spline in
log df, within a relative 1e-6 of scipy's), so its power is that of Welch's test with the
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
_NODES = 32


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


@functools.lru_cache(maxsize=512)
def _chi2_nodes(df: int) -> np.ndarray:
    """Gauss-Legendre nodes on the quantile scale of chi-square(df) / df."""
    from scipy import stats

    x, _ = np.polynomial.legendre.leggauss(_NODES)
    return stats.chi2.ppf((x + 1) / 2, df) / df


@functools.lru_cache(maxsize=1)
def _weights() -> np.ndarray:
    _, w = np.polynomial.legendre.leggauss(_NODES)
    return np.outer(w, w) / 4


def _welch_grid(n_a: np.ndarray, n_b: np.ndarray, sd_a: np.ndarray, sd_b: np.ndarray,
                alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Welch's rejection threshold on the quadrature grid of both sample variances, per row.

    Returns ``c`` (rows, nodes, nodes), the critical |mean difference| at each pair of
    variance nodes, and ``sigma`` (rows,), the true standard error of the difference.
    """
    ua = np.stack([_chi2_nodes(int(n) - 1) for n in n_a])[:, :, None]
    ub = np.stack([_chi2_nodes(int(n) - 1) for n in n_b])[:, None, :]
    qa = (sd_a**2 / n_a)[:, None, None] * ua  # s_a^2 / n_a at each node
    qb = (sd_b**2 / n_b)[:, None, None] * ub
    se = np.sqrt(qa + qb)
    df = (qa + qb) ** 2 / (qa**2 / (n_a - 1)[:, None, None] + qb**2 / (n_b - 1)[:, None, None])
    c = np.empty_like(df)
    for a in np.unique(alpha):
        rows = alpha == a
        c[rows] = _t_quantile(float(a))(np.log(df[rows]))
    return c * se, np.sqrt(sd_a**2 / n_a + sd_b**2 / n_b)


@functools.lru_cache(maxsize=256)
def _t_quantile(alpha: float) -> Any:
    """``log df -> t.isf(alpha / 2, df)`` as a cubic spline (df from 1 to 1e8)."""
    from scipy import interpolate, stats

    x = np.linspace(0.0, math.log(1e8), 2049)
    return interpolate.CubicSpline(x, stats.t.isf(alpha / 2, np.exp(x)), extrapolate=True)


def _welch_reject(effect: np.ndarray, c: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    from scipy import special

    e, s = effect[:, None, None], sigma[:, None, None]
    return (_weights() * (special.ndtr((e - c) / s) + special.ndtr((-c - e) / s))).sum((1, 2))


def _welch_power(n_a: int, n_b: int, effect: float, sd_a: float, sd_b: float,
                 alpha: float) -> float:
    c, sigma = _welch_grid(*(np.array([v], float) for v in (n_a, n_b, sd_a, sd_b, alpha)))
    return float(_welch_reject(np.array([effect], float), c, sigma)[0])


def welch_detectable(n_a: Any, n_b: Any, sd_a: Any, sd_b: Any, alpha: Any,
                     power: float) -> np.ndarray:
    """Detectable effects of many Welch comparisons at once (the plan's fast path).

    The same quadrature as :func:`achieved_power`; per row, the root of the power in the
    effect by safeguarded Newton steps on the fixed variance grid.
    """
    from scipy import special

    n_a, n_b, sd_a, sd_b, alpha = (np.asarray(v, float) for v in (n_a, n_b, sd_a, sd_b, alpha))
    c, sigma = _welch_grid(n_a, n_b, sd_a, sd_b, alpha)
    low, high = np.zeros_like(sigma), 100 * sigma * (special.ndtri(1 - alpha / 2) + 10)
    e = sigma * (special.ndtri(1 - alpha / 2) + special.ndtri(power))
    todo = np.arange(len(e))
    for _ in range(60):
        ci, si = c[todo], sigma[todo]
        gap = _welch_reject(e[todo], ci, si) - power
        low[todo] = np.where(gap < 0, e[todo], low[todo])
        high[todo] = np.where(gap < 0, high[todo], e[todo])
        es, s = e[todo][:, None, None], si[:, None, None]
        slope = (_weights() * (np.exp(-0.5 * ((es - ci) / s) ** 2) -
                               np.exp(-0.5 * ((-ci - es) / s) ** 2))).sum((1, 2)) / (
            si * math.sqrt(2 * math.pi))
        with np.errstate(all="ignore"):
            step = e[todo] - gap / slope
        inside = (step > low[todo]) & (step < high[todo])
        e[todo] = np.where(inside, step, (low[todo] + high[todo]) / 2)
        todo = todo[np.abs(gap) > 1e-11]
        if not todo.size:
            break
    return e


def welch_needed(effect: Any, sd_a: Any, sd_b: Any, alpha: Any, power: float) -> np.ndarray:
    """Seeds per method for many Welch comparisons at once; NaN past ``MAX_SEEDS``."""
    from scipy import special

    effect, sd_a, sd_b, alpha = (np.asarray(v, float) for v in (effect, sd_a, sd_b, alpha))
    from scipy import stats

    with np.errstate(all="ignore"):
        ratio = (sd_a**2 + sd_b**2) / effect**2
        guess = (special.ndtri(1 - alpha / 2) + special.ndtri(power)) ** 2 * ratio
        for _ in range(3):  # the t quantiles at the guessed df sharpen the normal guess
            df = np.clip(np.nan_to_num(2 * guess - 2, nan=1.0, posinf=1e8), 1, 1e8)
            guess = (stats.t.isf(alpha / 2, df) + stats.t.isf(1 - power, df)) ** 2 * ratio
        guess = np.floor(guess)
    n = np.clip(np.nan_to_num(guess, nan=2.0, posinf=MAX_SEEDS + 1.0), 2, MAX_SEEDS + 1)
    alive = n <= MAX_SEEDS
    for _ in range(MAX_SEEDS):  # walk up to the first n reaching the power ...
        rows = np.flatnonzero(alive)
        if not rows.size:
            break
        c, sigma = _welch_grid(n[rows], n[rows], sd_a[rows], sd_b[rows], alpha[rows])
        short = _welch_reject(effect[rows], c, sigma) < power
        n[rows[short]] += 1
        alive[rows[~short]] = False
        alive &= n <= MAX_SEEDS
    down = n > 2  # ... and check one below, for a guess that started too high
    while down.any():
        rows = np.flatnonzero(down)
        c, sigma = _welch_grid(n[rows] - 1, n[rows] - 1, sd_a[rows], sd_b[rows], alpha[rows])
        enough = _welch_reject(effect[rows], c, sigma) >= power
        n[rows[enough]] -= 1
        down[rows[~enough]] = False
        down &= n > 2
    return np.where(n > MAX_SEEDS, np.nan, n)


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
    0   5             0.0202
    1  10             0.0132
    """
    import pandas as pd

    ns = [int(n) for n in seeds]
    effects = [detectable_effect(n, sd, power=power, alpha=alpha, test=test, paired=paired,
                                 reps=reps, seed=seed).effect for n in ns]
    return pd.DataFrame({"n": ns, "detectable_effect": effects})
