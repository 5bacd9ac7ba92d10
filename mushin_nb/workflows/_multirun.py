"""Sweep parameters to Hydra override strings and back: ``multirun``, ``hydra_list``.

``multirun([...])`` marks a value to sweep over, ``hydra_list([...])`` a list passed as one
value (both are hydra-zen's own markers, so values built with either library work).
Values are written in Hydra's override grammar with Hydra's own formatter, and every
literal is checked to parse back to itself, so what a job receives is what was passed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Quote, QuotedString, ValueType
from hydra_zen import hydra_list, multirun

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value

__all__ = [
    "hydra_list",
    "multirun",
    "expand_sweep",
    "format_param",
    "param_name",
    "parse_override",
    "parse_task_overrides",
]

_ALLOWED = "a bool, int, float, str, dict, multirun([...]) or hydra_list([...])"


@lru_cache(maxsize=1)
def _parser() -> OverridesParser:
    return OverridesParser.create()


_KNOWN: dict[str, Override] = {}  # job override lines whose parse is already known


def parse_override(line: str) -> Override:
    """Parse one override string with Hydra's grammar (cached: sweeps repeat values).

    Examples
    --------
    >>> parse_override("+lr=0.1").value()
    0.1
    """
    override = _KNOWN.get(line)
    if override is None:
        if len(_KNOWN) > 100_000:  # a long-lived kernel running many sweeps
            _KNOWN.clear()
        override = _KNOWN[line] = _parser().parse_override(line)
    return override


def expand_sweep(override: Override) -> list[str]:
    """The job override lines of one (sweep or fixed) override, as Hydra's basic sweeper
    writes them; their parses are remembered, so jobs never run Hydra's parser again.

    Examples
    --------
    >>> expand_sweep(parse_override("+seed=range(0,3)"))
    ['+seed=0', '+seed=1', '+seed=2']
    """
    key = override.get_key_element()
    if not override.is_sweep_override():
        line = f"{key}={override.get_value_element_as_str()}"
        _KNOWN.setdefault(line, dataclasses.replace(override, input_line=line))
        return [line]
    lines = []
    for text, raw in zip(override.sweep_string_iterator(), override.sweep_iterator()):
        line = f"{key}={text}"
        _KNOWN.setdefault(line, dataclasses.replace(
            override, value_type=ValueType.ELEMENT, _value=raw, input_line=line))
        lines.append(line)
    return lines


def param_name(key_element: str) -> str:
    """Strip Hydra's ``+``/``++``/``~`` prefixes from an override key.

    Examples
    --------
    >>> param_name("++model.lr")
    'model.lr'
    """
    return key_element.lstrip("+~")


def _plain(value: Any) -> Any:
    """NumPy scalars to Python scalars, so that ``np.linspace(...)`` values sweep."""
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(
        value, "ndim", None
    ) == 0:
        return value.item()
    return value


def _check(arg: str, value: Any, *, in_list: bool = False) -> Any:
    """Validate a parameter value and return it with NumPy scalars made plain."""
    value = _plain(value)
    if value is None:
        raise bad_value(arg, value, "a value (None cannot be swept or passed)",
                        "omit the parameter, or pass a sentinel such as the string 'none'")
    if isinstance(value, multirun):
        raise bad_value(arg, value, "a plain value (multirun cannot be nested)",
                        "pass one flat multirun([...]) per parameter", MushinTypeError)
    if isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise bad_value(f"{arg} key", key, "an identifier string",
                                "use keys such as 'lr' or 'hidden_size'", MushinTypeError)
            out[key] = _check(f"{arg}[{key!r}]", item, in_list=True)
        return out
    if isinstance(value, (hydra_list, list, tuple)) and (in_list or isinstance(value, hydra_list)):
        return [_check(f"{arg}[{i}]", item, in_list=True) for i, item in enumerate(value)]
    if isinstance(value, (list, tuple)):
        raise bad_value(arg, value, _ALLOWED,
                        f"wrap it: {arg}=multirun([...]) sweeps over the items, "
                        f"{arg}=hydra_list([...]) passes the whole list as one value",
                        MushinTypeError)
    raise bad_value(arg, value, _ALLOWED,
                    "pass plain values (numbers, strings, lists of them); build objects "
                    "inside the task from these values, or put a hydra_zen.builds(...) "
                    "config in the workflow's config", MushinTypeError)


def _same(parsed: Any, value: Any) -> bool:
    if isinstance(value, float) and isinstance(parsed, float) and math.isnan(value):
        return math.isnan(parsed)
    if isinstance(value, list):
        return isinstance(parsed, list) and len(parsed) == len(value) and all(
            _same(p, v) for p, v in zip(parsed, value))
    if isinstance(value, dict):
        return isinstance(parsed, dict) and parsed.keys() == value.keys() and all(
            _same(parsed[k], v) for k, v in value.items())
    return type(parsed) is type(value) and parsed == value


def _parses_to(text: str, value: Any) -> bool:
    try:
        return _same(parse_override(f"k={text}").value(), value)
    except Exception:  # Hydra's grammar errors come in several exception types
        return False


def _element(value: Any, literal_strings: bool) -> str:
    """Render one checked value in Hydra's override grammar."""
    if isinstance(value, str):
        if not literal_strings:
            return value  # the anchor's convention: a str is raw override syntax
        if "${" in value:  # a literal, not an OmegaConf interpolation
            return QuotedString(text=value.replace("${", "\\${"),
                                quote=Quote.single).with_quotes()
        # plain when Hydra reads it back unchanged, else quoted (readable, unlike escapes)
        if Override._get_value_element_as_str(value) == value and _parses_to(value, value):
            return value
        return QuotedString(text=value, quote=Quote.single).with_quotes()
    if isinstance(value, list):
        return "[" + ",".join(_element(v, literal_strings) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_element(v, literal_strings)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def format_param(name: str, value: Any, *, literal_strings: bool = True, prefix: str = "+",
                 singleton_sweep: bool = False) -> str:
    """Return the override string ``<prefix><name>=<value>`` for one parameter.

    Parameters
    ----------
    name : str
        Config key the value goes to.
    value : bool | int | float | str | dict | multirun | hydra_list
        ``multirun`` values are swept; anything else is one fixed value.
    literal_strings : bool
        ``True``: strings are values (quoted as needed).  ``False``: strings are raw
        override syntax, as in rai-toolbox (``"1,2,3"`` sweeps).
    prefix : str
        ``"+"`` adds the key, ``""`` overrides an existing one.
    singleton_sweep : bool
        Write a one-item ``multirun`` as ``choice(v)`` so that it stays a dimension.

    Raises
    ------
    MushinTypeError, MushinValueError
        For values that cannot be written as overrides (objects, ``None``, bare lists).

    Examples
    --------
    >>> format_param("lr", multirun([0.1, 0.01]))
    '+lr=0.1,0.01'
    >>> format_param("name", "a b,c")
    "+name='a b,c'"
    >>> format_param("layers", hydra_list([64, 32]), prefix="")
    'layers=[64,32]'
    """
    if isinstance(value, multirun):
        items = [_check(f"{name}[{i}]", v, in_list=True) for i, v in enumerate(value)]
        if not items:
            raise bad_value(name, value, "a non-empty multirun([...])",
                            "give at least one value to sweep over")
        text = ",".join(_element(v, literal_strings) for v in items)
        if len(items) == 1 and singleton_sweep:
            text = f"choice({text})"
    else:
        checked = _check(name, value)
        text = _element(checked, literal_strings)
        if literal_strings and not isinstance(checked, str):
            if not _parses_to(text, checked):
                raise bad_value(name, value, "a value Hydra's override grammar can express",
                                "use plain numbers, identifier-keyed dicts and strings")
    return f"{prefix}{name}={text}"


def parse_task_overrides(overrides: list[str]) -> dict[str, Any]:
    """Map ``param -> value`` for task overrides; swept values come back as ``multirun``.

    Examples
    --------
    >>> out = parse_task_overrides(["+lr=0.1,0.01", "+seed=range(0,3)", "+opt=adam"])
    >>> out
    {'lr': [0.1, 0.01], 'seed': [0, 1, 2], 'opt': 'adam'}
    >>> isinstance(out["seed"], multirun)
    True
    """
    out: dict[str, Any] = {}
    for line in overrides:
        override = parse_override(line)
        name = param_name(override.get_key_element())
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise MushinValueError(
                    f"`overrides` entry {line!r} is a {override.value_type.name} sweep; only "
                    "lists, choice(...) and range(...) can be run as a grid. Fix: list the "
                    "values, e.g. lr=0.1,0.01")
            out[name] = multirun([_literal(Override._convert_value(v))
                                  for v in override.sweep_iterator()])
        else:
            out[name] = _literal(override.value())
    return out


def _literal(value: Any) -> Any:
    """A value as the job sees it: ``\\${`` (an escaped interpolation) reads ``${``."""
    if isinstance(value, str):
        return value.replace("\\${", "${")
    if isinstance(value, list):
        return [_literal(v) for v in value]
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    return value
