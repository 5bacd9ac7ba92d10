"""Aggregates over tasks with stratified-bootstrap intervals: IQM, median, mean, optimality gap,
performance profiles and the probability of improvement, as rliable defines them.

Data contract: one metric as an ``xarray.DataArray`` with dims ``(method, task, seed)``
(names set by ``task=`` and ``over=``).  Point estimates are rliable's: ``iqm`` is
``scipy.stats.trim_mean(all runs of all tasks, 0.25)``, ``median`` and ``mean`` are the
median and mean over tasks of the per-task means, ``optimality_gap`` is
``gamma - mean(min(score, gamma))``.  Intervals are percentile intervals of a stratified
bootstrap: within each task the seeds are resampled with replacement, ``reps`` times, from
one ``numpy.random.Generator(seed)`` (rliable draws from numpy's global RNG, so its
``random_state`` has no effect; here the same ``seed`` gives the same intervals).  One set of
resamples serves every method with the same seeds (the same seed ids, paired), which also
makes the bootstrap of many methods fast: each resample is a count per run, and every
statistic a weighted sum of the sorted scores.  NaN runs are left out (and counted).

Examples
--------
>>> import xarray as xr
>>> rng = np.random.default_rng(0)
>>> da = xr.DataArray(rng.uniform(0, 1, (2, 4, 5)), dims=("method", "task", "seed"),
...                   coords={"method": ["a", "b"]})
>>> table = aggregate(da, stat="iqm", reps=1000)
>>> list(table.columns)
['estimate', 'ci_low', 'ci_high']
>>> from scipy.stats import trim_mean
>>> bool(np.isclose(table.loc["a", "estimate"], trim_mean(da.values[0], 0.25, axis=None)))
True
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from mushin_nb.errors import MushinKeyError, MushinValueError, bad_value
from mushin_nb.stats._checks import MushinWarning, _choice, method_block_runs
from mushin_nb.stats._rng import as_generator

__all__ = ["STATS", "aggregate", "performance_profile", "probability_of_improvement"]

#: ``stat=`` names of :func:`aggregate`
STATS = ("iqm", "median", "mean", "optimality_gap")


class _Runs:
    """Scores ``(method, task, run)`` with NaN left out, and the bootstrap's run counts."""

    def __init__(self, da: Any, task: str, over: str | None) -> None:
        self.x, self.methods = method_block_runs(da, "task", task, over)
        self.valid = ~np.isnan(self.x)
        n = self.valid.sum(-1)
        if (n == 0).any():
            m, t = np.argwhere(n == 0)[0]
            raise MushinValueError(
                f"method {self.methods[m]!r} has no run (all NaN) in {task} number {t}: an "
                f"aggregate over {task}s needs every method on every {task}. Fix: run it, or "
                f"drop that {task} with da.drop_isel({task}=[{t}]).")
        missing = int((~self.valid).sum())
        if missing:
            warnings.warn(f"{missing} NaN run(s) are left out of the aggregates (never "
                          "imputed).", MushinWarning, stacklevel=3)
        if (n < 2).all():
            warnings.warn(f"one run per {task}: the stratified bootstrap over seeds has no "
                          "spread, so the intervals are points. Fix: run several seeds.",
                          MushinWarning, stacklevel=3)
        self.values = np.where(self.valid, self.x, 0.0)  # a left-out run gets count 0

    def counts(self, seed: Any, reps: int, stream: int = 0
               ) -> list[tuple[list[int], np.ndarray]]:
        """``(methods, counts (task * run, reps))`` per group of methods with the same runs.

        Column ``k`` holds how often resample ``k`` drew each run (0 for a left-out run), as
        float32: exact for counts, and half the memory traffic of the statistics after.
        An int ``seed`` draws stream 0 from ``default_rng(seed)`` and stream 1 from
        ``default_rng([seed, 1])``; a Generator is drawn from as it is.
        """
        groups: dict[bytes, list[int]] = {}
        for m in range(self.x.shape[0]):
            groups.setdefault(self.valid[m].tobytes(), []).append(m)
        is_int = not isinstance(seed, np.random.Generator)
        if is_int:
            as_generator(seed)  # checks it
            rng = np.random.default_rng(int(seed) if not stream else [int(seed), stream])
        else:
            rng = seed
        # one group and an int seed: the counts are a function of (seed, reps, runs), kept
        cache = len(groups) == 1 and is_int
        return [(members, _cached_counts(
            (int(seed), stream, reps, self.valid[members[0]].shape, key) if cache else None,
            rng, self.valid[members[0]], reps)) for key, members in groups.items()]


_CACHE: dict[Any, np.ndarray] = {}


def _cached_counts(key: Any, rng: np.random.Generator, valid: np.ndarray,
                   reps: int) -> np.ndarray:
    """Counts of one group; an int seed's counts are kept (the same seed, the same counts)."""
    if key is not None and key in _CACHE:
        return _CACHE[key]
    tasks, runs = valid.shape
    if valid.all():
        idx = rng.integers(0, runs, (tasks, runs, reps))
        idx += np.arange(tasks)[:, None, None] * runs
        idx = idx * reps + np.arange(reps)
        c = np.bincount(idx.ravel(), minlength=tasks * runs * reps).astype(np.float32)
    else:
        c = np.zeros((tasks, runs, reps), dtype=np.float32)
        for t in range(tasks):
            cols = np.flatnonzero(valid[t])
            c[t, cols] = rng.multinomial(cols.size, np.full(cols.size, 1 / cols.size),
                                         size=reps).T
    c = c.reshape(tasks * runs, reps)
    c.setflags(write=False)
    if key is not None:
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = c
    return c



def _check(reps: Any, ci: Any) -> None:
    if isinstance(reps, bool) or not isinstance(reps, numbers.Integral) or reps < 100:
        raise bad_value("reps", reps, "an int >= 100 (bootstrap resamples)",
                        "use e.g. reps=10000")
    if isinstance(ci, bool) or not isinstance(ci, numbers.Real) or not 0 < ci < 1:
        raise bad_value("ci", ci, "a float in (0, 1)", "use e.g. ci=0.95")


def _stat_rows(stat: str, c: np.ndarray, v: np.ndarray, valid: np.ndarray,
               gamma: float) -> np.ndarray:
    """``stat`` of one method for the count columns ``c`` (task * run, k) of scores ``v``."""
    tasks, runs = valid.shape
    flat = v.reshape(-1)
    if stat == "iqm":
        n = int(valid.sum())
        lower = int(0.25 * n)
        upper = n - lower
        order = np.argsort(np.where(valid.reshape(-1), flat, np.inf), kind="mergesort")
        # int counts: the cumulative sums are exact, and int16 moves half float32's bytes
        kind = np.int16 if n < 2**15 else np.int64
        cum = c[order].astype(kind)
        for i in range(1, cum.shape[0]):  # row by row: numpy's cumsum over axis 0 is strided
            cum[i] += cum[i - 1]
        np.clip(cum, lower, upper, out=cum)
        w = np.diff(cum, axis=0, prepend=np.full((1, cum.shape[1]), lower, kind))
        return (flat[order].astype(c.dtype) @ w.astype(c.dtype)) / (upper - lower)
    if stat == "optimality_gap":
        return gamma - (np.minimum(flat, gamma).astype(c.dtype) @ c) / valid.sum()
    per_task = np.einsum("trk,tr->kt", c.reshape(tasks, runs, -1), v.astype(c.dtype)
                         ) / valid.sum(-1)  # (k, task): each resample's tasks contiguous
    if stat == "mean":
        return per_task.mean(axis=1)
    ordered = np.sort(per_task, axis=1)  # rows of a few tasks: a sort beats a partition
    return (ordered[:, (tasks - 1) // 2] + ordered[:, tasks // 2]) / 2


def _stacked(draws: dict[int, np.ndarray], which: np.ndarray, rows: slice) -> np.ndarray:
    """``draws[m][rows]`` of each method ``m`` of ``which`` on a new first axis; methods that
    share one array of counts (the usual case) share one broadcast view, not copies."""
    first = draws[int(which[0])]
    if all(draws[int(m)] is first for m in which):
        return first[rows][None]
    return np.stack([draws[int(m)][rows] for m in which])


def _interval(boot: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    low, high = np.percentile(boot, [50 * (1 - ci), 50 * (1 + ci)], axis=-1)
    return low, high


def aggregate(da: Any, *, task: str = "task", over: str | None = "seed", stat: str = "iqm",
              reps: int = 10_000, seed: Any = 0, ci: float = 0.95,
              gamma: float = 1.0) -> Any:
    """Aggregate score of each method over tasks, with a stratified-bootstrap interval.

    Parameters
    ----------
    da : xarray.DataArray
        One metric, dims ``(method, task, seed)``.
    task, over : str
        The dimensions of the tasks and of the seeds (``over=None``: one run per task).
    stat : {"iqm", "median", "mean", "optimality_gap"}
        See the module notes; ``optimality_gap`` uses the threshold ``gamma``.
    reps : int
        Bootstrap resamples.
    seed : int or numpy.random.Generator
        The bootstrap's randomness.
    ci : float
        Confidence of the percentile interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by method, columns ``estimate, ci_low, ci_high``.
    """
    import pandas as pd

    _choice("stat", stat, STATS)
    _check(reps, ci)
    runs = _Runs(da, task, over)
    point = np.array([_stat_rows(stat, runs.valid[m].reshape(-1, 1).astype(float),
                                 runs.values[m], runs.valid[m], gamma)[0]
                      for m in range(len(runs.methods))])
    boot = np.empty((len(point), reps), dtype=np.float32)
    for members, c in runs.counts(seed, reps):
        for m in members:
            boot[m] = _stat_rows(stat, c, runs.values[m], runs.valid[m], gamma)
    low, high = _interval(boot, ci)  # one quantile call for every method
    return pd.DataFrame({"estimate": point, "ci_low": low, "ci_high": high},
                        index=pd.Index(runs.methods, name="method"))


def performance_profile(da: Any, *, task: str = "task", over: str | None = "seed",
                        taus: Any = None, reps: int = 10_000, seed: Any = 0,
                        ci: float = 0.95) -> Any:
    """Fraction of runs (of all tasks) scoring above each threshold ``tau``, per method.

    Equal to rliable's ``create_performance_profile`` point estimates (its
    ``run_score_deviation``: ``mean(scores > tau)``); the bands are stratified-bootstrap
    percentile intervals.

    Parameters
    ----------
    taus : sequence of float, optional
        Thresholds; default 101 points from the lowest to the highest score.

    Returns
    -------
    xarray.DataArray
        Dims ``(method, tau)``, with coordinates ``ci_low`` and ``ci_high`` (same dims).
    """
    import xarray as xr

    _check(reps, ci)
    runs = _Runs(da, task, over)
    if taus is None:
        taus = np.linspace(np.nanmin(runs.x), np.nanmax(runs.x), 101)
    taus = np.asarray(taus, dtype=float)
    if taus.ndim != 1 or taus.size == 0 or np.isnan(taus).any():
        raise bad_value("taus", taus, "a 1-D sequence of thresholds", "e.g. np.linspace(0, 1, 51)")
    shape = (len(runs.methods), taus.size)
    point, boot = np.empty(shape), np.empty(shape + (reps,), dtype=np.float32)
    for members, c in runs.counts(seed, reps):
        for m in members:
            valid = runs.valid[m].reshape(-1)
            above = (runs.x[m].reshape(-1)[:, None] > taus[None]) & valid[:, None]
            point[m] = above.sum(0) / valid.sum()
            boot[m] = (above.T.astype(c.dtype) @ c) / valid.sum()
    low, high = _interval(boot, ci)
    dims = ("method", "tau")
    return xr.DataArray(point, dims=dims, name="profile",
                        coords={"method": runs.methods, "tau": taus,
                                "ci_low": (dims, low), "ci_high": (dims, high)})


def probability_of_improvement(da: Any, *, task: str = "task", over: str | None = "seed",
                               reference: str | None = None, pairs: str = "reference",
                               reps: int = 10_000, seed: Any = 0, ci: float = 0.95) -> Any:
    """P(A > B) + P(A = B)/2 over the runs of each task, averaged over tasks, with its interval.

    Equal to rliable's ``metrics.probability_of_improvement``; the interval resamples the
    seeds of A and of B independently within each task (rliable's
    ``StratifiedIndependentBootstrap``), percentile.

    Parameters
    ----------
    reference : str, optional
        With ``pairs="reference"``, each other method (A) against this one (B); default the
        first method.
    pairs : {"reference", "all"}
        Which pairs: against the reference, or all ``(methods[i], methods[j]), i < j``.

    Returns
    -------
    pandas.DataFrame
        Columns ``method_a, method_b, estimate, ci_low, ci_high``.
    """
    import pandas as pd

    _choice("pairs", pairs, ("reference", "all"))
    _check(reps, ci)
    runs = _Runs(da, task, over)
    names = runs.methods
    if reference is None:
        reference = names[0]
    if reference not in names:
        raise MushinKeyError(f"unknown reference method {reference!r}. Known methods: "
                             f"{', '.join(map(repr, names))}. Fix: pass one of them.")
    ref = names.index(reference)
    todo = [(i, ref) for i in range(len(names)) if i != ref] if pairs == "reference" \
        else [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    # independent resamples of A and B: two streams of an int seed (A's is the one the other
    # aggregates use), or two draws from a Generator
    rng = seed if isinstance(seed, np.random.Generator) else None
    counts = [dict((m, c) for members, c in runs.counts(
        rng if rng is not None else seed, reps, stream) for m in members)
        for stream in (0, 1)]
    tasks, nrun = runs.x.shape[1:]
    ia, ib = np.array([i for i, _ in todo]), np.array([j for _, j in todo])
    est = np.zeros((len(todo), reps), dtype=np.float32)
    point = np.zeros(len(todo))
    for t in range(tasks):
        a, b = runs.x[ia, t], runs.x[ib, t]  # (pairs, runs)
        va, vb = runs.valid[ia, t], runs.valid[ib, t]
        kernel = np.where(va[:, :, None] & vb[:, None, :], (a[:, :, None] > b[:, None, :]) +
                          0.5 * (a[:, :, None] == b[:, None, :]), 0.0)
        pairs_n = va.sum(1) * vb.sum(1)
        point += kernel.sum((1, 2)) / pairs_n
        rows_t = slice(t * nrun, (t + 1) * nrun)
        ca, cb = _stacked(counts[0], ia, rows_t), _stacked(counts[1], ib, rows_t)
        est += (np.matmul(kernel.astype(np.float32), cb) * ca).sum(1) / pairs_n[:, None]
    low, high = _interval(est / tasks, ci)
    rows = [(names[i], names[j], point[p] / tasks, low[p], high[p])
            for p, (i, j) in enumerate(todo)]
    return pd.DataFrame(rows, columns=["method_a", "method_b", "estimate", "ci_low", "ci_high"])
