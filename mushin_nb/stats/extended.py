"""What a margin and metric bounds add to a comparison family's two tables.

With ``margin``: the TOST p-value of each comparison (:mod:`~mushin_nb.stats.equivalence`),
Holm over each metric's family, and the verdict.  With ``bounds``: the t-intervals of the
bounded metrics (means and differences) become logit t-intervals
(:mod:`~mushin_nb.stats.bounded`), inside the metric's range.  Bootstrap intervals are
quantiles of resampled means and so already inside the range; they are left as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mushin_nb.stats.bounded import logit_interval_rows
from mushin_nb.stats.corrections import holm
from mushin_nb.stats.equivalence import EQUIVALENCE_KIND, tost_rows, verdicts

__all__ = ["EQUIVALENCE_COLUMNS", "add_equivalence", "bound_intervals"]

#: columns a ``margin`` adds to ``comparisons`` (after the design columns)
EQUIVALENCE_COLUMNS = ("p_equivalence", "p_equivalence_holm", "verdict")


def _index(comparisons: Any, methods: Sequence[str], metrics: Sequence[str]
           ) -> list[tuple[int, int, int]]:
    pos_m = {name: i for i, name in enumerate(methods)}
    pos_k = {name: i for i, name in enumerate(metrics)}
    return [(pos_k[k], pos_m[a], pos_m[b]) for k, a, b in zip(
        comparisons["metric"], comparisons["method_a"], comparisons["method_b"])]


def _stacks(x: np.ndarray, pairs: list[tuple[int, int, int]]
            ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(members, a (r, n_a), b (r, n_b))`` of the pairs ``(metric, a, b)``, by sample sizes."""
    groups: dict[tuple[int, int], tuple[list[int], list, list]] = {}
    for r, (k, a, b) in enumerate(pairs):
        va, vb = x[a, k][~np.isnan(x[a, k])], x[b, k][~np.isnan(x[b, k])]
        members, sa, sb = groups.setdefault((va.size, vb.size), ([], [], []))
        members.append(r)
        sa.append(va)
        sb.append(vb)
    return [(np.array(m), np.stack(sa), np.stack(sb)) for m, sa, sb in groups.values()]


def add_equivalence(comparisons: Any, x: np.ndarray, methods: Sequence[str],
                    metrics: Sequence[str], *, test: str, alpha: float, margin: float,
                    lower_is_better: Mapping[str, bool] | None = None) -> Any:
    """``comparisons`` with :data:`EQUIVALENCE_COLUMNS` added (a new table).

    ``p_equivalence`` is the TOST p-value (:func:`~mushin_nb.stats.equivalence.tost`, with
    the pairing of ``test``), ``p_equivalence_holm`` its Holm adjustment over each metric's
    family, ``verdict`` that of method_a against method_b.  ``lower_is_better`` names the
    metrics where a lower score is better (``"better"`` then means lower).
    """
    kind = EQUIVALENCE_KIND[test]
    rows = _index(comparisons, methods, metrics)
    p = np.full(len(rows), np.nan)
    for members, a, b in _stacks(x, rows):
        p[members] = tost_rows(kind, a, b, margin)[0]
    p_holm = np.full(len(rows), np.nan)
    metric_col = comparisons["metric"].to_numpy()
    for name in dict.fromkeys(metric_col):
        family = np.flatnonzero(metric_col == name)
        p_holm[family] = holm(p[family])
    flip = np.array([bool((lower_is_better or {}).get(k, False)) for k in metric_col])
    out = comparisons.copy()
    out["p_equivalence"] = p
    out["p_equivalence_holm"] = p_holm
    out["verdict"] = verdicts(comparisons["diff"].to_numpy(), comparisons["p_holm"].to_numpy(),
                              p_holm, alpha, flip)
    return out


def bound_intervals(comparisons: Any, summary: Any, x: np.ndarray, methods: Sequence[str],
                    metrics: Sequence[str], *, test: str, confidence: float,
                    bounds: Mapping[str, tuple[float, float]]) -> tuple[Any, Any]:
    """Both tables with the t-intervals of the ``bounds`` metrics as logit t-intervals.

    The difference interval keeps the standard error and degrees of freedom of the test's
    t-interval (paired, pooled or Welch), on the range ``[-(hi - lo), hi - lo]``.
    """
    comparisons, summary = comparisons.copy(), summary.copy()
    pos_m = {name: i for i, name in enumerate(methods)}
    cells = [(metrics.index(k), pos_m[m], pos_m[m]) for m, k in
             zip(summary["method"], summary["metric"])]
    low, high = summary["ci_low"].to_numpy().copy(), summary["ci_high"].to_numpy().copy()
    for members, v, _ in _stacks(x, cells):
        for r, row in zip(members, v):
            name = metrics[cells[r][0]]
            if name in bounds:
                se = row.std(ddof=1) / math.sqrt(row.size)
                lo, hi = bounds[name]
                low[r], high[r] = (float(e[0]) for e in logit_interval_rows(
                    np.array([row.mean()]), np.array([se]), row.size - 1, lo, hi, confidence))
    summary["ci_low"], summary["ci_high"] = low, high
    kind = EQUIVALENCE_KIND[test]
    pairs = _index(comparisons, methods, metrics)
    low = comparisons["diff_ci_low"].to_numpy().copy()
    high = comparisons["diff_ci_high"].to_numpy().copy()
    for members, a, b in _stacks(x, pairs):
        keep = np.array([metrics[pairs[r][0]] in bounds for r in members], bool)
        if not keep.any():
            continue
        se, df = _se_df(kind, a[keep], b[keep])
        width = np.array([np.subtract(*bounds[metrics[pairs[r][0]]][::-1])
                          for r in members[keep]])
        est = a[keep].mean(-1) - b[keep].mean(-1)
        for i, r in enumerate(members[keep]):
            lo_r, hi_r = logit_interval_rows(est[i:i + 1], se[i:i + 1], df[i], -width[i],
                                             width[i], confidence)
            low[r], high[r] = lo_r[0], hi_r[0]
    comparisons["diff_ci_low"], comparisons["diff_ci_high"] = low, high
    return comparisons, summary


def _se_df(kind: str, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standard errors and degrees of freedom of ``mean(a) - mean(b)`` per row, as the
    t-interval of ``kind`` has them."""
    na, nb = a.shape[-1], b.shape[-1]
    with np.errstate(all="ignore"):
        if kind == "paired":
            d = a - b
            return d.std(-1, ddof=1) / math.sqrt(na), np.full(len(a), na - 1.0)
        va, vb = a.var(-1, ddof=1), b.var(-1, ddof=1)
        if kind == "student":
            pooled = ((na - 1) * va + (nb - 1) * vb) / (na + nb - 2)
            return np.sqrt(pooled * (1 / na + 1 / nb)), np.full(len(a), na + nb - 2.0)
        qa, qb = va / na, vb / nb
        df = np.where(qa + qb > 0, (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1)), 1.0)
        return np.sqrt(qa + qb), df
