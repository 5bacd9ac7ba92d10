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
    >>> holm_levels(t, 0.05).round(4).tolist()
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
    if test == "welch":  # every comparison at once
        detect, needed = _welch_rows(result, comp, levels, power, effect)
    else:
        rows = [_row(result, k, a, b, lvl, power, effect, test) for k, a, b, lvl in zip(
            comp["metric"], comp["method_a"], comp["method_b"], levels)]
        detect, needed = [r[0] for r in rows], [r[1] for r in rows]
    return pd.DataFrame({
        "metric": comp["metric"].to_numpy(), "method_a": comp["method_a"].to_numpy(),
        "method_b": comp["method_b"].to_numpy(), "n_a": comp["n_a"].to_numpy(),
        "n_b": comp["n_b"].to_numpy(), "observed_diff": comp["diff"].to_numpy(),
        "detectable_effect": np.asarray(detect, float),
        "seeds_needed": pd.array([None if math.isnan(v) else int(v) for v in needed],
                                 dtype="Int64"),
        "test": [test] * len(comp)}, columns=list(PLAN_COLUMNS))


def _welch_rows(result: Any, comp: Any, levels: np.ndarray, power: float,
                effect: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Welch's detectable effects and seeds needed of all comparisons, batched."""
    from mushin_nb.stats.power import welch_detectable, welch_needed

    sd = np.array([[result.scores(k, m).std(ddof=1) for m in (a, b)] for k, a, b in
                   zip(comp["metric"], comp["method_a"], comp["method_b"])]).reshape(-1, 2)
    target = np.abs(comp["diff"].to_numpy(float)) if effect is None else \
        np.full(len(comp), abs(float(effect)))
    ok = (sd > 0).all(axis=1) & (target > 0)
    detect, needed = np.full(len(comp), np.nan), np.full(len(comp), np.nan)
    if ok.any():
        n_a, n_b = comp["n_a"].to_numpy()[ok], comp["n_b"].to_numpy()[ok]
        detect[ok] = welch_detectable(n_a, n_b, sd[ok, 0], sd[ok, 1], levels[ok], power)
        needed[ok] = welch_needed(target[ok], sd[ok, 0], sd[ok, 1], levels[ok], power)
    ok_sd = (sd > 0).all(axis=1) & ~ok
    if ok_sd.any():  # no difference to detect: still say what the seeds detect
        n_a, n_b = comp["n_a"].to_numpy()[ok_sd], comp["n_b"].to_numpy()[ok_sd]
        detect[ok_sd] = welch_detectable(n_a, n_b, sd[ok_sd, 0], sd[ok_sd, 1], levels[ok_sd],
                                         power)
    return detect, needed


def underpowered(result: Any, power: float = 0.8) -> int:
    """How many non-significant comparisons could not have detected their observed difference
    (or the margin, when set) with ``power`` at their seeds: the analytic analog of the test
    (Welch for the unpaired rank and permutation tests, paired-t for Wilcoxon) decides."""
    comp = result.comparisons
    quiet = ~comp["significant"].to_numpy(bool)
    if "verdict" in comp:
        quiet &= comp["verdict"].to_numpy() != "equivalent"
    if not quiet.any():
        return 0
    detect = plan(result, power=power, test=_ANALOG[result.test],
                  effect=result.margin)["detectable_effect"].to_numpy(float)
    wanted = np.abs(comp["diff"].to_numpy(float)) if result.margin is None \
        else np.full(len(comp), result.margin)
    with np.errstate(invalid="ignore"):
        return int(np.sum(quiet & (detect > wanted)))
