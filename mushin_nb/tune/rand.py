"""Random search spaces: distributions of hyper-parameters and seeded draws of candidates.

A search space is a mapping from parameter name to a :class:`Distribution` (or a fixed
value).  :func:`sample` draws ``n`` candidates from it with an explicit seed, so the same
seed always gives the same candidates; :func:`mushin_nb.tune.tune` calls it when ``params``
holds distributions.

Examples
--------
>>> space = {"lr": loguniform(1e-4, 1e-1), "width": oneof([16, 32, 64]), "epochs": 5}
>>> draws = sample(space, 3, seed=0)
>>> len(draws), sorted(draws[0])
(3, ['epochs', 'lr', 'width'])
>>> draws == sample(space, 3, seed=0)
True
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.stats._rng import as_generator

__all__ = ["Distribution", "uniform", "loguniform", "ints", "oneof", "sample"]


class Distribution:
    """Base class of the distributions of this module: ``draw(rng)`` returns one value."""

    def draw(self, rng: np.random.Generator) -> Any:  # pragma: no cover - abstract
        """Return one value drawn with ``rng``."""
        raise NotImplementedError


def _real(arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad_value(arg, value, "a real number", cls=MushinTypeError)
    if not math.isfinite(value):
        raise bad_value(arg, value, "a finite number")
    return float(value)


@dataclass(frozen=True)
class _Uniform(Distribution):
    low: float
    high: float
    log: bool = False

    def draw(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class _Ints(Distribution):
    low: int
    high: int

    def draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high, endpoint=True))


@dataclass(frozen=True)
class _OneOf(Distribution):
    values: tuple[Any, ...]
    p: tuple[float, ...] | None = None

    def draw(self, rng: np.random.Generator) -> Any:
        value = self.values[int(rng.choice(len(self.values), p=self.p))]
        # a distribution among the choices is drawn from in turn (mixtures of families)
        return value.draw(rng) if isinstance(value, Distribution) else value


def uniform(low: float, high: float) -> Distribution:
    """Uniform distribution on ``[low, high)`` (``scipy.stats.uniform(low, high - low)``).

    Examples
    --------
    >>> value = uniform(0.0, 0.5).draw(np.random.default_rng(0))
    >>> 0.0 <= value < 0.5
    True
    """
    lo, hi = _real("low", low), _real("high", high)
    if not lo < hi:
        raise bad_value("high", high, f"greater than `low` = {lo!r}",
                        "give uniform(low, high) with low < high")
    return _Uniform(lo, hi)


def loguniform(low: float, high: float) -> Distribution:
    """Log-uniform distribution on ``[low, high)`` (``scipy.stats.loguniform(low, high)``).

    Examples
    --------
    >>> value = loguniform(1e-4, 1e-1).draw(np.random.default_rng(0))
    >>> 1e-4 <= value < 1e-1
    True
    """
    lo, hi = _real("low", low), _real("high", high)
    if not lo > 0:
        raise bad_value("low", low, "a positive number", "a log scale needs low > 0")
    if not lo < hi:
        raise bad_value("high", high, f"greater than `low` = {lo!r}",
                        "give loguniform(low, high) with low < high")
    return _Uniform(lo, hi, log=True)


def ints(low: int, high: int) -> Distribution:
    """Integers from ``low`` to ``high``, both included, equally likely.

    Examples
    --------
    >>> ints(1, 3).draw(np.random.default_rng(0)) in {1, 2, 3}
    True
    """
    for arg, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise bad_value(arg, value, "an int", cls=MushinTypeError)
    if not low <= high:
        raise bad_value("high", high, f"at least `low` = {low!r}",
                        "give ints(low, high) with low <= high (both included)")
    return _Ints(int(low), int(high))


def oneof(values: Sequence[Any], weights: Sequence[float] | None = None) -> Distribution:
    """One of ``values``, equally likely or with relative ``weights``.

    A value that is itself a :class:`Distribution` is drawn from in turn, so
    ``oneof([uniform(0, 1), uniform(10, 11)])`` mixes two ranges.

    Examples
    --------
    >>> oneof(["adam", "sgd"]).draw(np.random.default_rng(0)) in {"adam", "sgd"}
    True
    """
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence | range):
        raise bad_value("values", values, "a list of choices", "e.g. oneof([16, 32, 64])",
                        cls=MushinTypeError)
    if len(values) == 0:
        raise bad_value("values", values, "a non-empty list of choices", "e.g. oneof([16, 32])")
    p = None
    if weights is not None:
        w = [_real("weights", x) for x in weights]
        if len(w) != len(values) or min(w) < 0 or sum(w) <= 0:
            raise bad_value("weights", weights, f"{len(values)} non-negative numbers, not all 0",
                            "give one weight per value")
        p = tuple(x / sum(w) for x in w)
    return _OneOf(tuple(values), p)


def sample(space: Mapping[str, Any], n: int, *, seed: int | np.random.Generator
           ) -> list[dict[str, Any]]:
    """Draw ``n`` candidates from ``space``.

    Parameters
    ----------
    space : Mapping[str, Distribution or Any]
        Parameter name -> distribution; any other value is kept fixed in every draw.
    n : int
        Number of candidates to draw (positive).
    seed : int or numpy.random.Generator
        Explicit source of randomness; the same int always gives the same draws.

    Returns
    -------
    list of dict
        One dict per candidate, keys in the order of ``space``.

    Examples
    --------
    >>> sample({"c": ints(1, 9), "kernel": "rbf"}, 2, seed=0)
    [{'c': 8, 'kernel': 'rbf'}, {'c': 6, 'kernel': 'rbf'}]
    """
    if not isinstance(space, Mapping):
        raise bad_value("space", space, "a mapping of name -> distribution",
                        "e.g. {'lr': loguniform(1e-4, 1e-1)}", cls=MushinTypeError)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise bad_value("n", n, "a positive int", "e.g. n=20")
    rng = as_generator(seed)
    return [{key: value.draw(rng) if isinstance(value, Distribution) else value
             for key, value in space.items()} for _ in range(int(n))]
