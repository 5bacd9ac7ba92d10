"""Seeds as people type them: ``"0-4"``, ``"0,1,2"``, ``"range(5)"``, parsed without eval.

The text is a comma-separated list of items; an item is a non-negative int (``7``), an
inclusive span (``0-4``) or a ``range(stop)`` / ``range(start, stop[, step])`` with
non-negative int arguments and a positive step. The seeds keep the order written and
must be unique. :func:`format_seeds` writes a list back in the shortest such form.
"""

from __future__ import annotations

import numbers
import re
from collections import Counter
from collections.abc import Iterable

from mushin_nb.errors import MushinTypeError, bad_value

__all__ = ["MAX_SEED", "MAX_SEEDS", "format_seeds", "parse_seeds"]

#: Largest seed: what a signed 64-bit int (and ``torch.manual_seed``) holds.
MAX_SEED = 2**63 - 1
#: Most seeds one text may expand to (a typo like ``0-1000000000`` must not eat the memory).
MAX_SEEDS = 100_000
_INT = r"\s*(\d+)\s*"
_ITEM = re.compile(rf"^{_INT}$")
_SPAN = re.compile(rf"^{_INT}-{_INT}$")
_RANGE = re.compile(rf"^\s*range\s*\(({_INT}(?:,{_INT}){{0,2}})\)\s*$")
_COMMA = re.compile(r",(?![^(]*\))")  # a comma outside range(...)
_FORMS = "e.g. '0-4', '0,1,2' or 'range(5)'"


def _int(digits: str, whole: str) -> int:
    # checked before int(): Python refuses to convert very long digit strings
    if len(digits) > 19 or int(digits) > MAX_SEED:
        raise bad_value("seeds", whole, f"seeds up to {MAX_SEED} (2**63 - 1)",
                        f"use a smaller seed than {digits[:30]}")
    return int(digits)


def _item(text: str, whole: str) -> range:
    """The seeds of one comma-separated item, as a range."""
    if not text.strip():
        raise bad_value("seeds", whole, f"comma-separated seeds ({_FORMS})",
                        "remove the empty item (two commas in a row, or one at an end)")
    if match := _ITEM.match(text):
        value = _int(match.group(1), whole)
        return range(value, value + 1)
    if match := _SPAN.match(text):
        start, stop = _int(match.group(1), whole), _int(match.group(2), whole)
        if stop < start:
            raise bad_value("seeds", whole, "spans written low-high",
                            f"write {stop}-{start} instead of {text.strip()}")
        return range(start, stop + 1)
    if match := _RANGE.match(text):
        args = [_int(arg.strip(), whole) for arg in match.group(1).split(",")]
        if len(args) == 3 and args[2] == 0:
            raise bad_value("seeds", whole, "a range with a positive step",
                            f"fix the step of {text.strip()}")
        return range(*args)
    raise bad_value("seeds", whole, f"comma-separated non-negative ints, spans or ranges "
                    f"({_FORMS})", f"{text.strip()!r} is none of these")


def parse_seeds(text: str) -> list[int]:
    """The seeds written in ``text``, in order.

    Parameters
    ----------
    text : str
        Comma-separated items: ``7``, ``0-4`` (inclusive) or ``range(start, stop, step)``.

    Returns
    -------
    list of int
        Unique, non-negative, in the order written.

    Raises
    ------
    MushinValueError
        Empty text, an unknown item, a reversed span, a repeated seed, or more than
        :data:`MAX_SEEDS` seeds; the message names the problem.
    MushinTypeError
        ``text`` is not a str.

    Examples
    --------
    >>> parse_seeds("0-4")
    [0, 1, 2, 3, 4]
    >>> parse_seeds("range(2, 8, 3), 10")
    [2, 5, 10]
    >>> parse_seeds("0, 1, 1")
    Traceback (most recent call last):
    ...
    mushin_nb.errors.MushinValueError: `seeds` must be unique seeds, got '0, 1, 1' (type: str). Fix: remove the repeated seed(s) [1]
    """  # noqa: E501
    if not isinstance(text, str):
        raise bad_value("seeds", text, f"a str ({_FORMS})", cls=MushinTypeError)
    if not text.strip():
        raise bad_value("seeds", text, f"at least one seed ({_FORMS})", "type the seeds")
    items = [_item(part, text) for part in _COMMA.split(text)]
    total = sum(len(item) for item in items)
    if total > MAX_SEEDS:
        raise bad_value("seeds", text, f"at most {MAX_SEEDS} seeds ({total} written)",
                        "shorten the spans")
    if total == 0:
        raise bad_value("seeds", text, "at least one seed (these ranges are empty)",
                        "check the ranges' start and stop")
    seeds = [seed for item in items for seed in item]
    repeated = sorted(seed for seed, count in Counter(seeds).items() if count > 1)
    if repeated:
        raise bad_value("seeds", text, "unique seeds", f"remove the repeated seed(s) {repeated}")
    return seeds


def format_seeds(seeds: Iterable[int]) -> str:
    """The shortest text :func:`parse_seeds` reads back as ``seeds``.

    Runs of three or more consecutive seeds become spans (``0-4``); the order is kept.

    Examples
    --------
    >>> format_seeds([0, 1, 2, 3, 4])
    '0-4'
    >>> format_seeds([3, 0, 1, 2, 9, 10])
    '3,0-2,9,10'
    """
    values = list(seeds)
    for seed in values:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise bad_value("seeds", values, "non-negative ints", f"{seed!r} is not an int",
                            MushinTypeError)
        if seed < 0:
            raise bad_value("seeds", values, "non-negative ints", f"{seed!r} is negative")
    values = [int(seed) for seed in values]
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{values[i]}-{values[j]}")
        else:
            parts.extend(str(v) for v in values[i:j + 1])
        i = j + 1
    return ",".join(parts)
