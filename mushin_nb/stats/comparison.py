"""Every comparison of a study at once: tests, Holm, intervals and effect sizes."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from mushin_nb.errors import MushinValueError, bad_value
from mushin_nb.stats._checks import PAIRED_TESTS, MushinWarning, check_settings
from mushin_nb.stats._rng import as_generator
from mushin_nb.stats.bounded import check_bounds
from mushin_nb.stats.corrections import holm
from mushin_nb.stats.effect_sizes import _hedges_rows, _prob_rows
from mushin_nb.stats.equivalence import check_margin
from mushin_nb.stats.extended import add_equivalence, bound_intervals
from mushin_nb.stats.intervals import (
    _interval_rows,
    _jackknife_accel,
    _t_diff_rows,
    _t_mean_rows,
)
from mushin_nb.stats.significance import _test_rows, min_p_value
from mushin_nb.stats.tables import COMPARISON_COLUMNS, SUMMARY_COLUMNS, _frame


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
                   n_permutations: int = 9999, margin: float | None = None,
                   bounds: Mapping[str, tuple[float, float]] | None = None,
                   lower_is_better: Mapping[str, bool] | None = None) -> tuple[Any, Any]:
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
    margin : float, optional
        Equivalence margin (metric units): adds ``p_equivalence``, ``p_equivalence_holm``
        and ``verdict`` (:func:`~mushin_nb.stats.extended.add_equivalence`).
    bounds : dict, optional
        ``metric -> (low, high)``: the t-intervals of these metrics become logit
        t-intervals inside the range (:mod:`~mushin_nb.stats.bounded`).
    lower_is_better : dict, optional
        ``metric -> True`` where a lower score is better (for the verdicts).

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
    bounds = check_bounds(bounds, metrics)
    if bounds and not bootstrap:
        comparisons, summary = bound_intervals(comparisons, summary, x, methods, list(metrics),
                                               test=test, confidence=confidence, bounds=bounds)
    margin = check_margin(margin)
    if margin is not None:
        comparisons = add_equivalence(comparisons, x, methods, list(metrics), test=test,
                                      alpha=alpha, margin=margin,
                                      lower_is_better=lower_is_better)
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
