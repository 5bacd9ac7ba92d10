"""Code fingerprints: a short hash of a train_fn's code, recorded with each checkpoint."""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable
from typing import Any


def _fingerprint(fn: Callable[..., Any]) -> str:
    """A short hash of a train_fn's code, to notice checkpoints trained by older code.

    It follows ``__wrapped__`` and :func:`functools.partial` (whose arguments count), and
    hashes the source of a function, or of the class of a callable object (plus what its
    ``_code_settings()`` returns, if it has one). Values a function reads from outside
    (globals, closure cells) are not part of it.
    """
    parts = []
    while True:
        if isinstance(fn, functools.partial):
            parts.append(repr((fn.args, sorted(fn.keywords.items()))))
            fn = fn.func
        elif getattr(fn, "__wrapped__", None) is not None:
            fn = fn.__wrapped__
        else:
            break
    settings = getattr(fn, "_code_settings", None)  # a callable object's own settings
    if callable(settings):
        parts.append(repr(settings()))
    target = fn if inspect.isroutine(fn) or inspect.isclass(fn) else type(fn)
    try:
        parts.append(inspect.getsource(target))
    except (OSError, TypeError):  # built-ins, code typed at a plain REPL
        parts.append(f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', '')}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
