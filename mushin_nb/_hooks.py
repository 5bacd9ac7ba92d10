"""Late bindings: the places where a lower layer hands a job to a higher one.

Dependencies flow one way (DESIGN.md section 1), yet three lower-layer calls need
something only an upper layer knows:

- ``notebook_display()``: a sweep's progress (``mushin_nb.progress``) shows the notebook's
  live monitor when it runs in a Jupyter kernel (``mushin_nb.notebook.display``);
- ``dataset_built()``: every Dataset that ``mushin_nb.results`` builds or loads carries the
  ``ds.mushin`` accessor (tests and plots, ``mushin_nb.accessor``);
- ``load_sweep_dir(path)``: ``mushin_nb.results.load_results`` of a sweep's working
  directory rebuilds it from its job records (``mushin_nb.workflows.load_from_dir``).

The lower layer calls the hook here; the package's ``__init__`` binds each hook to its
upper layer, which is imported only when the hook is first called (as ``tqdm.auto`` picks
``tqdm.notebook``).  Unbound, the hooks mean no live display and no accessor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["HOOKS", "bind", "dataset_built", "load_sweep_dir", "notebook_display"]

HOOKS = ("notebook_display", "dataset_built", "load_sweep_dir")
_BOUND: dict[str, Callable[..., Any]] = {}


def bind(name: str, fn: Callable[..., Any]) -> None:
    """Bind hook ``name`` (one of :data:`HOOKS`) to ``fn``."""
    if name not in HOOKS:
        raise KeyError(f"unknown hook {name!r}; the hooks are {', '.join(HOOKS)}")
    _BOUND[name] = fn


def notebook_display() -> Any:
    """A live display sink for this process (the notebook's SweepMonitor), or None."""
    fn = _BOUND.get("notebook_display")
    return fn() if fn is not None else None


def dataset_built() -> None:
    """Called before a Dataset is handed to the user: registers ``ds.mushin``."""
    fn = _BOUND.get("dataset_built")
    if fn is not None:
        fn()


def load_sweep_dir(path: Any) -> Any:
    """The Dataset of the sweep whose working directory is ``path``."""
    return _BOUND["load_sweep_dir"](path)
