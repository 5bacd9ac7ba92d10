"""Checkpoint (state dicts of models, optimizers, storages; saved atomically) and Storage."""

from __future__ import annotations

import copy
import os
import pickle
import tempfile
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from mushin_nb.errors import (
    MushinFileExistsError,
    MushinFileNotFoundError,
    MushinKeyError,
    MushinRuntimeError,
    MushinTypeError,
    bad_value,
)
from mushin_nb.experiments.model import Model
from mushin_nb.experiments.optimizer import Optimizer

__all__ = ["Checkpoint", "Storage"]


class Storage(dict):
    """A dict that a :class:`Checkpoint` can snapshot (it has the state-dict protocol).

    Examples
    --------
    >>> storage = Storage(step=3)
    >>> Checkpoint().snapshot(storage, deepcopy=True).restore(Storage()) is not None
    True
    """

    def state_dict(self) -> Storage:
        """The storage itself."""
        return self

    def load_state_dict(self, state: dict) -> None:
        """Update the storage with ``state``."""
        self.update(state)


def _prepare(instance: Any) -> tuple[Any, str]:
    """The object holding the state dict of ``instance``, and its storage key."""
    cls = type(instance)
    if isinstance(instance, Model):
        target = instance.module
    elif isinstance(instance, Optimizer):
        target = instance._optim
    else:
        target = instance
    for method in ("state_dict", "load_state_dict"):
        if not callable(getattr(target, method, None)):
            raise bad_value(
                "instance",
                instance,
                "a checkpoint-able object (with state_dict and load_state_dict)",
                "pass a Model, an Optimizer, a Storage or a torch module/optimizer",
                MushinTypeError,
            )
    return target, f"{cls.__module__}.{cls.__qualname__}"


class Checkpoint:
    """A collection of state dicts, one per kind of object, savable to one file.

    Objects are keyed by their class, so one checkpoint holds e.g. one model, one
    optimizer and one storage. Every method returns the checkpoint, for chaining.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> model = Model("digits-mlp", seed=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ckpt.pt"
    >>> _ = Checkpoint().snapshot(model, deepcopy=True).save(path)
    >>> other = Model("digits-mlp", seed=1)
    >>> _ = Checkpoint().load(path).restore(other)
    >>> bool(torch.equal(other.get(), model.get()))
    True
    """

    def __init__(self) -> None:
        self._store: dict[str, Any] = {}
        self._copied: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"Checkpoint({sorted(self._store)})"

    def snapshot(
        self,
        instance: Any,
        overwrite: bool = False,
        deepcopy: bool = False,
        nowarnref: bool = False,
    ) -> Checkpoint:
        """Take the state dict of ``instance``.

        Parameters
        ----------
        instance : Model, Optimizer, Storage, or any object with a state dict
            What to snapshot.
        overwrite : bool
            Replace an existing snapshot of the same class (else it raises).
        deepcopy : bool
            Copy the tensors; by default the snapshot references them, so it follows
            later training (restoring it then warns unless ``nowarnref``).
        nowarnref : bool
            Referencing is intended: do not warn on restore.
        """
        target, key = _prepare(instance)
        if key in self._store and not overwrite:
            raise MushinRuntimeError(
                f"A snapshot of {key!r} is already in this checkpoint. "
                "Fix: pass overwrite=True to replace it."
            )
        state = target.state_dict()
        if type(state) not in (dict, OrderedDict):  # e.g. Storage: plain dicts load safely
            state = dict(state)
        self._store[key] = copy.deepcopy(state) if deepcopy else copy.copy(state)
        self._copied[key] = deepcopy or nowarnref
        return self

    def restore(self, instance: Any, nothrow: bool = False) -> Checkpoint:
        """Load the snapshot of ``instance``'s class into ``instance``.

        A missing snapshot raises unless ``nothrow``.
        """
        target, key = _prepare(instance)
        if key not in self._store:
            if nothrow:
                return self
            raise MushinKeyError(
                f"No snapshot of {key!r} in this checkpoint (it holds {sorted(self._store)}). "
                "Fix: snapshot or load one first, or pass nothrow=True."
            )
        if not self._copied[key]:
            warnings.warn(
                f"Restoring a referenced (not copied) state dict into {key}: it holds the "
                "current values, not those at snapshot time. Pass deepcopy=True to "
                "snapshot() to freeze them.",
                stacklevel=2,
            )
        target.load_state_dict(self._store[key])
        return self

    def save(self, filepath: str | os.PathLike[str], overwrite: bool = False) -> Checkpoint:
        """Write the checkpoint to ``filepath`` (temp file then rename: never half-written).

        An existing file raises unless ``overwrite``.
        """
        path = _path(filepath)
        if path.exists() and not overwrite:
            raise MushinFileExistsError(
                f"`filepath` {str(path)!r} already exists. Fix: pass overwrite=True, or "
                "choose another path."
            )
        if not path.parent.is_dir():
            raise MushinFileNotFoundError(
                f"The directory of `filepath` {str(path)!r} does not exist. "
                "Fix: create it first (Path(...).parent.mkdir(parents=True))."
            )
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                torch.save(self._store, file)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return self

    def load(
        self, filepath: str | os.PathLike[str], overwrite: bool = False, weights_only: bool = True
    ) -> Checkpoint:
        """Replace the content of this checkpoint by the file ``filepath``.

        Parameters
        ----------
        filepath : path
            A file written by :meth:`save`.
        overwrite : bool
            Allow loading into a non-empty checkpoint (its snapshots are dropped).
        weights_only : bool
            Unpickle only tensors and plain containers (safe for untrusted files).
            Pass ``False`` only for files you trust that hold other Python objects.
        """
        path = _path(filepath)
        if self._store and not overwrite:
            raise MushinRuntimeError(
                f"Cannot load {str(path)!r} into a non-empty checkpoint (it holds "
                f"{sorted(self._store)}). Fix: use a new Checkpoint() or pass overwrite=True."
            )
        if not path.is_file():
            raise MushinFileNotFoundError(
                f"`filepath` {str(path)!r} does not exist. Fix: check the path "
                "(Checkpoint.save writes it)."
            )
        try:
            store = torch.load(path, map_location="cpu", weights_only=weights_only)
        except pickle.UnpicklingError as error:
            raise MushinRuntimeError(
                f"{str(path)!r} holds objects that weights_only=True refuses to unpickle "
                f"({_reason(error)}). Fix: if you trust this file, pass weights_only=False."
            ) from error
        if not isinstance(store, dict):
            raise bad_value("filepath", str(path), "a file written by Checkpoint.save")
        self._store = store
        self._copied = dict.fromkeys(store, True)
        return self


def _path(filepath: Any) -> Path:
    if not isinstance(filepath, (str, os.PathLike)):
        raise bad_value("filepath", filepath, "a path (str or os.PathLike)", cls=MushinTypeError)
    return Path(filepath)


def _reason(error: Exception) -> str:
    """The line of torch's long unpickling message that names the refused object."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    found = [line for line in lines if "Unsupported global" in line]
    return (found or lines or [type(error).__name__])[0]
