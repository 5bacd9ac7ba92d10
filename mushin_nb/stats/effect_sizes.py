"""Effect sizes of two samples of per-seed scores: Hedges' g and P(A > B)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mushin_nb.stats._checks import _sample


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
