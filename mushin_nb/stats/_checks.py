"""Option names, MushinWarning, and the input checks every statistics module shares."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.stats._rng import as_generator

#: Names accepted by ``test=``; the first is the default.
TESTS = ("welch", "student", "mannwhitney", "wilcoxon", "paired-t", "permutation")
PAIRED_TESTS = frozenset({"wilcoxon", "paired-t"})
BOOTSTRAPS = ("percentile", "bca")
PAIRS = ("all", "reference")


class MushinWarning(UserWarning):
    """A result is valid but weaker than it looks (too few seeds, ties, zero variance)."""


def check_settings(test: str = "welch", alpha: float = 0.05, pairs: str = "all",
                   bootstrap: str | None = None, seed: Any = 0) -> None:
    """Validate the statistics options shared by ``compare`` and ``from_dataset``.

    Raises
    ------
    MushinValueError, MushinTypeError
        Naming the option, showing the value and listing the accepted ones.

    Examples
    --------
    >>> check_settings("welch", 0.05)
    >>> check_settings("t-test")
    Traceback (most recent call last):
    ...
    mushin_nb.errors.MushinValueError: `test` must be one of 'welch', 'student', ...
    """
    _choice("test", test, TESTS)
    _choice("pairs", pairs, PAIRS)
    if bootstrap is not None:
        _choice("bootstrap", bootstrap, BOOTSTRAPS, extra="or None")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise bad_value("alpha", alpha, "a float in (0, 1)", "use e.g. alpha=0.05",
                        cls=MushinTypeError)
    if not 0 < alpha < 1:
        raise bad_value("alpha", alpha, "a float in (0, 1)", "use e.g. alpha=0.05")
    as_generator(seed)


def _choice(arg: str, value: Any, known: Sequence[str], extra: str = "") -> None:
    if not isinstance(value, str) or value not in known:
        names = ", ".join(repr(k) for k in known)
        raise bad_value(arg, value, f"one of {names}{' ' + extra if extra else ''}",
                        f"pick one of the listed names, e.g. {arg}={known[0]!r}")


def _sample(arg: str, values: Any, minimum: int = 2) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise bad_value(arg, values, "a 1-D sequence of numbers", cls=MushinTypeError) from None
    if x.ndim != 1:
        raise bad_value(arg, values, "a 1-D sequence of numbers (one score per seed)")
    if np.isnan(x).any():
        raise bad_value(arg, values, "scores without NaN",
                        "drop the missing seeds before testing")
    if x.size < minimum:
        raise bad_value(arg, values, f"at least {minimum} scores (one per seed)",
                        "run more seeds: a test needs a spread to compare")
    return x


def _confidence(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) \
            or not 0 < confidence < 1:
        raise bad_value("confidence", confidence, "a float in (0, 1)", "use e.g. 0.95")
    return float(confidence)
