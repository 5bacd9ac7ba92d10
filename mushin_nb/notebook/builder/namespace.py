"""What a notebook's namespace offers the StudyBuilder: train_fns, Module factories,
checkpoint loaders and DataLoaders, and the number of classes a DataLoader holds."""

from __future__ import annotations

import inspect
import keyword
import math
import os
import sys
import sysconfig
from collections.abc import Sequence
from typing import Any

from mushin_nb.errors import MushinRuntimeError
from mushin_nb.notebook.builder.trainer import ModuleTrainer

#: A one-parameter callable whose parameter has one of these names loads checkpoints.
_PATH_PARAMS = frozenset({"path", "checkpoint", "ckpt", "file", "filename", "fname",
                          "checkpoint_path", "ckpt_path", "model_path"})


def _is_identifier(name: Any) -> bool:
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


_LIBRARY_DIRS = tuple({os.path.realpath(p) for key in ("stdlib", "platstdlib", "purelib",
                                                          "platlib")
                       if (p := sysconfig.get_paths().get(key))})


def _user_defined(obj: Any, home: str) -> bool:
    """True for code of the namespace ``home`` or of the user's modules, not of a library."""
    owner = obj if inspect.isclass(obj) or inspect.isroutine(obj) else type(obj)
    module_name = getattr(owner, "__module__", None) or ""
    if module_name in (home, "__main__"):
        return True
    if module_name.split(".")[0] in ("mushin_nb", "builtins", "torch", "IPython"):
        return False
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if path is None:
        return False
    return not os.path.realpath(path).startswith(_LIBRARY_DIRS)


def _required_params(obj: Any) -> list[inspect.Parameter] | None:
    """The parameters without a default, or None when any is ``*args``/``**kwargs`` only."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [p for p in signature.parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _module_class() -> type | None:
    nn = sys.modules.get("torch.nn")
    return getattr(nn, "Module", None)


def _returns_module(fn: Any, module: type) -> bool:
    try:
        hint = inspect.signature(fn, eval_str=True).return_annotation
    except Exception:  # an annotation that does not evaluate: read it as text
        try:
            hint = inspect.signature(fn).return_annotation
        except (TypeError, ValueError):
            return False
    if isinstance(hint, str):
        return hint.split(".")[-1] == "Module"
    return inspect.isclass(hint) and issubclass(hint, module)


def _kind(obj: Any, home: str = "__main__") -> str | None:
    """What the builder can use ``obj`` for: "trainer", "module", "train_fn", "loader", None."""
    if isinstance(obj, ModuleTrainer):
        return "trainer"
    module = _module_class()
    if module is not None:
        if inspect.isclass(obj):
            if issubclass(obj, module) and not obj.__module__.startswith("torch") \
                    and _required_params(obj) == []:
                return "module"
            return None
        if inspect.isfunction(obj) and _required_params(obj) == [] \
                and _returns_module(obj, module):
            return "module"
    study = sys.modules.get("mushin_nb.study")
    if study is not None and isinstance(obj, (study._StateDictLoader, study._ModuleLoader)):
        return "loader"
    if not callable(obj) or inspect.isclass(obj) or not _user_defined(obj, home):
        return None
    required = _required_params(obj)
    if required is None or len(required) != 1 or required[0].kind is required[0].KEYWORD_ONLY:
        return None
    return "loader" if required[0].name in _PATH_PARAMS else "train_fn"


def _is_data(obj: Any) -> bool:
    data = sys.modules.get("torch.utils.data")
    return data is not None and isinstance(obj, data.DataLoader)


def _infer_classes(data: Any) -> tuple[int | None, bool]:
    """(number of classes, exact?) read off a DataLoader's dataset, or (None, False).

    ``dataset.classes`` is exact; otherwise the largest integer label + 1 is a lower bound
    (a class may be absent from these data). The loader itself is never iterated: that
    would move its random generator on.
    """
    import numpy as np

    dataset = getattr(data, "dataset", None)
    classes = getattr(dataset, "classes", None)
    if isinstance(classes, Sequence) and not isinstance(classes, str) and len(classes):
        return len(classes), True
    labels: Any = None
    tensors = getattr(dataset, "tensors", None)
    if isinstance(tensors, tuple) and len(tensors) >= 2:
        labels = tensors[-1]
    else:
        for attr in ("targets", "labels"):
            labels = getattr(dataset, attr, None)
            if labels is not None:
                break
    if labels is None and dataset is not None and _sized(dataset) <= 20_000:
        try:
            labels = [dataset[i][-1] for i in range(len(dataset))]
        except Exception:  # an unusual dataset: the user types the number
            return None, False
    try:
        values = np.asarray(labels)
    except Exception:
        return None, False
    if values.ndim != 1 or values.size == 0 or not np.issubdtype(values.dtype, np.integer):
        return None, False
    return int(values.max()) + 1, False


def _sized(obj: Any) -> float:
    try:
        return len(obj)
    except TypeError:
        return math.inf


def _user_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None  # noqa: N806
    shell = get_ipython() if get_ipython is not None else None
    if shell is None:
        raise MushinRuntimeError("StudyBuilder() found no notebook namespace (not running in "
                                 "IPython). Fix: pass it, e.g. StudyBuilder(globals()).")
    return shell.user_ns
