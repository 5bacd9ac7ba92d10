"""The exception tree of mushin_nb and the one helper that builds its messages.

Every error raised on bad input is a :class:`MushinError` and also the matching
built-in, so ``except ValueError`` keeps working for callers who do not know us.
Messages name the argument, show the value with its type, and say the fix.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MushinError",
    "MushinValueError",
    "MushinTypeError",
    "MushinKeyError",
    "MushinFileNotFoundError",
    "MushinFileExistsError",
    "MushinNotADirectoryError",
    "MushinRuntimeError",
    "MushinSyntaxError",
    "MushinImportError",
    "NotRunError",
    "SweepFailedError",
    "JobSkipped",
    "describe",
    "bad_value",
]


class MushinError(Exception):
    """Base class of every error raised by mushin_nb."""


class MushinValueError(MushinError, ValueError):
    """An argument has the right type but an unusable value."""


class MushinTypeError(MushinError, TypeError):
    """An argument has the wrong type."""


class MushinKeyError(MushinError, KeyError):
    """A name (metric, method, parameter) is not known."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class MushinFileNotFoundError(MushinError, FileNotFoundError):
    """A path that must exist does not."""


class MushinFileExistsError(MushinError, FileExistsError):
    """A path that must not be overwritten already exists."""


class MushinNotADirectoryError(MushinError, NotADirectoryError):
    """A path that must be a directory is a file."""


class MushinRuntimeError(MushinError, RuntimeError):
    """An operation cannot proceed in the current state."""


class NotRunError(MushinRuntimeError):
    """Results were asked for before anything was run or loaded."""


class SweepFailedError(MushinRuntimeError):
    """One or more jobs of a sweep failed and the caller asked to raise."""


class MushinSyntaxError(MushinError, SyntaxError):
    """A magic line or override string could not be parsed."""


class MushinImportError(MushinError, ImportError):
    """An optional dependency is missing."""


class JobSkipped(Exception):  # noqa: N818 - a signal, named like optuna.TrialPruned
    """Raise inside a sweep's task to skip its job: not an error of the job.

    The job is recorded as ``"skipped"`` (with the message as its reason): its cells are
    NaN, it is listed in the workflow's ``skipped`` and not in ``failures``, the live
    progress shows it as skipped, and the next run over the same ``working_dir`` runs it
    again.  Use it for a job that cannot or should not run now (a stop button, a missing
    resource), as ``optuna.TrialPruned`` is used for a pruned trial.

    Examples
    --------
    >>> def task(lr):
    ...     if lr > 1:
    ...         raise JobSkipped("lr > 1 diverges; not worth the compute")
    ...     return {"loss": lr}
    """


def describe(value: Any, limit: int = 80) -> str:
    """Return ``repr(value)`` (shortened) followed by its type, for error messages.

    Examples
    --------
    >>> describe(1)
    '1 (type: int)'
    """
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} (type: {type(value).__name__})"


def bad_value(
    arg: str,
    value: Any,
    expected: str,
    fix: str | None = None,
    cls: type[MushinError] = MushinValueError,
) -> MushinError:
    """Build the standard error for argument ``arg``.

    Parameters
    ----------
    arg : str
        Name of the argument, as the user wrote it.
    value : Any
        The offending value.
    expected : str
        What the argument must be, e.g. ``"a positive int"``.
    fix : str, optional
        One sentence telling the user what to do.
    cls : type of MushinError
        The class to instantiate.

    Examples
    --------
    >>> str(bad_value("alpha", 2.0, "a float in (0, 1)", "use e.g. alpha=0.05"))
    '`alpha` must be a float in (0, 1), got 2.0 (type: float). Fix: use e.g. alpha=0.05'
    """
    message = f"`{arg}` must be {expected}, got {describe(value)}."
    if fix:
        message += f" Fix: {fix}"
    return cls(message)
