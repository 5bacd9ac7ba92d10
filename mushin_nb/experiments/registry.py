"""Name -> builder registries for models and datasets, and discovery of user folders.

A registry is a read-only mapping that fails loudly: an unknown name raises a
:class:`~mushin_nb.errors.MushinKeyError` that lists every known name.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinImportError,
    MushinKeyError,
    MushinNotADirectoryError,
    MushinTypeError,
    MushinValueError,
    bad_value,
)

__all__ = [
    "Registry",
    "models",
    "datasets",
    "register_model",
    "register_dataset",
    "discover",
]


class Registry(Mapping):
    """A mapping ``name -> callable`` filled with a decorator.

    Parameters
    ----------
    kind : str
        What the names designate (``"model"``, ``"dataset"``...), used in messages.
    fallback : callable, optional
        ``fallback(name) -> callable | None`` resolving names the registry does not
        hold (e.g. torchvision's models).
    fallback_names : callable, optional
        ``fallback_names() -> list[str]``: the names ``fallback`` knows, for messages.
    normalize : callable, optional
        Applied to every name before storing or looking it up.
    register_hint : str, optional
        How users add a name, quoted in the unknown-name message.

    Examples
    --------
    >>> rules = Registry("rule")
    >>> @rules.register("double")
    ... def double(x):
    ...     return 2 * x
    >>> rules["double"](3)
    6
    >>> sorted(rules)
    ['double']
    """

    def __init__(
        self,
        kind: str,
        fallback: Callable[[str], Callable[..., Any] | None] | None = None,
        fallback_names: Callable[[], list[str]] | None = None,
        normalize: Callable[[str], str] | None = None,
        register_hint: str | None = None,
    ) -> None:
        self.kind = kind
        self._hint = register_hint or f"@{kind}s.register(name)"
        self._items: dict[str, Callable[..., Any]] = {}
        self._fallback = fallback
        self._fallback_names = fallback_names
        self._normalize = normalize or (lambda name: name)

    def __getitem__(self, name: str) -> Callable[..., Any]:
        if not isinstance(name, str):
            raise bad_value("name", name, f"a str (the {self.kind} name)", cls=MushinTypeError)
        key = self._normalize(name)
        if key in self._items:
            return self._items[key]
        found = self._fallback(key) if self._fallback is not None else None
        if found is None:
            raise self.unknown(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self[name]
        except MushinKeyError:
            return False
        return True

    def known(self) -> list[str]:
        """Every name this registry resolves, registered ones first, each group sorted."""
        extra = self._fallback_names() if self._fallback_names is not None else []
        return sorted(self._items) + sorted(set(extra) - set(self._items))

    def unknown(self, name: str) -> MushinKeyError:
        """Build the error for an unknown ``name``, listing the known ones."""
        known = self.known()
        close = difflib.get_close_matches(str(name), known, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        return MushinKeyError(
            f"Unknown {self.kind} name {name!r}.{hint} "
            f"Known {self.kind} names: {', '.join(known)}. "
            f"Fix: use one of them, or register yours with {self._hint}."
        )

    def register(
        self, name: str, *, overwrite: bool = False
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Return a decorator that registers its function under ``name``.

        Parameters
        ----------
        name : str
            The name to register; a name already taken raises unless ``overwrite``.
        overwrite : bool
            Replace an existing entry of the same name.
        """
        if not isinstance(name, str) or not name:
            raise bad_value(
                "name", name, f"a non-empty {self.kind} name (str)", cls=MushinTypeError
            )
        key = self._normalize(name)

        def decorator(builder: Callable[..., Any]) -> Callable[..., Any]:
            if not callable(builder):
                raise bad_value(
                    "builder",
                    builder,
                    "a callable",
                    "decorate a function or class",
                    MushinTypeError,
                )
            if key in self._items and not overwrite and self._items[key] is not builder:
                raise MushinValueError(
                    f"{self.kind.capitalize()} name {name!r} is already registered "
                    f"(to {_qualname(self._items[key])}). "
                    f"Fix: pick another name or pass overwrite=True."
                )
            self._items[key] = builder
            return builder

        return decorator

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a no-op when absent); tests use it to restore state."""
        self._items.pop(self._normalize(name), None)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={sorted(self._items)})"


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _torchvision_model(name: str) -> Callable[..., Any] | None:
    import torchvision

    plain = name[len("torchvision-") :] if name.startswith("torchvision-") else name
    if plain not in torchvision.models.list_models():
        return None
    return torchvision.models.get_model_builder(plain)


def _torchvision_model_names() -> list[str]:
    import torchvision

    return list(torchvision.models.list_models())


def _torchvision_dataset_classes() -> dict[str, type]:
    import torch
    import torchvision

    found = {}
    for attr in dir(torchvision.datasets):
        value = getattr(torchvision.datasets, attr)
        if (
            not attr.startswith("_")
            and isinstance(value, type)
            and issubclass(value, torch.utils.data.Dataset)
        ):
            found[attr.lower()] = value
    return found


def _torchvision_dataset(name: str) -> Callable[..., Any] | None:
    plain = name[len("torchvision-") :] if name.startswith("torchvision-") else name
    cls = _torchvision_dataset_classes().get(plain)
    if cls is None:
        return None
    from mushin_nb.experiments.sources import torchvision_builder

    return torchvision_builder(plain, cls)


def _torchvision_dataset_names() -> list[str]:
    return list(_torchvision_dataset_classes())


models = Registry(
    "model", _torchvision_model, _torchvision_model_names, register_hint="@register_model(name)"
)
datasets = Registry(
    "dataset",
    _torchvision_dataset,
    _torchvision_dataset_names,
    register_hint="@register_dataset(name)",
)


def register_model(
    name: str, *, overwrite: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a model builder (any callable returning a ``torch.nn.Module``).

    Examples
    --------
    >>> import torch
    >>> @register_model("doc-tiny")
    ... def tiny(din=4, dout=2):
    ...     return torch.nn.Linear(din, dout)
    >>> from mushin_nb.experiments import Model
    >>> Model("doc-tiny", din=3).get().numel()  # 3 x 2 weights + 2 biases
    8
    >>> models.unregister("doc-tiny")
    """
    return models.register(name, overwrite=overwrite)


def register_dataset(
    name: str, *, overwrite: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a dataset builder.

    The builder is called with the keyword arguments given to ``Dataset(name, ...)``
    (``root`` always; ``train``, ``batch_size``, ``shuffle``, ``seed`` when the caller
    gives them) and returns a ``torch.utils.data.DataLoader`` (then ``Dataset.epoch``
    works), an infinite generator of batches, or a single batch.
    """
    return datasets.register(name, overwrite=overwrite)


def discover(folder: str | os.PathLike[str]) -> list[str]:
    """Import every ``*.py`` file of ``folder`` so that its decorators register things.

    Files whose name starts with ``_`` are skipped. Importing the same file twice is a
    no-op, so discovery can run in every notebook cell.

    Parameters
    ----------
    folder : path
        A directory of Python files using :func:`register_model` /
        :func:`register_dataset`.

    Returns
    -------
    list of str
        The names of the modules imported (or already imported), in file-name order.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise bad_value("folder", folder, "a path to a directory", cls=MushinTypeError)
    path = Path(folder).expanduser().resolve()
    if not path.exists():
        raise MushinFileNotFoundError(
            f"`folder` {str(folder)!r} does not exist (resolved to {str(path)!r}). "
            "Fix: pass the directory holding your model/dataset files."
        )
    if not path.is_dir():
        raise MushinNotADirectoryError(
            f"`folder` {str(folder)!r} is a file, not a directory. Fix: pass its parent directory."
        )
    imported = []
    for file in sorted(path.glob("*.py")):
        if file.name.startswith("_"):
            continue
        # a stable name per absolute path makes re-discovery idempotent
        digest = hashlib.sha1(str(file).encode()).hexdigest()[:10]
        module_name = f"mushin_nb_user.{file.stem}_{digest}"
        if module_name not in sys.modules:
            spec = importlib.util.spec_from_file_location(module_name, file)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)  # type: ignore[union-attr]
            except Exception as error:
                del sys.modules[module_name]
                raise MushinImportError(
                    f"Importing {str(file)!r} found by discover({str(folder)!r}) failed: "
                    f"{type(error).__name__}: {error}. Fix: correct that file or move it "
                    "out of the folder."
                ) from error
        imported.append(module_name)
    return imported
