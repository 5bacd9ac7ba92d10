"""mushin_nb: multi-seed studies and sweeps on Hydra, from a notebook, with honest statistics.

Public names are imported lazily so that ``import mushin_nb`` stays fast and pulls in
neither torch, hydra, xarray, papermill nor ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import Any

from mushin_nb import _hooks
from mushin_nb.errors import MushinError

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "BaseWorkflow": "mushin_nb.workflows",
    "MultiRunMetricsWorkflow": "mushin_nb.workflows",
    "RobustnessCurve": "mushin_nb.workflows",
    "multirun": "mushin_nb.workflows",
    "hydra_list": "mushin_nb.workflows",
    "load_from_dir": "mushin_nb.workflows",
    "load_results": "mushin_nb.results",
    "register_task": "mushin_nb.metrics",
    "evaluate": "mushin_nb.metrics",
    "compare": "mushin_nb.compare",
    "BenchmarkResult": "mushin_nb.compare",
    "compare_dataset": "mushin_nb.compare",
    "Study": "mushin_nb.study",
    "train_seeds": "mushin_nb.train",
    "SeedTrainer": "mushin_nb.train",
    "SimpleTrainer": "mushin_nb.tune",
    "EpochTrainer": "mushin_nb.tune",
    "tune": "mushin_nb.tune",
    "TuneResults": "mushin_nb.tune",
    "report": "mushin_nb.progress",
    "JobSkipped": "mushin_nb.errors",
    "record": "mushin_nb.batch",
    "run_notebook": "mushin_nb.batch",
    "sweep_notebook": "mushin_nb.batch",
    "SweepMonitor": "mushin_nb.notebook.widgets",
    "StudyBuilder": "mushin_nb.notebook.builder",
    "plot_summary": "mushin_nb.plots",
    "plot_pvalues": "mushin_nb.plots",
    "plot_seeds": "mushin_nb.plots",
    "plot_curve": "mushin_nb.plots",
}
# public submodule name -> module ("rand" lives with the tuner that samples from it)
_SUBMODULES: dict[str, str] = {
    "rand": "mushin_nb.tune.rand",
    **{name: f"mushin_nb.{name}"
       for name in ("stats", "metrics", "experiments", "workflows", "plots", "errors",
                    "train")},
}

__all__ = ["MushinError", "load_ipython_extension", *sorted(_LAZY), *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    raise AttributeError(f"module 'mushin_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """Register the ``%%mushin`` / ``%mushin`` magics (``%load_ext mushin_nb``)."""
    from mushin_nb.notebook.magics import load_ipython_extension as _load

    _load(ipython)


def _notebook_display() -> Any:
    from mushin_nb.notebook.display import auto_display

    return auto_display()


def _register_accessor() -> None:
    import mushin_nb.accessor  # noqa: F401  registers ds.mushin


def _load_sweep_dir(path: Any) -> Any:
    from mushin_nb.workflows import load_from_dir

    return load_from_dir(path).to_xarray()


# The upper layers' answers to the lower layers' hooks (see mushin_nb._hooks).
_hooks.bind("notebook_display", _notebook_display)
_hooks.bind("dataset_built", _register_accessor)
_hooks.bind("load_sweep_dir", _load_sweep_dir)
