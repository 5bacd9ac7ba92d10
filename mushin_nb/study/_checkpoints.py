"""Where a train_fn saves its checkpoint, and the loaders that read checkpoints back safely.

Checkpoints load with ``torch.load(weights_only=True)``: :func:`load_checkpoint` (the
default ``load_fn`` of a Study) loads whole models built from torch.nn's own layers or from
classes allow-listed with ``torch.serialization.add_safe_globals``;
:func:`state_dict_loader` rebuilds a model from a state dict; :func:`load_module` unpickles
any module, only from files the user declares trusted.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinTypeError,
    MushinValueError,
    bad_value,
    describe,
)

PathLike = str | os.PathLike
#: Name of the folder of ``working_dir`` where train_fns are offered to save checkpoints.
CHECKPOINTS = "checkpoints"
_CHECKPOINT_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "mushin_nb_checkpoint_dir", default=None
)


def checkpoint_dir() -> Path:
    """The folder where a ``train_fn`` should save its checkpoint.

    Inside a job of a :class:`Study` it is ``<working_dir>/checkpoints`` (absolute, created);
    elsewhere it is ``checkpoints`` in the current directory (created).

    Examples
    --------
    >>> def train_mlp(seed):
    ...     path = checkpoint_dir() / f"mlp_{seed}.pt"
    ...     ...  # train, then torch.save(model.state_dict(), path)
    ...     return path
    """
    folder = _CHECKPOINT_DIR.get() or Path(CHECKPOINTS).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _torch_load(path: PathLike, map_location: Any, weights_only: bool) -> Any:
    import torch

    path = Path(path)
    if not path.is_file():
        raise bad_value("path", str(path), "an existing checkpoint file",
                        "check the path returned by the train_fn", MushinFileNotFoundError)
    if not weights_only:
        return torch.load(path, map_location=map_location, weights_only=False)
    # torch.nn's own layers rebuild from plain data: a model made only of them loads safely
    with torch.serialization.safe_globals(_torch_nn_classes()):
        return torch.load(path, map_location=map_location, weights_only=True)


def _torch_nn_classes() -> list[type]:
    import inspect

    from torch import nn

    return [c for c in vars(nn).values() if inspect.isclass(c) and issubclass(c, nn.Module)]


def _unsafe_message(path: PathLike, error: Exception) -> str:
    blocked = re.search(r"GLOBAL (\S+) was not an allowed global", str(error))
    what = f" (it names {blocked.group(1)}, not one of torch.nn's layers)" if blocked else ""
    return (
        f"Checkpoint {str(path)!r} holds a pickled object that `torch.load(weights_only=True)` "
        f"refuses{what}: unpickling it could run arbitrary code. Fix: save "
        "`model.state_dict()` and pass `load_fn=mushin_nb.study.state_dict_loader(build_fn)`; "
        "or, only if you trust the file, pass "
        "`load_fn=mushin_nb.study.load_module(trusted=True)`; or allow-list the model's "
        "classes with `torch.serialization.add_safe_globals([...])`."
    )


def load_checkpoint(path: PathLike, map_location: Any = "cpu") -> Any:
    """Load a whole ``torch.nn.Module`` saved with ``torch.save(model, path)``, safely.

    The default ``load_fn`` of :class:`Study`. It uses ``torch.load(weights_only=True)``
    with torch.nn's own layer classes allowed, so a model built only from them
    (``nn.Sequential(nn.Linear(...), ...)``) loads, and so does one whose own classes you
    allow-listed with ``torch.serialization.add_safe_globals``. Anything else (a custom
    class, a state dict, which needs the model it belongs to) is refused, and the error
    says which loader to pass instead.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    map_location : str or torch.device
        Where tensors are loaded (``torch.load``'s argument).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    MushinValueError
        The file holds a state dict, an object ``weights_only`` refuses, or no module.

    Examples
    --------
    >>> import tempfile, torch
    >>> path = Path(tempfile.mkdtemp()) / "mlp.pt"
    >>> torch.save(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU()), path)
    >>> load_checkpoint(path)
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): ReLU()
    )
    """
    import pickle

    import torch

    try:
        obj = _torch_load(path, map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise MushinValueError(_unsafe_message(path, error)) from error
    if isinstance(obj, torch.nn.Module):
        return obj
    if isinstance(obj, Mapping):
        raise MushinValueError(
            f"Checkpoint {str(path)!r} holds a state dict (keys {list(obj)[:3]}...), which needs "
            "the model it belongs to. Fix: pass "
            "`load_fn=mushin_nb.study.state_dict_loader(build_fn)` where `build_fn()` returns "
            "the untrained model."
        )
    raise MushinValueError(
        f"Checkpoint {str(path)!r} holds {describe(obj)}, not a torch.nn.Module. Fix: save the "
        "model (`torch.save(model, path)`) or its state dict, or pass your own `load_fn`."
    )


class _ModuleLoader:
    """Picklable ``load_fn`` of :func:`load_module`."""

    def __init__(self, map_location: Any) -> None:
        self.map_location = map_location

    def __call__(self, path: PathLike) -> Any:
        import torch

        obj = _torch_load(path, self.map_location, weights_only=False)
        if not isinstance(obj, torch.nn.Module):
            raise MushinValueError(
                f"Checkpoint {str(path)!r} holds {describe(obj)}, not a torch.nn.Module. Fix: "
                "save the whole model (`torch.save(model, path)`), or for a state dict pass "
                "`load_fn=mushin_nb.study.state_dict_loader(build_fn)`.")
        return obj

    def __repr__(self) -> str:
        return f"load_module(trusted=True, map_location={self.map_location!r})"


def load_module(*, trusted: bool = False, map_location: Any = "cpu") -> Callable[[PathLike], Any]:
    """A ``load_fn`` that unpickles whole modules: only for files you trust.

    ``torch.load(weights_only=False)`` runs whatever code the file's pickle names, so
    this loader exists only behind an explicit ``trusted=True``.

    Parameters
    ----------
    trusted : bool
        Must be ``True``: you confirm that every checkpoint comes from a trusted source.
    map_location : str or torch.device
        Where tensors are loaded.

    Examples
    --------
    >>> load_module(trusted=True)
    load_module(trusted=True, map_location='cpu')
    """
    if trusted is not True:
        raise bad_value("trusted", trusted, "True", "pass load_module(trusted=True) to confirm "
                        "that the checkpoints come from a source you trust")
    return _ModuleLoader(map_location)


class _StateDictLoader:
    """Picklable ``load_fn`` of :func:`state_dict_loader`."""

    def __init__(self, build_fn: Callable[[], Any], strict: bool, map_location: Any) -> None:
        self.build_fn, self.strict, self.map_location = build_fn, strict, map_location

    def __call__(self, path: PathLike) -> Any:
        import pickle

        import torch

        try:
            state = _torch_load(path, self.map_location, weights_only=True)
        except pickle.UnpicklingError as error:
            raise MushinValueError(_unsafe_message(path, error)) from error
        if isinstance(state, torch.nn.Module):
            state = state.state_dict()
        # training scripts often wrap the weights: {"state_dict": ...} or {"model_state_dict": ...}
        for key in ("state_dict", "model_state_dict"):
            if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
                state = state[key]
        if not isinstance(state, Mapping):
            raise MushinValueError(
                f"Checkpoint {str(path)!r} holds {describe(state)}, not a state dict. Fix: "
                "save `model.state_dict()`."
            )
        model = self.build_fn()
        if not isinstance(model, torch.nn.Module):
            raise bad_value("build_fn", self.build_fn, "a callable returning a torch.nn.Module",
                            f"it returned {describe(model)}", MushinTypeError)
        model.load_state_dict(state, strict=self.strict)
        return model.to(self.map_location)

    def __repr__(self) -> str:
        return f"state_dict_loader({self.build_fn!r}, strict={self.strict})"


def state_dict_loader(build_fn: Callable[[], Any], *, strict: bool = True,
                      map_location: Any = "cpu") -> Callable[[PathLike], Any]:
    """A ``load_fn`` that rebuilds a model with ``build_fn()`` and loads a state dict into it.

    The state dict is read with ``torch.load(weights_only=True)``, which is safe for
    untrusted files. A dict saved as ``{"state_dict": ...}`` or ``{"model_state_dict": ...}``
    is unwrapped.

    Parameters
    ----------
    build_fn : callable
        Returns the (untrained) ``torch.nn.Module`` the weights belong to.
    strict : bool
        Passed to ``Module.load_state_dict``.
    map_location : str or torch.device
        Where tensors are loaded, and where the model is moved.

    Examples
    --------
    >>> import tempfile, torch
    >>> path = Path(tempfile.mkdtemp()) / "w.pt"
    >>> torch.save(torch.nn.Linear(2, 1).state_dict(), path)
    >>> load = state_dict_loader(lambda: torch.nn.Linear(2, 1))
    >>> load(path)
    Linear(in_features=2, out_features=1, bias=True)
    """
    if not callable(build_fn):
        raise bad_value("build_fn", build_fn, "a callable returning a torch.nn.Module",
                        "e.g. state_dict_loader(lambda: MyNet())", MushinTypeError)
    return _StateDictLoader(build_fn, strict, map_location)
