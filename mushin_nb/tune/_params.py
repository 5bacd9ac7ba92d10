"""Candidate parameters: the read-only ``Params`` mapping and the expansion of ``params``."""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import math
import numbers
import re
from collections import UserList
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value
from mushin_nb.tune.rand import Distribution, sample

__all__ = ["Params", "check_no_seed", "expand_params", "jsonable"]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class Params(Mapping[str, Any]):
    """The parameters of one candidate: a read-only mapping that also allows attribute access.

    Examples
    --------
    >>> p = Params({"lr": 0.1, "width": 32})
    >>> p.lr, p["width"], dict(p)
    (0.1, 32, {'lr': 0.1, 'width': 32})
    >>> p
    Params(lr=0.1, width=32)
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", dict(data or {}))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # keeps pickle and copy from recursing before _data exists
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(
                f"Params has no parameter {name!r}; it has {sorted(self._data)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise MushinTypeError(f"Params are read-only, cannot set {name!r}. "
                              "Fix: build a new dict, e.g. {**params, 'lr': 0.01}")

    def __delattr__(self, name: str) -> None:
        raise MushinTypeError(f"Params are read-only, cannot delete {name!r}.")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Params, (self._data,))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" if k.isidentifier() else f"{k!r}: {v!r}"
                          for k, v in self._data.items())
        return f"Params({inner})"


def _type_names(value: Any) -> set[str]:
    return {cls.__name__ for cls in type(value).__mro__}


def _is_multirun(value: Any) -> bool:
    # mushin_nb.workflows.multirun (hydra-zen's, a UserList) or a list subclass of that name;
    # matching the name keeps hydra out of this import
    return isinstance(value, (list, UserList)) and "multirun" in _type_names(value)


def _check_keys(arg: str, mapping: Mapping[Any, Any]) -> None:
    for key in mapping:
        if not isinstance(key, str) or not key:
            raise bad_value(f"{arg} key", key, "a non-empty str (the parameter name)",
                            cls=MushinTypeError)


def _fixed(value: Any) -> Any:
    return list(value) if "hydra_list" in _type_names(value) else value


def _grid(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    for key, value in params.items():
        if _is_multirun(value) and len(value) == 0:
            raise bad_value(f"params[{key!r}]", value, "a multirun with at least one value",
                            "e.g. multirun([0.1, 0.01])")
    axes = [list(v) if _is_multirun(v) else [_fixed(v)] for v in params.values()]
    return [dict(zip(params, combo)) for combo in itertools.product(*axes)]


def expand_params(params: Any, *, n: int | None = None, seed: Any = None
                  ) -> list[dict[str, Any]]:
    """Turn ``tune``'s ``params`` into the list of candidates, each a plain dict.

    Parameters
    ----------
    params : Mapping or Sequence[Mapping]
        A grid (mapping whose ``multirun([...])`` values are swept, in key order, the last
        key varying fastest), a list of dicts, or a mapping of :mod:`mushin_nb.rand`
        distributions drawn ``n`` times with ``seed`` (draws that repeat are dropped).
    n, seed : int, optional
        Number of random draws and their seed; only with distributions.

    Examples
    --------
    >>> from mushin_nb.workflows import multirun
    >>> expand_params({"lr": multirun([0.1, 0.01]), "width": 8})
    [{'lr': 0.1, 'width': 8}, {'lr': 0.01, 'width': 8}]
    """
    if isinstance(params, Mapping):
        _check_keys("params", params)
        if not params:
            raise bad_value("params", params, "a non-empty grid, list of dicts or space",
                            "e.g. {'lr': multirun([0.1, 0.01])}")
        drawn = any(isinstance(v, Distribution) for v in params.values())
        if drawn and any(_is_multirun(v) for v in params.values()):
            raise bad_value("params", params, "either a grid (multirun values) or a random "
                            "space (mushin_nb.rand values), not both",
                            "list the grid values with rand.oneof([...]) instead")
        if drawn:
            if n is None or seed is None:
                raise bad_value("n" if n is None else "seed", None,
                                "given when params holds mushin_nb.rand distributions",
                                "pass n=<number of draws> and seed=<int>")
            return _unique(sample({k: _fixed(v) for k, v in params.items()}, n, seed=seed))
        candidates = _grid(params)
    elif isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
        if len(params) == 0:
            raise bad_value("params", params, "a non-empty list of dicts",
                            "e.g. [{'lr': 0.1}, {'lr': 0.01}]")
        for i, item in enumerate(params):
            if not isinstance(item, Mapping):
                raise bad_value(f"params[{i}]", item, "a dict of parameter values",
                                cls=MushinTypeError)
            _check_keys(f"params[{i}]", item)
        candidates = [dict(item) for item in params]
    else:
        raise bad_value("params", params, "a mapping (grid or random space) or a list of dicts",
                        "e.g. {'lr': multirun([0.1, 0.01])}", cls=MushinTypeError)
    if n is not None or seed is not None:
        raise bad_value("n" if n is not None else "seed", n if n is not None else seed,
                        "None unless params holds mushin_nb.rand distributions",
                        "drop n= and seed=, or use rand.uniform/loguniform/ints/oneof values")
    return candidates


def _unique(draws: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for draw in draws:
        seen.setdefault(json.dumps(jsonable(draw), sort_keys=True), draw)
    return list(seen.values())


def jsonable(value: Any) -> Any:
    """A JSON-safe picture of a parameter value (``repr`` for what JSON cannot hold)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else repr(number)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, functools.partial):
        return {"partial": jsonable(value.func), "args": jsonable(value.args),
                "keywords": jsonable(value.keywords)}
    if isinstance(value, type) or inspect.isroutine(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', value)}"
    # default reprs carry a memory address, which differs between runs and breaks resume
    return _ADDRESS.sub("", repr(value))


def check_no_seed(candidates: list[dict[str, Any]]) -> None:
    """With ``seeds=`` the seed is never tuned: refuse a candidate that sets it."""
    for candidate in candidates:
        if "seed" in candidate:
            raise MushinValueError(
                f"`params` must not contain 'seed' when `seeds` is given, got "
                f"seed={candidate['seed']!r}. Fix: drop 'seed' from params; each candidate "
                "trains on every seed of `seeds` and reads it as params['seed'].")
