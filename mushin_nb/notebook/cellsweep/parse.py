"""The ``%%mushin`` and ``%mushin`` lines parsed: Hydra overrides, ``--options``, commands.

The magic line is Hydra's override grammar (``lr=0.1,0.01 seed=range(0,5)``) plus a
few ``--options``; :func:`parse_sweep_line` turns it into sweep parameters, and
:func:`parse_command` reads the ``%mushin load`` and ``%mushin compare`` lines. Nothing is
evaluated; an error points a caret at the column.
"""

from __future__ import annotations

import keyword
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mushin_nb.errors import MushinSyntaxError, MushinTypeError, bad_value

__all__ = ["COMMANDS", "DEFAULT_OUT", "SweepOptions", "parse_command", "parse_sweep_line"]

#: Name the Dataset gets in the notebook when ``--out`` is not given.
DEFAULT_OUT = "_mushin"

_GRAMMAR_HINT = "write Hydra overrides, e.g. `lr=0.1,0.01 seed=range(0,5) name='a b'`"
_OPENERS, _CLOSERS = "([{", ")]}"


@dataclass(frozen=True)
class SweepOptions:
    """The ``--options`` of a ``%%mushin`` line (defaults: no option given)."""

    out: str = DEFAULT_OUT
    working_dir: str | None = None
    launcher: str | None = None
    resume: bool = True
    raise_on_failure: bool = False
    gpus_per_job: float | None = None


# ----------------------------------------------------------------------------- the line


def _syntax_error(line: str, column: int, what: str, fix: str = _GRAMMAR_HINT,
                  magic: str = "%%mushin") -> MushinSyntaxError:
    """A readable error pointing a caret at ``column`` (0-based) of ``line``."""
    err = MushinSyntaxError(
        f"Cannot parse the {magic} line at column {column + 1}: {what}\n"
        f"    {line}\n    {' ' * column}^\nFix: {fix}"
    )
    err.text, err.offset = line, column + 1  # what IDEs and tracebacks read
    return err


def _split(line: str) -> list[tuple[int, str]]:
    """Split ``line`` into ``(start, token)`` on whitespace outside quotes and brackets.

    Quotes are kept: in Hydra's grammar they carry meaning (``'1'`` is a string, ``1`` an
    int), which is why ``shlex`` is kept for option values only.  Whitespace next to a
    ``,`` or ``=`` does not split, so ``lr=0.1, 0.01`` is one override.
    """
    tokens: list[tuple[int, str]] = []
    start, depth, quote, escaped = None, 0, "", False
    for i, ch in enumerate(line):
        if start is None:
            if ch.isspace():
                continue
            start = i
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in _OPENERS:
            depth += 1
        elif ch in _CLOSERS:
            depth = max(depth - 1, 0)
        elif ch.isspace() and depth == 0:
            before = line[start:i].rstrip()
            after = line[i:].lstrip()
            if before.endswith((",", "=")) or after.startswith(","):
                continue
            tokens.append((start, line[start:i]))
            start = None
    if start is not None:
        tokens.append((start, line[start:]))
    return tokens


def _first_grammar_error(text: str) -> tuple[int, str] | None:
    """Column and message of the first syntax error ANTLR reports for one override."""
    from antlr4.error.ErrorListener import ErrorListener
    from hydra.grammar.gen.OverrideLexer import CommonTokenStream, InputStream, OverrideLexer
    from hydra.grammar.gen.OverrideParser import OverrideParser

    class _Where(ErrorListener):
        def __init__(self) -> None:
            self.hits: list[tuple[int, str]] = []

        def syntaxError(self, recognizer, offending, line, column, msg, e):  # noqa: N802
            self.hits.append((column, msg))

    where = _Where()
    lexer = OverrideLexer(InputStream(text))
    lexer.removeErrorListeners()
    lexer.addErrorListener(where)
    parser = OverrideParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(where)
    parser.override()
    if not where.hits:
        return None
    column, msg = where.hits[0]
    return column, msg.split(" expecting {")[0]  # the full token set is noise to a reader


def _plain(value: Any) -> Any:
    """Hydra keeps the quotes of swept strings (``QuotedString``); the cell wants ``str``."""
    from hydra.core.override_parser.types import QuotedString

    if isinstance(value, QuotedString):
        return value.text
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _parse_override(line: str, start: int, text: str) -> tuple[str, Any]:
    """One ``name=value`` token -> ``(name, value)``; a sweep becomes ``multirun([...])``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from mushin_nb.workflows import multirun

    if "=" not in text:
        raise _syntax_error(line, start, f"expected `name=value`, got {text!r}",
                            "write `name=value`; quote values with spaces: name='a b'")
    try:
        override = OverridesParser.create().parse_override(text)
    except HydraException as exc:
        found = _first_grammar_error(text)
        if found is None:  # the grammar is fine, evaluating it failed (e.g. choice())
            column = text.index("=") + 1
            reason = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
        else:
            column, reason = found
        raise _syntax_error(line, start + column, reason) from None
    name = override.key_or_group
    if override.type.name != "CHANGE" or override.package is not None:
        raise _syntax_error(line, start, f"{text!r} is not a plain `name=value` override",
                            "drop the `+`, `++`, `~` or `@package`: a cell has no config "
                            "to add to or delete from")
    if not name.isidentifier() or keyword.iskeyword(name):
        raise _syntax_error(line, start, f"{name!r} cannot be a variable of the cell",
                            "use a Python identifier as the name, e.g. `lr=0.1`")
    if not override.is_sweep_override():
        return name, override.value()
    sweep = override.value()
    if override.is_interval_sweep():
        raise _syntax_error(line, start + len(name) + 1, "interval() has no values to run",
                            "list the values: `choice(...)`, `range(...)` or `a,b,c`")
    if getattr(sweep, "shuffle", False):
        raise _syntax_error(line, start + len(name) + 1,
                            "shuffle() would give the sweep a random order",
                            "list the values in the order you want them")
    values = [_plain(v) for v in override.sweep_iterator()]
    if not values:
        raise _syntax_error(line, start + len(name) + 1, f"{text!r} has no values",
                            "give at least one value, e.g. `seed=range(0,5)`")
    return name, multirun(values)


def _identifier(option: str, value: str) -> str:
    if not value.isidentifier() or keyword.iskeyword(value):
        raise bad_value(option, value, "a Python identifier", f"e.g. `{option} ds`")
    return value


def _read_options(line: str, tokens: list[tuple[int, str]], valued: Mapping[str, str],
                  flags: Mapping[str, tuple[str, Any]], magic: str = "%%mushin"
                  ) -> tuple[list[tuple[int, str]], dict[str, Any]]:
    """Split tokens into positional ones and ``--options`` (``--opt V``, ``--opt=V``, flags).

    Option values are unquoted with ``shlex`` (``--working-dir 'my runs'``).
    """
    positional: list[tuple[int, str]] = []
    chosen: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        start, text = tokens[i]
        i += 1
        if not text.startswith("--"):
            positional.append((start, text))
            continue
        option, eq, inline = text.partition("=")
        if option in flags and not eq:
            key, value = flags[option]
        elif option in valued:
            if eq:
                raw = inline
            elif i < len(tokens) and not tokens[i][1].startswith("--"):
                raw = tokens[i][1]
                i += 1
            else:
                raise _syntax_error(line, start, f"{option} needs a value",
                                    f"write `{option} VALUE`", magic)
            try:
                parts = shlex.split(raw)
            except ValueError as exc:
                raise _syntax_error(line, start, f"{option} {raw}: {exc}",
                                    "close the quote", magic) from None
            if len(parts) != 1:
                raise _syntax_error(line, start, f"{option} takes one value, got {raw!r}",
                                    "quote a value that has spaces: --working-dir 'my runs'",
                                    magic)
            key, value = valued[option], parts[0]
        else:
            known = ", ".join([*valued, *flags])
            raise _syntax_error(line, start, f"unknown option {text!r}", f"use one of {known}",
                                magic)
        chosen[key] = value
    if "out" in chosen:
        _identifier("--out", chosen["out"])
    return positional, chosen


def _gpus(text: str) -> float:
    """``--gpus-per-job`` as a number (int when whole); its range is the sweep's to check."""
    try:
        value = float(text)
    except ValueError:
        raise bad_value("--gpus-per-job", text, "a number of GPUs per job",
                        "write e.g. --gpus-per-job 1 (or 0.5 to share a GPU)") from None
    return int(value) if value.is_integer() else value


def parse_sweep_line(line: str) -> tuple[dict[str, Any], SweepOptions]:
    """Parse a ``%%mushin`` line into sweep parameters and options; nothing is evaluated.

    Parameters
    ----------
    line : str
        Hydra overrides separated by spaces (``lr=0.1,0.01 seed=range(0,5) opt=adam``)
        and the options ``--out NAME``, ``--working-dir DIR``, ``--launcher NAME``,
        ``--gpus-per-job N``, ``--no-resume``, ``--raise``.

    Returns
    -------
    params : dict
        Name -> value, in the order given; swept values are wrapped in
        ``mushin_nb.workflows.multirun``, the others are fixed.
    options : SweepOptions

    Raises
    ------
    MushinSyntaxError
        The line does not parse; the message points a caret at the column.

    Examples
    --------
    >>> params, options = parse_sweep_line("lr=0.1,0.01 seed=range(0,3) tag='1' --out ds")
    >>> {name: list(value) if isinstance(value, list) else value
    ...  for name, value in params.items()}
    {'lr': [0.1, 0.01], 'seed': [0, 1, 2], 'tag': '1'}
    >>> options.out
    'ds'
    """
    if not isinstance(line, str):
        raise bad_value("line", line, "a str", "pass the magic's line as text", MushinTypeError)
    overrides, chosen = _read_options(
        line, _split(line),
        valued={"--out": "out", "--working-dir": "working_dir", "--launcher": "launcher",
                "--gpus-per-job": "gpus_per_job"},
        flags={"--no-resume": ("resume", False), "--raise": ("raise_on_failure", True)})
    if "gpus_per_job" in chosen:
        chosen["gpus_per_job"] = _gpus(chosen["gpus_per_job"])
    params: dict[str, Any] = {}
    for start, text in overrides:
        name, value = _parse_override(line, start, text)
        if name in params:
            raise _syntax_error(line, start, f"{name!r} is given twice",
                                f"give all values of {name!r} in one override: {name}=a,b,c")
        params[name] = value
    return params, SweepOptions(**chosen)


#: The ``%mushin`` line commands: positional arguments, ``--options`` and their defaults.
COMMANDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "load": (("DIR",), {"out": DEFAULT_OUT}),
    "compare": (("NAME",), {"over": "seed", "by": None, "test": "welch", "alpha": 0.05,
                            "out": "_mushin_compare"}),
    "plan": (("NAME",), {"over": "seed", "by": None, "test": "welch", "alpha": 0.05,
                         "power": 0.8, "effect": None, "out": "_mushin_plan"}),
}


def parse_command(line: str) -> tuple[str, list[str], dict[str, Any]]:
    """Parse a ``%mushin`` line: ``load DIR [--out NAME]``, ``compare NAME [--over DIM]
    [--by DIM] [--test NAME] [--alpha A] [--out NAME]`` or ``plan NAME`` with the options of
    ``compare`` and ``[--power P] [--effect E]``.

    Returns
    -------
    command : str
    args : list of str
        The positional arguments, unquoted.
    options : dict
        Every option of the command, defaults filled in.

    Examples
    --------
    >>> command, args, options = parse_command("compare ds --by lr --alpha 0.01")
    >>> command, args, options["by"], options["alpha"], options["over"]
    ('compare', ['ds'], 'lr', 0.01, 'seed')
    """
    if not isinstance(line, str):
        raise bad_value("line", line, "a str", "pass the magic's line as text", MushinTypeError)
    tokens = _split(line)
    usage = "; ".join(f"%mushin {name} {' '.join(args)} [--{' --'.join(opts)}]"
                      for name, (args, opts) in COMMANDS.items())
    if not tokens or tokens[0][1] not in COMMANDS:
        where = tokens[0] if tokens else (len(line), "")
        raise _syntax_error(line, where[0], f"unknown command {where[1]!r}",
                            f"use {usage}; a sweep is a cell magic: %%mushin lr=0.1,0.01",
                            "%mushin")
    command = tokens[0][1]
    names, defaults = COMMANDS[command]
    valued = {f"--{key.replace('_', '-')}": key for key in defaults}
    positional, chosen = _read_options(line, tokens[1:], valued, flags={}, magic="%mushin")
    if len(positional) != len(names):
        where = positional[len(names)][0] if len(positional) > len(names) else len(line)
        raise _syntax_error(line, where, f"`{command}` takes {len(names)} argument(s) "
                            f"{' '.join(names)}, got {len(positional)}", f"use {usage}",
                            "%mushin")
    args = [shlex.split(text)[0] if shlex.split(text) else text for _, text in positional]
    for key, hint in (("alpha", "a number in (0, 1)"), ("power", "a number in (alpha, 1)"),
                      ("effect", "a difference in the metric's units")):
        if key in chosen:
            try:
                chosen[key] = float(chosen[key])
            except ValueError:
                raise bad_value(f"--{key}", chosen[key], hint,
                                f"e.g. --{key} {defaults[key] or 0.01}") from None
    return command, args, {**defaults, **chosen}
