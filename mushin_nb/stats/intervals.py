"""Confidence intervals of a mean and of a difference of means: t and bootstrap."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from mushin_nb.errors import bad_value
from mushin_nb.stats._checks import BOOTSTRAPS, MushinWarning, _choice, _confidence, _sample
from mushin_nb.stats._rng import as_generator


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
