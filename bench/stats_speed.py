"""P3: the statistics of a 10 methods x 6 metrics x 10 seeds study, with 10k bootstrap resamples.

Ours: :func:`mushin_nb.stats.compare_scores` computes everything a ``BenchmarkResult`` shows:
Welch tests and Holm over all 45 pairs of each metric, BCa bootstrap intervals of the 270
differences and of the 60 means, Hedges' g and P(A > B).  The anchor, on the same scores:
rliable's ``get_interval_estimates`` (its default percentile intervals of each method's
per-metric mean, 10k stratified bootstrap resamples), which computes only the 60 mean
intervals.  Prints the median of 5 runs of each after a warm-up.  Target: ours < 0.5 s.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time

import numpy as np

from mushin_nb import stats

METHODS, METRICS, SEEDS, RESAMPLES, ROUNDS = 10, 6, 10, 10_000, 5
TARGET_S = 0.5


def _scores() -> np.ndarray:
    rng = np.random.default_rng(0)
    shift = np.linspace(0.0, 0.03, METHODS)[:, None, None]
    return rng.normal(0.8, 0.02, (METHODS, METRICS, SEEDS)) + shift


def _ours(scores: np.ndarray) -> tuple:
    return stats.compare_scores(
        scores, methods=[f"method{m}" for m in range(METHODS)],
        metrics=[f"metric{k}" for k in range(METRICS)], test="welch", bootstrap="bca",
        n_resamples=RESAMPLES, seed=0)


def _rliable() -> object:
    # rliable pins arch < 8, whose import calls pandas' deprecate_kwarg with the pre-3.0
    # signature; give it that signature so the anchor can run next to pandas 3
    import pandas.util._decorators as decorators

    original = decorators.deprecate_kwarg
    if getattr(original, "__name__", "") == "deprecate_kwarg":
        @functools.wraps(original)
        def compat(*args, **kwargs):
            if args and isinstance(args[0], str):
                args = (FutureWarning, *args)
            return original(*args, **kwargs)

        decorators.deprecate_kwarg = compat
    from rliable import library

    return library


def _theirs(library: object, scores: np.ndarray) -> tuple:
    # rliable's layout: method -> (runs, tasks); here runs = seeds and tasks = metrics
    score_dict = {f"method{m}": scores[m].T for m in range(METHODS)}
    return library.get_interval_estimates(
        score_dict, lambda x: x.mean(axis=0), reps=RESAMPLES,
        random_state=np.random.RandomState(0))


def _median_time(fn, *args) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> dict:
    """Time both on the same scores; return the figures."""
    scores = _scores()
    start = time.perf_counter()
    comparisons, summary = _ours(scores)
    cold = time.perf_counter() - start
    ours_s = _median_time(_ours, scores)
    library = _rliable()
    _theirs(library, scores)
    theirs_s = _median_time(_theirs, library, scores)
    print(f"scores: {METHODS} methods x {METRICS} metrics x {SEEDS} seeds, "
          f"{RESAMPLES} bootstrap resamples, median of {ROUNDS} runs")
    print(f"mushin_nb compare_scores (welch, Holm, BCa): {ours_s * 1000:8.1f} ms   "
          f"({len(comparisons)} comparisons + {len(summary)} mean intervals; first call "
          f"{cold * 1000:.0f} ms with imports)")
    print(f"rliable get_interval_estimates (percentile):  {theirs_s * 1000:8.1f} ms   "
          f"({METHODS * METRICS} mean intervals)")
    print(f"target: ours < {TARGET_S * 1000:.0f} ms")
    return {"ours_s": ours_s, "ours_cold_s": cold, "rliable_s": theirs_s,
            "comparisons": len(comparisons), "intervals": len(summary)}


if __name__ == "__main__":
    figures = main()
    sys.exit(0 if figures["ours_s"] < TARGET_S else 1)
