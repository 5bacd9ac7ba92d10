"""StudyBuilder: a notebook form that sets up, runs and explains a :class:`~mushin_nb.Study`.

The form lists what the notebook's namespace holds: train functions ``train_fn(seed) ->
path`` and ``torch.nn.Module`` factories as methods, DataLoaders as data. Run trains in a
background thread, so the kernel keeps answering the Stop button and the live
:class:`~mushin_nb.notebook.widgets.SweepMonitor`; then tabs show the summary, the
comparisons, the plots and the equivalent ``Study(...)`` code. Every widget action has a
plain-method twin (:meth:`StudyBuilder.set`, :meth:`~StudyBuilder.refresh`,
:meth:`~StudyBuilder.run`, :meth:`~StudyBuilder.stop`, :meth:`~StudyBuilder.code`).

A module factory is trained by :func:`module_trainer` (Adam and cross-entropy for a few
epochs, seeded, saving a state dict); :func:`methods_loader` loads those checkpoints back.

The parts: ``form`` (fields, namespace listing, checks), ``namespace`` (what the namespace
offers), ``study_code`` (the form as a Study and as code, and back), ``run`` (the
background run and Stop), ``views`` (the result tabs), ``trainer`` (the default training).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.notebook.builder.form import _EXTRAS, _Form
from mushin_nb.notebook.builder.namespace import _user_namespace
from mushin_nb.notebook.builder.run import _Run, _StopFlag
from mushin_nb.notebook.builder.study_code import _StudyCode
from mushin_nb.notebook.builder.trainer import (
    MethodsLoader,
    ModuleTrainer,
    methods_loader,
    module_trainer,
)
from mushin_nb.notebook.builder.views import _Views

__all__ = ["MethodsLoader", "ModuleTrainer", "StudyBuilder", "methods_loader", "module_trainer"]


class StudyBuilder(_Form, _StudyCode, _Run, _Views):
    """A form in the notebook that builds, runs and explains a :class:`~mushin_nb.Study`.

    Display it (make it a cell's last expression). Its fields list what ``namespace``
    holds: as methods, every ``train_fn(seed) -> path`` (a callable with one required
    parameter, defined in the notebook or the user's modules, not in a library), every
    :class:`ModuleTrainer`, and every ``torch.nn.Module`` class or factory buildable
    without arguments (trained by :func:`module_trainer` on the chosen train data); as
    data, every DataLoader; as loaders, callables whose one parameter is named ``path``
    (or ``checkpoint``, ``file``...) and the loaders of :mod:`mushin_nb.study`. Invalid
    choices are explained next to their field and keep Run disabled.

    Run trains in a background thread (the kernel stays free for the Stop button and the
    live monitor), then shows tabs: Summary, Comparisons, Plots and Show code, the
    ``Study(...)`` call that gives the same result. Stop lets the running training finish,
    skips the others and compares what finished.

    Parameters
    ----------
    namespace : dict, optional
        Where methods and data are looked up by name; default the notebook's
        (``get_ipython().user_ns``).

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole form (what the notebook displays).
    methods, seeds, data, train_data, epochs, lr, load_fn, task, num_classes, test, alpha,
    reference, working_dir, launcher : ipywidgets.Widget
        The fields; set them in code with :meth:`set`.
    run_button, stop_button, refresh_button, code_button : ipywidgets.Button
    monitor_box : ipywidgets.VBox
        Holds the SweepMonitors of the current run: the trainings, then the evaluations.
    results : ipywidgets.Tab
        Summary, Comparisons, Plots and Show code of the last result.
    study : Study or None
        The Study of the last run.
    result : BenchmarkResult or None
        The result of the last run.
    error : BaseException or None
        What the last run raised.

    Examples
    --------
    >>> import torch
    >>> x = torch.linspace(-1, 1, 16).reshape(-1, 1)
    >>> test_loader = torch.utils.data.DataLoader(
    ...     torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long()), batch_size=8)
    >>> def train_a(seed): ...
    >>> def train_b(seed): ...
    >>> builder = StudyBuilder(globals())  # in a notebook: StudyBuilder()
    >>> builder.set(methods=["train_a", "train_b"], seeds="0-2", working_dir="runs/ab")
    >>> builder.errors
    {}
    >>> print(builder.code())
    from mushin_nb import Study
    <BLANKLINE>
    methods = {
        'train_a': train_a,
        'train_b': train_b,
    }
    study = Study(
        methods,
        seeds=[0, 1, 2],
        data=test_loader,
        num_classes=2,
        task='classification',
        test='welch',
        alpha=0.05,
        reference='train_a',
        working_dir='runs/ab',
    )
    result = study.run()
    result
    >>> builder.set(seeds="0", alpha=1.5)
    >>> builder.errors["seeds"], builder.run_button.disabled
    ('a test needs at least 2 seeds per method: add seeds, e.g. 0-2', True)
    """

    def __init__(self, namespace: Mapping[str, Any] | None = None) -> None:
        if namespace is None:
            namespace = _user_namespace()
        if not isinstance(namespace, Mapping):
            raise bad_value("namespace", namespace, "a dict of names (e.g. globals())",
                            "pass namespace=globals(), or None for the notebook's",
                            MushinTypeError)
        self.namespace = namespace
        self._home = str(namespace.get("__name__", "__main__"))
        self.study: Any = None
        self.result: Any = None
        self.error: BaseException | None = None
        self._labels: dict[str, str] = {}
        self._extras: dict[str, Any] = dict.fromkeys(_EXTRAS)
        self._kinds: dict[str, str] = {}
        self._classes: dict[int, tuple[Any, tuple[int | None, bool]]] = {}
        self._errors: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self._active = False  # a run is under way
        self._done = threading.Event()  # set once a run and its display are finished
        self._done.set()
        self._flag: _StopFlag | None = None
        self._quiet = False  # set while several fields change at once
        self._wanted_reference: str | None = None
        self._build_widgets()
        self.refresh()

    def __repr__(self) -> str:
        state = "running" if self.running else ("done" if self.result is not None else "idle")
        return (f"StudyBuilder(methods={list(self.methods.value)}, seeds={self.seeds.value!r}, "
                f"data={self.data.value!r}, {state})")
