"""The one place a seed becomes a ``numpy.random.Generator`` (never the global RNG), and
the one check of a list of seeds."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from mushin_nb.errors import MushinTypeError, bad_value


def as_generator(seed: Any, arg: str = "seed") -> np.random.Generator:
    """Return ``seed`` if it is a Generator, else ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        A non-negative int, or a Generator used as is.
    arg : str
        The argument's name, for the error message.

    Examples
    --------
    >>> int(as_generator(0).integers(10)) == int(as_generator(0).integers(10))
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise bad_value(arg, seed, "a non-negative int or a numpy.random.Generator",
                        f"pass an explicit seed, e.g. {arg}=0", cls=MushinTypeError)
    return np.random.default_rng(int(seed))


def check_seeds(seeds: Any, arg: str = "seeds") -> list[int]:
    """``seeds`` as a non-empty list of unique ints, or the error that says what is wrong.

    Examples
    --------
    >>> check_seeds(range(3))
    [0, 1, 2]
    """
    if isinstance(seeds, (str, bytes, Mapping)) or not isinstance(seeds, Iterable):
        raise bad_value(arg, seeds, "a list of ints", "e.g. seeds=[0, 1, 2]", MushinTypeError)
    seeds = list(seeds)
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise bad_value(arg, seeds, "a list of ints", f"{seed!r} is not an int",
                            MushinTypeError)
    out = [int(seed) for seed in seeds]
    if not out:
        raise bad_value(arg, seeds, "a non-empty list of ints", "e.g. seeds=[0, 1, 2]")
    dup = sorted({seed for seed in out if out.count(seed) > 1})
    if dup:
        raise bad_value(arg, seeds, "unique ints", f"remove the repeated seed(s) {dup}")
    return out
