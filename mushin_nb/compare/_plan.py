"""The seed plan of a BenchmarkResult: per comparison, what its seeds detect and what it needs.

For every comparison: the smallest true difference detectable with ``power`` at the current
seeds, and the seeds per method needed to detect the observed difference (or ``effect=``),
both at the Holm level that comparison faces in its metric's family: Holm tests the
``i``-th smallest of ``m`` p-values at ``alpha / (m - i)``.  Spreads are the observed ones:
both methods' standard deviations for Welch, the pooled one for Student, that of the
paired differences for the paired tests.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mushin_nb import stats
from mushin_nb.errors import MushinError

__all__ = ["PLAN_COLUMNS", "holm_levels", "plan", "underpowered"]

PLAN_COLUMNS = ("metric", "method_a", "method_b", "n_a", "n_b", "observed_diff",
                "detectable_effect", "seeds_needed", "test")
#: the analytic test the repr's quick check uses for each test
_ANALOG = {"welch": "welch", "student": "student", "paired-t": "paired-t",
           "wilcoxon": "paired-t", "mannwhitney": "welch", "permutation": "welch"}


def holm_levels(comparisons: Any, alpha: float) -> np.ndarray:
    """The level each comparison faces under Holm within its metric's family.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"metric": ["a", "a", "a"], "p_value": [0.03, 0.001, 0.2]})
    >>> [round(v, 4) for v in holm_levels(t, 0.05)]
    [0.025, 0.0167, 0.05]
    """
    levels = np.full(len(comparisons), float(alpha))
    metric = comparisons["metric"].to_numpy()
    p = comparisons["p_value"].to_numpy(dtype=float)
    for name in dict.fromkeys(metric):
        family = np.flatnonzero(metric == name)
        order = family[np.argsort(np.nan_to_num(p[family], nan=np.inf), kind="mergesort")]
        levels[order] = alpha / (len(family) - np.arange(len(family)))
    return levels


def _spread(test: str, a: np.ndarray, b: np.ndarray) -> Any:
    if test in ("paired-t", "wilcoxon"):
        return float(np.std(a - b, ddof=1))
    if test == "student":
        pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (
            a.size + b.size - 2)
        return float(math.sqrt(pooled))
    return float(a.std(ddof=1)), float(b.std(ddof=1))


def _row(result: Any, k: str, a: str, b: str, level: float, power: float,
         effect: float | None, test: str) -> tuple[float, float]:
    x, y = result.scores(k, a), result.scores(k, b)
    sd = _spread(test, x, y)
    target = abs(float(effect if effect is not None else x.mean() - y.mean()))
    n = (x.size, y.size)
    try:
        detect = stats.detectable_effect(n if test not in ("paired-t", "wilcoxon") else n[0],
                                         sd, power=power, alpha=level, test=test).effect
    except MushinError:
        detect = math.nan
    try:
        needed = float(stats.seeds_needed(target, sd, power=power, alpha=level, test=test).n)
    except MushinError:
        needed = math.nan  # no spread, no difference, or beyond any number of seeds
    return detect, needed


def plan(result: Any, *, power: float = 0.8, effect: float | None = None,
         test: str | None = None) -> Any:
    """The seed plan of ``result`` (see the module notes).

    Parameters
    ----------
    power : float
        The wanted probability of a significant result.
    effect : float, optional
        The difference to plan for (metric units); default each comparison's observed one.
    test : str, optional
        Plan for another test than the result's (e.g. the analytic analog, for speed).

    Returns
    -------
    pandas.DataFrame
        Columns ``metric, method_a, method_b, n_a, n_b, observed_diff, detectable_effect,
        seeds_needed, test``; ``seeds_needed`` is NaN where no number of seeds detects the
        difference (it is 0, or the spread is 0).
    """
    import pandas as pd

    test = result.test if test is None else test
    comp = result.comparisons
    levels = holm_levels(comp, result.alpha)
    rows = [_row(result, k, a, b, lvl, power, effect, test) for k, a, b, lvl in zip(
        comp["metric"], comp["method_a"], comp["method_b"], levels)]
    return pd.DataFrame({
        "metric": comp["metric"].to_numpy(), "method_a": comp["method_a"].to_numpy(),
        "method_b": comp["method_b"].to_numpy(), "n_a": comp["n_a"].to_numpy(),
        "n_b": comp["n_b"].to_numpy(), "observed_diff": comp["diff"].to_numpy(),
        "detectable_effect": [r[0] for r in rows],
        "seeds_needed": pd.array([None if math.isnan(r[1]) else int(r[1]) for r in rows],
                                 dtype="Int64"),
        "test": [test] * len(rows)}, columns=list(PLAN_COLUMNS))


def underpowered(result: Any, power: float = 0.8) -> int:
    """How many non-significant comparisons could not have detected their observed difference
    (or the margin, when set) with ``power`` at their seeds: the analytic analog of the test
    (Welch for the unpaired rank and permutation tests, paired-t for Wilcoxon) decides."""
    comp = result.comparisons
    levels = holm_levels(comp, result.alpha)
    test = _ANALOG[result.test]
    count = 0
    for row, level in zip(comp.itertuples(index=False), levels):
        if row.significant:
            continue
        if result.margin is not None and getattr(row, "verdict", "") == "equivalent":
            continue
        x, y = result.scores(row.metric, row.method_a), result.scores(row.metric, row.method_b)
        sd = _spread(test, x, y)
        n = (x.size, y.size) if test not in ("paired-t",) else x.size
        try:
            detect = stats.detectable_effect(n, sd, power=power, alpha=level, test=test).effect
        except MushinError:
            continue
        wanted = result.margin if result.margin is not None else abs(row.diff)
        if detect > wanted:
            count += 1
    return count
