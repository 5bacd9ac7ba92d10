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


def method_block_runs(da: Any, block_arg: str, block: str, over: str | None
                      ) -> tuple[np.ndarray, list[str]]:
    """Check a DataArray ``(method, block, over)`` and return it as a float array of that
    shape (``over=None``: one run per block) with the method names.

    ``block_arg`` names the argument that gave ``block`` (``task`` or ``block``).
    """
    import xarray as xr

    from mushin_nb.errors import MushinKeyError

    if not isinstance(da, xr.DataArray):
        raise bad_value("da", da, f"an xarray.DataArray with dims (method, {block_arg}, seed)",
                        "pick one metric, e.g. ds['accuracy']", cls=MushinTypeError)
    for arg, dim in ((block_arg, block), ("over", over)):
        if dim is not None and dim not in da.dims:
            raise MushinKeyError(
                f"`{arg}` must be a dimension of da, got {dim!r}. Dimensions: "
                f"{list(da.dims)}. Fix: name the dimension of the "
                f"{block_arg + 's' if arg == block_arg else 'seeds, or pass over=None'}.")
    if "method" not in da.dims:
        raise MushinKeyError(f"da needs a 'method' dimension; it has {list(da.dims)}. Fix: "
                             "rename the compared dimension, e.g. da.rename(model='method').")
    extra = [d for d in da.dims if d not in ("method", block, over)]
    if extra:
        raise bad_value("da", tuple(da.dims), f"only the dims 'method', {block!r}"
                        f"{f', {over!r}' if over else ''}",
                        f"select or average {extra} first, e.g. da.mean({extra[0]!r})")
    dims = ["method", block] + ([over] if over else [])
    x = np.asarray(da.transpose(*dims).values, dtype=float)
    methods = [str(m) for m in da["method"].values] if "method" in da.coords \
        else [str(i) for i in range(x.shape[0])]
    return (x if x.ndim == 3 else x[..., None]), methods

