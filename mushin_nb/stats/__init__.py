"""Significance tests, Holm correction, confidence intervals and effect sizes over seeds.

Data contract: a *score* is one number per (method, metric, seed).  Single comparisons take
two 1-D arrays ``a`` and ``b`` (the seeds of method A and method B); the vectorised family
path :func:`compare_scores` takes an array of shape ``(method, metric, seed)`` where NaN marks
a missing seed.  Every number equals the reference library named in each docstring (scipy,
statsmodels); randomness comes only from an explicit seed or ``numpy.random.Generator``.

The package only re-exports; each job has its module: :mod:`~mushin_nb.stats.significance`
(the tests), :mod:`~mushin_nb.stats.corrections` (Holm), :mod:`~mushin_nb.stats.intervals`
(t and bootstrap), :mod:`~mushin_nb.stats.effect_sizes` (Hedges' g, P(A > B)),
:mod:`~mushin_nb.stats.comparison` (:func:`compare_scores`) and
:mod:`~mushin_nb.stats.tables` (the columns of its two tables).  Beyond one family:
:mod:`~mushin_nb.stats.power` (the seed planner), :mod:`~mushin_nb.stats.equivalence`
(TOST, verdicts, the P(A > B) interval), :mod:`~mushin_nb.stats.bounded` (intervals inside a
metric's range), :mod:`~mushin_nb.stats.extended` (what a margin and bounds add to the
tables), :mod:`~mushin_nb.stats.ranking` (Friedman, post-hoc tests, critical difference) and
:mod:`~mushin_nb.stats.aggregate` (IQM and the other aggregates over tasks).

Examples
--------
>>> a = [0.91, 0.93, 0.92, 0.94, 0.95]
>>> b = [0.88, 0.87, 0.89, 0.90, 0.86]
>>> round(run_test(a, b, test="welch").pvalue, 6)
0.001053
>>> holm([0.01, 0.04, 0.03]).tolist()
[0.03, 0.06, 0.06]
>>> prob_improvement(a, b)
1.0
"""

from __future__ import annotations

# ``X as X``: names outside ``__all__`` that other modules and the tests import from here
from mushin_nb.stats._checks import BOOTSTRAPS as BOOTSTRAPS
from mushin_nb.stats._checks import PAIRED_TESTS as PAIRED_TESTS
from mushin_nb.stats._checks import PAIRS as PAIRS
from mushin_nb.stats._checks import TESTS, MushinWarning, check_settings
from mushin_nb.stats._rng import as_generator as as_generator
from mushin_nb.stats.aggregate import aggregate, performance_profile, probability_of_improvement
from mushin_nb.stats.bounded import logit_mean_ci
from mushin_nb.stats.comparison import compare_scores
from mushin_nb.stats.corrections import holm
from mushin_nb.stats.effect_sizes import hedges_g, prob_improvement
from mushin_nb.stats.equivalence import VERDICTS, prob_ci, tost
from mushin_nb.stats.extended import EQUIVALENCE_COLUMNS
from mushin_nb.stats.intervals import bootstrap_ci, diff_ci, mean_ci
from mushin_nb.stats.power import achieved_power, detectable_effect, power_curve, seeds_needed
from mushin_nb.stats.ranking import RankResult, rank_methods
from mushin_nb.stats.significance import TestResult, min_p_value, run_test
from mushin_nb.stats.tables import COLUMN_DTYPES as COLUMN_DTYPES
from mushin_nb.stats.tables import COMPARISON_COLUMNS, SUMMARY_COLUMNS
from mushin_nb.stats.tables import _frame as _frame  # mushin_nb.compare rebuilds saved tables

__all__ = [
    "COMPARISON_COLUMNS",
    "EQUIVALENCE_COLUMNS",
    "SUMMARY_COLUMNS",
    "TESTS",
    "VERDICTS",
    "MushinWarning",
    "RankResult",
    "TestResult",
    "achieved_power",
    "aggregate",
    "bootstrap_ci",
    "check_settings",
    "compare_scores",
    "detectable_effect",
    "diff_ci",
    "hedges_g",
    "holm",
    "logit_mean_ci",
    "mean_ci",
    "min_p_value",
    "performance_profile",
    "power_curve",
    "prob_ci",
    "prob_improvement",
    "probability_of_improvement",
    "rank_methods",
    "run_test",
    "seeds_needed",
    "tost",
]
