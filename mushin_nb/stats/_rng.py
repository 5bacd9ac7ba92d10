"""The one place a seed becomes a ``numpy.random.Generator`` (never the global RNG)."""

from __future__ import annotations

import numbers
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
