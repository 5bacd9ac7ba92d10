"""Equivalence: two one-sided t-tests (TOST) within a margin, verdicts, and P(A>B) intervals.

"Not significant" is no tie: with a margin ``m`` (the largest difference that does not
matter, in metric units), TOST asks whether the difference lies inside ``[-m, m]``.  A
comparison is then ``"equivalent"`` (TOST significant after Holm), ``"better"`` or
``"worse"`` (the difference test significant after Holm, and the difference not shown to
be within the margin), or ``"inconclusive"`` (neither: more seeds are needed).
P(A>B) gets the Brunner-Munzel interval.

Examples
--------
>>> a = [0.900, 0.901, 0.899, 0.900, 0.902]
>>> b = [0.900, 0.899, 0.901, 0.900, 0.898]
>>> tost(a, b, margin=0.01).pvalue < 1e-5
True
>>> [round(v, 4) for v in prob_ci([3.0, 4.0, 5.0, 1.5], [1.0, 2.0, 3.0, 3.5])]
[0.1781, 1.2594]
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.stats._checks import _confidence, _sample

__all__ = ["EQUIVALENCE_KIND", "VERDICTS", "ProbInterval", "TostResult", "check_margin",
           "prob_ci", "tost", "verdicts"]

#: the four verdicts of ``comparisons["verdict"]`` (of method_a against method_b)
VERDICTS = ("better", "worse", "equivalent", "inconclusive")
#: the TOST each difference test is paired with (t-based, same pairing as the test)
EQUIVALENCE_KIND = {"welch": "welch", "student": "student", "paired-t": "paired",
                    "wilcoxon": "paired", "mannwhitney": "welch", "permutation": "welch"}


class TostResult(NamedTuple):
    """p-value of TOST (the larger of the two one-sided p-values) and both statistics."""

    pvalue: float
    t_low: float
    t_high: float
    df: float


class ProbInterval(NamedTuple):
    """Interval of P(A>B) + P(A=B)/2."""

    low: float
    high: float


def check_margin(margin: Any) -> float | None:
    """Validate ``margin=`` (None, or a finite number > 0 in metric units).

    Examples
    --------
    >>> check_margin(0.01)
    0.01
    >>> check_margin(0)
    Traceback (most recent call last):
    ...
    mushin_nb.errors.MushinValueError: `margin` must be a finite number > 0 ...
    """
    if margin is None:
        return None
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real):
        raise bad_value("margin", margin, "a finite number > 0 (in the metric's units)",
                        "pass e.g. margin=0.005, or leave it out", cls=MushinTypeError)
    if not math.isfinite(margin) or margin <= 0:
        raise bad_value("margin", margin, "a finite number > 0 (in the metric's units), the "
                        "largest difference that does not matter",
                        "pass e.g. margin=0.005, or margin=None for no equivalence test")
    return float(margin)


def tost_rows(kind: str, a: np.ndarray, b: np.ndarray, margin: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """TOST of every row of ``a`` (r, n_a) against ``b`` (r, n_b) within ``[-margin, margin]``.

    Returns ``p, t_low, t_high, df`` per row.
    """
    from scipy import stats

    with np.errstate(all="ignore"):
        if kind == "paired":
            d = a - b
            n = d.shape[-1]
            diff = d.mean(-1)
            se = d.std(-1, ddof=1) / math.sqrt(n)
            df = np.full(diff.shape, n - 1.0)
        else:
            na, nb = a.shape[-1], b.shape[-1]
            va, vb = a.var(-1, ddof=1), b.var(-1, ddof=1)
            diff = a.mean(-1) - b.mean(-1)
            if kind == "student":
                pooled = ((na - 1) * va + (nb - 1) * vb) / (na + nb - 2)
                se = np.sqrt(pooled * (1 / na + 1 / nb))
                df = np.full(diff.shape, na + nb - 2.0)
            else:
                qa, qb = va / na, vb / nb
                se = np.sqrt(qa + qb)
                df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1))
        t_low = (diff + margin) / se
        t_high = (diff - margin) / se
        p = np.maximum(stats.t.sf(t_low, df), stats.t.cdf(t_high, df))
    return p, t_low, t_high, df


def tost(a: Sequence[float], b: Sequence[float], *, margin: float, kind: str = "welch"
         ) -> TostResult:
    """Two one-sided t-tests of "``|mean(a) - mean(b)| >= margin``".

    Equal to ``statsmodels.stats.weightstats.ttost_ind(a, b, -margin, margin,
    usevar="unequal")`` (``kind="welch"``), ``usevar="pooled"`` (``"student"``) and
    ``ttost_paired(a, b, -margin, margin)`` (``"paired"``).

    Parameters
    ----------
    a, b : sequence of float
        One score per seed (paired by position when ``kind="paired"``).
    margin : float
        Half-width of the equivalence region, in the metric's units.
    kind : {"welch", "student", "paired"}

    Returns
    -------
    TostResult
        ``(pvalue, t_low, t_high, df)``; a small p-value says the difference is within
        the margin.
    """
    if kind not in ("welch", "student", "paired"):
        raise bad_value("kind", kind, "one of 'welch', 'student', 'paired'",
                        "e.g. kind='welch'")
    m = check_margin(margin)
    if m is None:
        raise bad_value("margin", margin, "a finite number > 0", "pass e.g. margin=0.005")
    x, y = _sample("a", a), _sample("b", b)
    if kind == "paired" and x.size != y.size:
        raise bad_value("b", b, f"as many scores as `a` ({x.size})", "pair by seed")
    p, lo, hi, df = tost_rows(kind, x[None], y[None], m)
    return TostResult(float(p[0]), float(lo[0]), float(hi[0]), float(df[0]))


def prob_rows(a: np.ndarray, b: np.ndarray, confidence: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(A>B) + P(A=B)/2 and its Brunner-Munzel t-interval for every row.

    The arithmetic of ``statsmodels.stats.nonparametric.rank_compare_2indep(a, b)`` and its
    ``conf_int(alpha=1 - confidence)``; rows whose rank variance is 0 (complete separation
    or all ties) have an undefined interval: NaN.
    """
    from scipy import stats

    na, nb = a.shape[-1], b.shape[-1]
    n = na + nb
    rank = stats.rankdata(np.concatenate([a, b], axis=-1), axis=-1)
    r1, r2 = rank[..., :na], rank[..., na:]
    i1, i2 = stats.rankdata(a, axis=-1), stats.rankdata(b, axis=-1)
    with np.errstate(all="ignore"):
        s1 = ((r1 - i1 - r1.mean(-1, keepdims=True) + i1.mean(-1, keepdims=True)) ** 2
              ).sum(-1) / (na - 1)
        s2 = ((r2 - i2 - r2.mean(-1, keepdims=True) + i2.mean(-1, keepdims=True)) ** 2
              ).sum(-1) / (nb - 1)
        df = (na * s1 + nb * s2) ** 2 / ((na * s1) ** 2 / (na - 1) + (nb * s2) ** 2 / (nb - 1))
        var = n * (s1 / nb**2 / na + s2 / na**2 / nb)
        prob = (r1.mean(-1) - (na + 1) / 2) / nb
        half = stats.t.isf((1 - confidence) / 2, df) * np.sqrt(var / n)
    low, high = prob - half, prob + half
    bad = ~np.isfinite(half) | (var <= 0)
    return prob, np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def prob_ci(a: Sequence[float], b: Sequence[float], confidence: float = 0.95
            ) -> ProbInterval:
    """Brunner-Munzel interval of P(A>B) + P(A=B)/2.

    Equal to ``rank_compare_2indep(a, b).conf_int(alpha=1 - confidence)`` of statsmodels;
    like it, the interval can pass 0 or 1 at few seeds, and is NaN where every score of one
    method exceeds every score of the other (no rank variance to estimate it from).
    """
    x, y = _sample("a", a), _sample("b", b)
    _, low, high = prob_rows(x[None], y[None], _confidence(confidence))
    return ProbInterval(float(low[0]), float(high[0]))


def verdicts(diff: np.ndarray, p_holm: np.ndarray, p_equivalence_holm: np.ndarray,
             alpha: float, lower_is_better: np.ndarray | None = None) -> np.ndarray:
    """The verdict of method_a against method_b per comparison (see the module notes).

    Examples
    --------
    >>> verdicts(np.array([0.02, -0.02, 0.001, 0.0]), np.array([0.01, 0.01, 0.5, 0.5]),
    ...          np.array([0.9, 0.9, 0.01, 0.5]), 0.05).tolist()
    ['better', 'worse', 'equivalent', 'inconclusive']
    """
    flip = np.zeros(diff.shape, bool) if lower_is_better is None else lower_is_better
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        higher = (diff > 0) != flip
    out = np.where(np.nan_to_num(p_holm, nan=1.0) < alpha,
                   np.where(higher, "better", "worse"), "inconclusive").astype(object)
    out[np.nan_to_num(p_equivalence_holm, nan=1.0) < alpha] = "equivalent"
    return out
