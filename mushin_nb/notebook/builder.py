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
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import inspect
import keyword
import math
import numbers
import os
import re
import sys
import sysconfig
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from mushin_nb.errors import (
    JobSkipped,
    MushinError,
    MushinKeyError,
    MushinRuntimeError,
    MushinTypeError,
    MushinValueError,
    bad_value,
    describe,
)
from mushin_nb.notebook._seeds import format_seeds, parse_seeds
from mushin_nb.progress._poller import report_callback_error

__all__ = ["MethodsLoader", "ModuleTrainer", "StudyBuilder", "methods_loader", "module_trainer"]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
#: A one-parameter callable whose parameter has one of these names loads checkpoints.
_PATH_PARAMS = frozenset({"path", "checkpoint", "ckpt", "file", "filename", "fname",
                          "checkpoint_path", "ckpt_path", "model_path"})
_DEFAULT = ""  # the dropdown value meaning "none chosen" / "the default"
_MODULE_DIR = "module-"  # prefix of the checkpoint folder of a module_trainer


# ------------------------------------------------------------------ default training


def _slug(name: str) -> str:
    return _SAFE_NAME.sub("_", name).strip("._") or "model"


def _positive_int(arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise bad_value(arg, value, "a positive int", f"e.g. {arg}=3",
                        MushinTypeError if not isinstance(value, numbers.Integral)
                        else MushinValueError)
    return int(value)


def _positive_float(arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad_value(arg, value, "a positive float", f"e.g. {arg}=0.001", MushinTypeError)
    if not (math.isfinite(value) and value > 0):
        raise bad_value(arg, value, "a positive, finite float", f"e.g. {arg}=0.001")
    return float(value)


def _seeded_loader(data: Any, seed: int) -> Any:
    """``data`` reshuffled from a generator seeded with ``seed``, whatever it was used for.

    A DataLoader's own generator moves on each time it is iterated, so training with it
    would depend on what ran before; a copy with a seeded generator does not.
    """
    from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

    if not isinstance(data, DataLoader) or data.batch_size is None \
            or not isinstance(data.sampler, (RandomSampler, SequentialSampler)):
        return data  # batches of a list, or a custom sampler: used as they come
    import torch

    return DataLoader(data.dataset, batch_size=data.batch_size,
                      shuffle=isinstance(data.sampler, RandomSampler),
                      collate_fn=data.collate_fn, drop_last=data.drop_last,
                      generator=torch.Generator().manual_seed(int(seed)))


class ModuleTrainer:
    """``train_fn(seed) -> path`` for a ``torch.nn.Module`` factory; see :func:`module_trainer`.

    Attributes
    ----------
    factory, data, epochs, lr, name, device
        As given to :func:`module_trainer`.
    folder : str
        Name of the folder of ``checkpoint_dir()`` that holds its checkpoints.
    """

    def __init__(self, factory: Callable[[], Any], data: Iterable[Any], epochs: int,
                 lr: float, name: str, device: str) -> None:
        self.factory, self.data, self.epochs, self.lr = factory, data, epochs, lr
        self.name, self.device = name, device
        self.folder = _MODULE_DIR + _slug(name)

    def _code_settings(self) -> tuple[Any, ...]:
        """What, besides this class's code, decides the training (for a Study's check that
        reused checkpoints come from the same training): the factory's code and the form's
        settings."""
        from mushin_nb.study import _fingerprint

        return (_fingerprint(self.factory), self.epochs, self.lr, self.name, self.device)

    def build(self) -> Any:
        """A new, untrained model; its random initialisation leaves the global RNG alone."""
        import torch

        with torch.random.fork_rng(devices=[]):
            return self._new_model()

    def _new_model(self) -> Any:
        import torch

        model = self.factory()
        if not isinstance(model, torch.nn.Module):
            raise bad_value("factory", self.factory, "a callable returning a torch.nn.Module",
                            f"it returned {describe(model)}", MushinTypeError)
        return model

    def __call__(self, seed: int) -> Path:
        """Train a model with ``seed`` and return the path of its saved state dict."""
        import torch

        from mushin_nb.progress import report
        from mushin_nb.study import checkpoint_dir

        seed = int(seed)
        loader = _seeded_loader(self.data, seed)
        device = torch.device(self.device)
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            model = self._new_model().to(device)
            optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
            for epoch in range(self.epochs):
                model.train()
                total, count = 0.0, 0
                for inputs, targets in loader:
                    inputs, targets = inputs.to(device), targets.to(device)
                    optimizer.zero_grad()
                    loss = torch.nn.functional.cross_entropy(model(inputs), targets)
                    loss.backward()
                    optimizer.step()
                    total, count = total + loss.item() * len(targets), count + len(targets)
                report(step=epoch + 1, total=self.epochs, loss=total / max(count, 1))
        folder = checkpoint_dir() / self.folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"seed{seed}.pt"
        tmp = folder / f".seed{seed}.{uuid.uuid4().hex}.tmp"
        try:
            torch.save(model.state_dict(), tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def load(self, path: str | os.PathLike) -> Any:
        """The model saved at ``path`` (read with ``weights_only=True``)."""
        from mushin_nb.study import state_dict_loader

        return state_dict_loader(self.build)(path)

    def __repr__(self) -> str:
        name = getattr(self.factory, "__qualname__", repr(self.factory))
        return (f"module_trainer({name}, epochs={self.epochs}, lr={self.lr!r}, "
                f"name={self.name!r})")


def module_trainer(factory: Callable[[], Any], data: Iterable[Any], *, epochs: int = 3,
                   lr: float = 1e-3, name: str | None = None,
                   device: str = "cpu") -> ModuleTrainer:
    """A ``train_fn(seed) -> path`` that trains ``factory()`` on ``data`` with the default loop.

    The loop: ``torch.manual_seed(seed)`` (inside ``torch.random.fork_rng``, so the global
    RNG is left as it was), ``epochs`` passes of Adam with learning rate ``lr`` on the
    cross-entropy of ``model(inputs)`` and ``targets``, the data reshuffled from a generator
    seeded with ``seed``; each epoch reports its mean loss to the live monitor. The state
    dict is saved to ``checkpoint_dir()/module-<name>/seed<seed>.pt``; load it back with
    :meth:`ModuleTrainer.load` or :func:`methods_loader`.

    Parameters
    ----------
    factory : callable
        ``factory() -> torch.nn.Module`` returning logits: a Module class or a function.
    data : re-iterable of (inputs, targets) batches
        The training data (a DataLoader).
    epochs : int
        Passes over ``data``.
    lr : float
        Adam's learning rate.
    name : str, optional
        Names the checkpoint folder; default the factory's ``__name__``.
    device : str
        Where the model trains (``"cpu"``, ``"cuda"``...).

    Returns
    -------
    ModuleTrainer

    Examples
    --------
    >>> import tempfile, torch
    >>> x = torch.linspace(-1, 1, 32).reshape(-1, 1)
    >>> batches = [(x, (x[:, 0] > 0).long())]
    >>> train = module_trainer(lambda: torch.nn.Linear(1, 2), batches, epochs=2, name="lin")
    >>> os.chdir(tempfile.mkdtemp())
    >>> path = train(seed=0)
    >>> path.relative_to(Path.cwd()).as_posix()
    'checkpoints/module-lin/seed0.pt'
    >>> torch.equal(train.load(path).weight, train.load(train(seed=0)).weight)
    True
    """
    if not callable(factory):
        raise bad_value("factory", factory, "a callable returning a torch.nn.Module",
                        "pass the Module class or a function building it", MushinTypeError)
    if data is None or isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise bad_value("data", data, "a re-iterable of (inputs, targets) batches",
                        "pass a DataLoader, e.g. data=train_loader", MushinTypeError)
    if isinstance(data, Iterator):  # (iter() would draw from a DataLoader's generator)
        raise bad_value("data", data, "re-iterable (every epoch makes one pass over it)",
                        "pass a DataLoader or list(batches), not a generator")
    if name is None:
        name = getattr(factory, "__name__", None) or type(factory).__name__
    if not isinstance(name, str) or not name.strip():
        raise bad_value("name", name, "a non-empty str", "e.g. name='mlp'", MushinTypeError)
    if not isinstance(device, str):
        raise bad_value("device", device, "a device name (str)", "e.g. device='cuda'",
                        MushinTypeError)
    return ModuleTrainer(factory, data, _positive_int("epochs", epochs),
                         _positive_float("lr", lr), name, device)


class MethodsLoader:
    """``load_fn(path)`` of a Study mixing module trainers and other train_fns.

    A checkpoint in a :class:`ModuleTrainer`'s folder is loaded by that trainer; any other
    by ``default``. See :func:`methods_loader`.
    """

    def __init__(self, trainers: dict[str, ModuleTrainer],
                 default: Callable[[Any], Any] | None) -> None:
        self.trainers, self.default = trainers, default

    def __call__(self, path: str | os.PathLike) -> Any:
        trainer = self.trainers.get(Path(path).parent.name)
        if trainer is not None:
            return trainer.load(path)
        if self.default is None:
            from mushin_nb.study import load_checkpoint

            return load_checkpoint(path)
        return self.default(path)

    def __repr__(self) -> str:
        return f"methods_loader({sorted(self.trainers)}, default={self.default!r})"


def methods_loader(methods: Mapping[str, Any],
                   default: Callable[[Any], Any] | None = None) -> MethodsLoader:
    """The ``load_fn`` for ``methods``: each :class:`ModuleTrainer` loads its own checkpoints.

    Parameters
    ----------
    methods : dict of str -> train_fn
        The methods of the Study.
    default : callable, optional
        Loads the other checkpoints; default :func:`mushin_nb.study.load_checkpoint`.

    Examples
    --------
    >>> import torch
    >>> train = module_trainer(lambda: torch.nn.Linear(1, 2), [], name="lin")
    >>> methods_loader({"lin": train})
    methods_loader(['module-lin'], default=None)
    """
    if not isinstance(methods, Mapping):
        raise bad_value("methods", methods, "a dict of name -> train_fn",
                        "pass the dict given to Study", MushinTypeError)
    if default is not None and not callable(default):
        raise bad_value("default", default, "a callable load_fn(path) -> model or None",
                        "e.g. default=state_dict_loader(MyNet)", MushinTypeError)
    trainers: dict[str, ModuleTrainer] = {}
    for label, fn in methods.items():
        if isinstance(fn, ModuleTrainer):
            other = trainers.get(fn.folder)
            if other is not None and other is not fn:
                raise bad_value(f"methods[{label!r}]", fn, "a module trainer with a name of "
                                f"its own (another one saves to {fn.folder!r} too)",
                                "pass name=... to module_trainer")
            trainers[fn.folder] = fn
    return MethodsLoader(trainers, default)


# ------------------------------------------------------------------- the namespace


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


def _launchers() -> list[tuple[str, str]]:
    """Launchers to offer: in-process first, then Hydra's and the installed plugins'."""
    options = [("in-process (fast)", _DEFAULT), ("basic (Hydra)", "basic")]
    plugins = {"hydra_plugins.hydra_joblib_launcher": ["joblib"],
               "hydra_plugins.hydra_submitit_launcher": ["submitit_local", "submitit_slurm"]}
    for module, names in plugins.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            options += [(name, name) for name in names]
    return options


def _tasks() -> list[str]:
    from mushin_nb import metrics

    return list(getattr(metrics, "_TASKS", None) or metrics.BUILTIN_TASKS)


# ------------------------------------------------------------------ stopping


class _StopFlag:
    """A stop request that every launcher's workers can see: a file in the working dir."""

    def __init__(self, working_dir: Path) -> None:
        self.path = str(working_dir / ".mushin" / f"stop-{uuid.uuid4().hex}")

    def set(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        Path(self.path).touch()

    def is_set(self) -> bool:
        return os.path.exists(self.path)

    def clear(self) -> None:
        Path(self.path).unlink(missing_ok=True)


class _Stoppable:
    """A train_fn that refuses to start once Stop was asked (picklable for process launchers)."""

    def __init__(self, fn: Callable[[int], Any], flag_path: str) -> None:
        self.fn, self.flag_path = fn, flag_path
        self.__wrapped__ = fn  # the Study fingerprints the user's train_fn, not this wrapper

    def __call__(self, seed: int) -> Any:
        if os.path.exists(self.flag_path):
            raise JobSkipped("the StudyBuilder's Stop ended the study before this training "
                             "started; run the study again to train it")
        return self.fn(seed)


class _Monitors:
    """The progress sink of a run: one SweepMonitor per phase (training, then evaluation),
    each kept in ``box``, so the training grid stays readable once the evaluation starts."""

    def __init__(self, box: Any, on_phase: Callable[[str], None]) -> None:
        from mushin_nb.notebook.widgets import SweepMonitor

        self._new = lambda: SweepMonitor(display=False)
        self.box, self.on_phase = box, on_phase
        self.current, self.started = self._new(), False
        box.children = (self.current,)  # shown at once, queued until the sweep starts

    def start(self, labels: Sequence[str], title: str = "") -> None:
        if self.started:
            self.current = self._new()
            self.box.children = (*self.box.children, self.current)
            self.on_phase("evaluating")
        self.started = True
        self.current.start(labels, title)

    def job_start(self, index: int) -> None:
        self.current.job_start(index)

    def job_report(self, index: int, step: int | None, total: int | None,
                   metrics: dict[str, float]) -> None:
        self.current.job_report(index, step, total, metrics)

    def job_end(self, index: int, status: str, error: str | None = None) -> None:
        self.current.job_end(index, status, error)

    def watch(self, index: int, event_file: str) -> None:
        self.current.watch(index, event_file)

    def close(self, ok: bool = True) -> None:
        self.current.close(ok)


# ------------------------------------------------------------------ the builder

#: Field name -> label shown in the form.
_LABELS = {
    "methods": "Methods", "seeds": "Seeds", "data": "Evaluation data",
    "train_data": "Train data", "epochs": "Epochs", "lr": "Learning rate",
    "load_fn": "Load checkpoints", "task": "Task", "num_classes": "Classes",
    "test": "Test", "alpha": "Alpha", "reference": "Reference",
    "working_dir": "Working dir", "launcher": "Launcher",
}
#: Settings without a field of their own: from_study() and set() keep them for the Study.
_EXTRAS = ("metrics", "predict_fn", "ignore_index")


def _html_error(text: str) -> str:
    return f"<span style='color:#c62828'>{html.escape(text)}</span>" if text else ""


def _error_html(exc: BaseException) -> str:
    """The exception in red, its traceback folded under it (all escaped)."""
    line = "".join(traceback.format_exception_only(type(exc), exc))
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return (f"<pre style='color:#c62828;white-space:pre-wrap'>{html.escape(line)}</pre>"
            f"<details><summary>traceback</summary><pre style='white-space:pre-wrap'>"
            f"{html.escape(trace)}</pre></details>")


class StudyBuilder:
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

    # ------------------------------------------------------------------ layout
    def _build_widgets(self) -> None:
        W = widgets  # noqa: N806
        wide = W.Layout(width="420px")
        style = {"description_width": "130px"}

        def field(cls: type, name: str, **kw: Any) -> Any:
            widget = cls(description=_LABELS[name], style=style, layout=wide, **kw)
            widget.add_class(f"mushin-builder-{name.replace('_', '-')}")
            return widget

        self.methods = field(W.SelectMultiple, "methods", rows=5)
        self.seeds = field(W.Text, "seeds", value="0-4",
                           placeholder="0-4, or 0,1,2, or range(5)")
        self.data = field(W.Dropdown, "data")
        self.train_data = field(W.Dropdown, "train_data")
        self.epochs = field(W.IntText, "epochs", value=3)
        self.lr = field(W.FloatText, "lr", value=1e-3)
        self.load_fn = field(W.Dropdown, "load_fn")
        self.task = field(W.Dropdown, "task", options=_tasks(), value="classification")
        self.num_classes = field(W.IntText, "num_classes", value=0)
        from mushin_nb.stats import TESTS

        self.test = field(W.Dropdown, "test", options=list(TESTS), value="welch")
        self.alpha = field(W.FloatText, "alpha", value=0.05, step=0.01)
        self.reference = field(W.Dropdown, "reference")
        self.working_dir = field(W.Text, "working_dir", value="study")
        self.launcher = field(W.Dropdown, "launcher", options=_launchers(), value=_DEFAULT)
        self._fields = {name: getattr(self, name) for name in _LABELS}
        self._messages = {name: W.HTML("") for name in _LABELS}
        for name, message in self._messages.items():
            message.add_class(f"mushin-builder-message-{name.replace('_', '-')}")

        def button(text: str, name: str, **kw: Any) -> Any:
            widget = W.Button(description=text, **kw)
            widget.add_class(f"mushin-builder-{name}")
            return widget

        self.refresh_button = button("Refresh", "refresh", icon="refresh",
                                     tooltip="list the namespace's methods and data again",
                                     layout=W.Layout(width="110px"))
        self.run_button = button("Run", "run", button_style="primary", icon="play")
        self.stop_button = button("Stop", "stop", button_style="danger", icon="stop",
                                  disabled=True)
        self.code_button = button("Show code", "show-code", icon="code")
        self.status = W.HTML("")
        self.status.add_class("mushin-builder-status")
        self.code_box = W.HTML("", layout=W.Layout(display="none"))
        self.code_box.add_class("mushin-builder-code")
        self.error_box = W.HTML("")
        self.error_box.add_class("mushin-builder-error")
        self.monitor_box = W.VBox([])
        self.monitor_box.add_class("mushin-builder-monitor")
        self.results = W.Tab(layout=W.Layout(display="none"))
        self.results.add_class("mushin-builder-results")

        def row(name: str, *extra: Any) -> Any:
            return W.HBox([self._fields[name], *extra, self._messages[name]])

        self._train_box = W.VBox([row("train_data"), row("epochs"), row("lr")],
                                 layout=W.Layout(display="none"))
        form = [row("methods", self.refresh_button), row("seeds"), row("data"),
                self._train_box, row("load_fn"), row("task"), row("num_classes"),
                row("test"), row("alpha"), row("reference"), row("working_dir"),
                row("launcher")]
        buttons = W.HBox([self.run_button, self.stop_button, self.code_button, self.status])
        self.widget = W.VBox([W.HTML("<b>Study builder</b>"), *form, buttons, self.code_box,
                              self.error_box, self.monitor_box, self.results])
        self.widget.add_class("mushin-builder")

        for name, widget in self._fields.items():
            widget.observe(self._on_data if name == "data" else self._on_change, names="value")
        self.refresh_button.on_click(lambda _: self._safely("Refresh", self.refresh))
        self.run_button.on_click(lambda _: self._safely("Run", self.run))
        self.stop_button.on_click(lambda _: self._safely("Stop", self.stop))
        self.code_button.on_click(lambda _: self._safely("Show code", self._toggle_code))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _safely(self, what: str, action: Callable[[], Any]) -> None:
        """Run a button's action; an error is shown in the form, never lost."""
        try:
            action()
        except Exception as exc:
            self.error_box.value = _html_error(f"{what}: {type(exc).__name__}: {exc}")
            if not isinstance(exc, MushinError):  # not a user mistake: show the traceback too
                report_callback_error(f"the StudyBuilder's {what}", exc)

    # ------------------------------------------------------------------ namespace
    def refresh(self) -> None:
        """List the namespace's methods, data and loaders again (the Refresh button)."""
        kinds: dict[str, str] = {}
        data: list[str] = []
        for name, obj in list(self.namespace.items()):
            if not _is_identifier(name) or name.startswith("_"):
                continue
            if _is_data(obj):
                data.append(name)
                continue
            try:
                kind = _kind(obj, self._home)
            except Exception:  # an odd object (a proxy, a broken __signature__): not for us
                kind = None
            if kind is not None:
                kinds[name] = kind
        self._kinds = kinds
        notes = {"module": " (nn.Module, default training)", "trainer": " (module trainer)"}
        methods = [(name + notes.get(kind, ""), name) for name, kind in kinds.items()
                   if kind != "loader"]
        loaders = [("default: load_checkpoint", _DEFAULT)] + [
            (name, name) for name, kind in kinds.items() if kind == "loader"]
        offered = {name for _, name in methods}
        with self._batch():
            kept = tuple(v for v in self.methods.value if v in offered)
            self.methods.options = methods  # (this clears the selection)
            self.methods.value = kept
            _reset(self.data, [(name, name) for name in _evaluation_first(data)], first=True)
            _reset(self.train_data, [("(choose train data)", _DEFAULT)]
                   + [(name, name) for name in data], first=False)
            _reset(self.load_fn, loaders, first=False)
        if self.num_classes.value == 0:
            self._prefill_classes()
        self._update()

    # ------------------------------------------------------------------ form state
    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """Change several fields; observers wait until the end (one validation)."""
        previous, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = previous

    def _on_change(self, change: Any = None) -> None:
        if not self._quiet:
            self._update()

    def _on_data(self, change: Any = None) -> None:
        if not self._quiet:
            self._prefill_classes()
            self._update()

    def _prefill_classes(self) -> None:
        obj = self.namespace.get(self.data.value) if self.data.value else None
        inferred, _ = self._classes_of(obj) if obj is not None else (None, False)
        if inferred is not None:
            with self._batch():
                self.num_classes.value = inferred

    def _classes_of(self, data: Any) -> tuple[int | None, bool]:
        """:func:`_infer_classes`, read once per data object (the form validates often)."""
        cached = self._classes.get(id(data))
        if cached is None or cached[0] is not data:
            cached = self._classes[id(data)] = (data, _infer_classes(data))
        return cached[1]

    def set(self, **fields: Any) -> None:
        """Fill fields in code, as a user would in the form (the twin of typing).

        Parameters
        ----------
        **fields
            ``methods`` (namespace names), ``seeds`` (text like ``"0-4"`` or a list of
            ints), ``data``, ``train_data``, ``load_fn`` (namespace names), ``task``,
            ``num_classes``, ``test``, ``alpha``, ``reference``, ``working_dir``,
            ``launcher`` (None for in-process), ``epochs``, ``lr``; and the settings without a
            field, shown in the code: ``metrics`` (list of names), ``predict_fn`` (a
            namespace name), ``ignore_index`` (int).

        Raises
        ------
        MushinKeyError
            An unknown field.
        MushinValueError
            A value the field cannot show (a name not in the namespace, an unknown test).
        """
        for name in fields:
            if name not in _LABELS and name not in _EXTRAS:
                raise MushinKeyError(f"unknown field {name!r}. Known fields: "
                                     f"{', '.join(list(_LABELS) + list(_EXTRAS))}. Fix: use "
                                     "one of them.")
        # the reference is one of the methods: set it once they are
        order = sorted(fields, key=lambda name: name == "reference")
        with self._batch():
            for name in order:
                self._set_one(name, fields[name])
        if "data" in fields and "num_classes" not in fields:
            self._prefill_classes()
        self._update()

    def _set_one(self, name: str, value: Any) -> None:
        if name in _EXTRAS:
            self._extras[name] = _check_extra(name, value, self.namespace)
            return
        widget = self._fields[name]
        if name == "reference":
            labels = [self._label(method) for method in self.methods.value]
            if value not in labels:
                raise bad_value("reference", value, f"one of the chosen methods {labels}",
                                "choose the method first, or leave the reference to the first")
            self._wanted_reference = value
            return
        if name == "methods":
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise bad_value("methods", value, "a list of namespace names",
                                "e.g. methods=['train_cnn', 'train_mlp']", MushinTypeError)
            value = tuple(value)
            offered = [v for _, v in self.methods.options]
            unknown = [v for v in value if v not in offered]
            if unknown:
                raise bad_value("methods", unknown[0], "the name of a train_fn or module of "
                                f"the namespace ({', '.join(offered) or 'none found'})",
                                "define it in the notebook, then call refresh()")
        elif name == "seeds" and not isinstance(value, str):
            value = format_seeds(value)
        elif name in ("launcher", "load_fn", "train_data") and value is None:
            value = _DEFAULT
        elif name == "working_dir" and isinstance(value, os.PathLike):
            value = os.fspath(value)
        if isinstance(widget, widgets.Dropdown):
            values = [v[1] if isinstance(v, tuple) else v for v in widget.options]
            if value not in values:
                raise bad_value(name, value, f"one of {values}",
                                "define it in the notebook, then call refresh()"
                                if name in ("data", "train_data", "load_fn") else
                                "pick one of the listed values")
        try:
            widget.value = value
        except Exception as exc:  # a trait refusing the type (e.g. text into an IntText)
            raise bad_value(name, value, f"a value the {_LABELS[name]} field takes",
                            str(exc), MushinTypeError) from None

    def _update(self) -> None:
        """Bring the dependent fields in line, then validate and enable Run accordingly."""
        with self._batch():
            labels = [self._label(name) for name in self.methods.value]
            wanted = self._wanted_reference or self.reference.value
            self.reference.options = labels
            self.reference.value = wanted if wanted in labels else (labels[0] if labels
                                                                    else None)
            self._wanted_reference = None
        needs_training = any(self._kinds.get(name) == "module" for name in self.methods.value)
        self._train_box.layout.display = "" if needs_training else "none"
        self._errors = self._validate()
        for name, message in self._messages.items():
            message.value = _html_error(self._errors.get(name, ""))
        running = self.running
        self.run_button.disabled = bool(self._errors) or running
        if self.code_box.layout.display != "none":
            self.code_box.value = self._code_html()

    def _label(self, name: str) -> str:
        return self._labels.get(name, name)

    @property
    def errors(self) -> dict[str, str]:
        """Field -> what is wrong with it (checked now); empty when the form can run."""
        self._update()
        return dict(self._errors)

    def _validate(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        chosen = list(self.methods.value)
        if not chosen:
            errors["methods"] = "pick at least one method (Ctrl/Shift-click for several)"
        for name in chosen:
            if name not in self.namespace or _kind(self.namespace[name], self._home) in (
                    None, "loader"):
                errors["methods"] = f"{name!r} is no longer a train_fn of the namespace: " \
                                    "click Refresh"
        labels = [self._label(name) for name in chosen]
        slugs = [_slug(label).lower() for label in labels]
        if len(set(slugs)) != len(slugs):
            errors["methods"] = "two methods have the same name once made safe for paths"
        try:
            seeds = parse_seeds(self.seeds.value)
        except MushinValueError as exc:
            errors["seeds"] = _short(exc)
            seeds = []
        else:
            if len(seeds) < 2:
                errors["seeds"] = "a test needs at least 2 seeds per method: add seeds, e.g. 0-2"
        data = self.namespace.get(self.data.value) if self.data.value else None
        if data is None:
            errors["data"] = "define a DataLoader of the evaluation data, then click Refresh"
        if any(self._kinds.get(name) == "module" for name in chosen):
            if not self.train_data.value or self.train_data.value not in self.namespace:
                errors["train_data"] = "the nn.Module methods need train data: pick a DataLoader"
            if self.epochs.value < 1:
                errors["epochs"] = "at least 1 epoch"
            if not (math.isfinite(self.lr.value) and self.lr.value > 0):
                errors["lr"] = "a positive learning rate, e.g. 0.001"
        if self.load_fn.value and self.load_fn.value not in self.namespace:
            errors["load_fn"] = "no longer in the namespace: click Refresh"
        n = self.num_classes.value
        sources = {"data": data}
        if any(self._kinds.get(m) == "module" for m in chosen) and "train_data" not in errors:
            sources["train_data"] = self.namespace[self.train_data.value]
        if n < 1:
            errors["num_classes"] = "a positive number of classes, e.g. 10"
        for source, obj in sources.items():
            mismatch = _classes_mismatch(n, *self._classes_of(obj)) \
                if obj is not None and n >= 1 else None
            if mismatch:
                errors["num_classes"] = f"the {_LABELS[source].lower()} {mismatch}"
                break
        if not (math.isfinite(self.alpha.value) and 0 < self.alpha.value < 1):
            errors["alpha"] = "alpha must be in (0, 1), e.g. 0.05"
        if "num_classes" not in errors:
            try:
                from mushin_nb.metrics import Battery

                Battery(n, task=self.task.value, metrics=self._extras["metrics"],
                        ignore_index=self._extras["ignore_index"])
            except Exception as exc:
                errors["task"] = _short(exc)
        text = self.working_dir.value.strip()
        if not text:
            errors["working_dir"] = "a folder for the sweep and checkpoints, e.g. study"
        elif not self.running:
            path = Path(text).expanduser()
            blocked = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()),
                           None)
            if blocked is not None:
                errors["working_dir"] = f"{str(blocked)!r} is a file: pick another folder"
        return errors

    # ------------------------------------------------------------------ Study & code
    def _method_objects(self) -> dict[str, Any]:
        methods: dict[str, Any] = {}
        for name in self.methods.value:
            obj = self.namespace[name]
            if self._kinds.get(name) == "module":
                obj = module_trainer(obj, self.namespace[self.train_data.value],
                                     epochs=self.epochs.value, lr=self.lr.value,
                                     name=self._label(name))
            methods[self._label(name)] = obj
        return methods

    def _invalid(self) -> str:
        listed = "; ".join(f"{_LABELS[k].lower()}: {v}" for k, v in self._errors.items())
        return (f"The StudyBuilder form has invalid fields: {listed}. Fix: correct them (the "
                "form shows each next to its field).")

    def _require_valid(self) -> None:
        self._update()
        if self._errors:
            raise MushinValueError(self._invalid())

    def to_study(self) -> Any:
        """The :class:`~mushin_nb.Study` the form describes (not run).

        Raises
        ------
        MushinValueError
            The form has invalid fields (see :attr:`errors`).
        """
        from mushin_nb.study import Study

        self._require_valid()
        methods = self._method_objects()
        user_loader = self.namespace[self.load_fn.value] if self.load_fn.value else None
        load_fn = user_loader
        if any(isinstance(fn, ModuleTrainer) for fn in methods.values()):
            load_fn = methods_loader(methods, default=user_loader)
        extras = dict(self._extras)
        if extras["predict_fn"] is not None:
            extras["predict_fn"] = self.namespace[extras["predict_fn"]]
        return Study(methods, load_fn, seeds=parse_seeds(self.seeds.value),
                     data=self.namespace[self.data.value], num_classes=self.num_classes.value,
                     task=self.task.value, test=self.test.value, alpha=self.alpha.value,
                     reference=self.reference.value, working_dir=self.working_dir.value.strip(),
                     launcher=self.launcher.value or None, **extras)

    def code(self) -> str:
        """The Python that builds and runs the same Study (the Show code button).

        Namespace objects appear by their names, checked to be identifiers; every other
        value is written as a Python literal, never as the text typed in the form.

        Raises
        ------
        MushinValueError
            The form has invalid fields (see :attr:`errors`).
        """
        self._require_valid()
        return self._code_text()

    def _code_text(self) -> str:
        chosen = list(self.methods.value)
        modules = [n for n in chosen if self._kinds.get(n) == "module"]
        helpers = (["methods_loader", "module_trainer"] if modules else [])
        lines = ["from mushin_nb import Study"]
        if helpers:
            lines.append(f"from mushin_nb.notebook.builder import {', '.join(helpers)}")
        lines += ["", "methods = {"]
        for name in chosen:
            expr = _ident(name)
            if name in modules:
                label = self._label(name)
                default_name = getattr(self.namespace[name], "__name__", None)
                named = "" if label == default_name else f", name={label!r}"
                expr = (f"module_trainer({expr}, {_ident(self.train_data.value)}, "
                        f"epochs={self.epochs.value!r}, lr={self.lr.value!r}{named})")
            lines.append(f"    {self._label(name)!r}: {expr},")
        lines += ["}", "study = Study(", "    methods,"]
        loader = _ident(self.load_fn.value) if self.load_fn.value else None
        if modules:
            loader = f"methods_loader(methods{', default=' + loader if loader else ''})"
        if loader:
            lines.append(f"    load_fn={loader},")
        lines += [
            f"    seeds={parse_seeds(self.seeds.value)!r},",
            f"    data={_ident(self.data.value)},",
            f"    num_classes={int(self.num_classes.value)!r},",
            f"    task={self.task.value!r},",
            f"    test={self.test.value!r},",
            f"    alpha={float(self.alpha.value)!r},",
            f"    reference={self.reference.value!r},",
            f"    working_dir={self.working_dir.value.strip()!r},",
        ]
        if self.launcher.value:
            lines.append(f"    launcher={self.launcher.value!r},")
        for name in _EXTRAS:
            value = self._extras[name]
            if value is not None:
                text = _ident(value) if name == "predict_fn" else repr(value)
                lines.append(f"    {name}={text},")
        lines += [")", "result = study.run()", "result"]
        return "\n".join(lines)

    def _code_html(self) -> str:
        if self._errors:
            return _html_error(self._invalid())
        return f"<pre style='margin:4px 0'>{html.escape(self._code_text())}</pre>"

    def _toggle_code(self) -> None:
        self.code_box.layout.display = "none" if self.code_box.layout.display != "none" else ""
        self._update()

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        """True while a run started by the Run button trains or compares."""
        return self._active

    def run(self, block: bool = False) -> Any:
        """Build the Study and run it (the Run button).

        Parameters
        ----------
        block : bool
            ``True``: run here and return the result, raising what the Study raises.
            ``False``: run in a background thread and return None at once; the kernel
            stays free (Stop works); :meth:`wait` waits for the result.

        Returns
        -------
        BenchmarkResult or None

        Raises
        ------
        MushinValueError
            The form has invalid fields.
        MushinRuntimeError
            A run is already going on.
        """
        if self.running:
            raise MushinRuntimeError("The StudyBuilder is already running a study. Fix: wait "
                                     "for it (builder.wait()) or stop it (builder.stop()).")
        study = self.to_study()
        self.study, self.result, self.error = study, None, None
        self._flag = _StopFlag(study.working_dir)
        self.monitor_box.children = ()
        study.progress = _Monitors(self.monitor_box,
                                   lambda phase: self._set_status(f"running: {phase}..."))
        self._active = True
        self._done.clear()
        self.error_box.value = ""
        self.results.layout.display = "none"
        self._set_status("running: training...")
        self.run_button.disabled, self.stop_button.disabled = True, False
        if block:
            self._work(study, self._flag)
            if self.error is not None:
                raise self.error
            return self.result
        self._thread = threading.Thread(target=self._work, args=(study, self._flag),
                                        name="mushin-nb-study-builder", daemon=True)
        self._thread.start()
        return None

    def stop(self) -> None:
        """End the running study after the training under way (the Stop button).

        Trainings not started are skipped (recorded as skipped, so a later run trains
        them); the comparison of what finished still runs.
        """
        if not self.running or self._flag is None:
            return
        self._flag.set()
        self.stop_button.disabled = True
        self._set_status("stopping after the running training...")

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the background run; return its result or raise its error.

        Raises
        ------
        MushinRuntimeError
            ``timeout`` seconds passed first.
        """
        if not self._done.wait(timeout):
            raise MushinRuntimeError(f"The study still runs after {timeout} s. Fix: wait "
                                     "longer, or call builder.stop().")
        if self.error is not None:
            raise self.error
        return self.result

    def _work(self, study: Any, flag: _StopFlag) -> None:
        started = time.monotonic()
        original = study.methods
        study.methods = {name: _Stoppable(fn, flag.path) for name, fn in original.items()}
        try:
            result = study.run()
        except BaseException as exc:  # shown in the form: a thread's error must not vanish
            self.error = exc
            self.error_box.value = _error_html(exc)
            elapsed = time.monotonic() - started
            self._set_status(f"stopped after {elapsed:.1f} s: too few trainings finished to "
                             "compare" if flag.is_set() else f"failed after {elapsed:.1f} s")
        else:
            self.result = result
            stopped = flag.is_set()
            try:
                self._show_results(result)
            except Exception as exc:  # a plot failing must not hide the result
                self.error_box.value = _html_error(f"showing the result: {exc}")
            stale = study.stale
            if stale:  # the warning went to the thread's stderr: say it in the form too
                listed = "; ".join(f"{m} (seeds {', '.join(map(str, s))})"
                                   for m, s in stale.items())
                self.error_box.value = _html_error(
                    f"Reused checkpoints were trained by older code or settings: {listed}. "
                    "Fix: to retrain them, choose a new working folder.")
            missing = len(getattr(result, "missing", ()))
            state = "stopped" if stopped else "done"
            left = f", {missing} training(s) left out" if missing else ""
            self._set_status(f"{state} in {time.monotonic() - started:.1f} s{left}")
        finally:
            study.methods = original
            flag.clear()
            self._active = False
            try:
                self.stop_button.disabled = True
                self._update()
            finally:  # waiters are released whatever the display does
                self._done.set()

    def _set_status(self, text: str) -> None:
        self.status.value = f"<span>{html.escape(text)}</span>"

    # ------------------------------------------------------------------ results
    def _show_results(self, result: Any) -> None:
        W = widgets  # noqa: N806
        summary = W.HTML(result._repr_html_())
        summary.add_class("mushin-builder-summary")
        table = result.comparisons.round(4).to_html(index=False, escape=True,
                                                     classes="mushin-comparisons")
        comparisons = W.HTML(f"<div style='overflow-x:auto'>{table}</div>")
        metric = W.Dropdown(options=result.metrics, value=result.metrics[0],
                            description="Metric")
        images = W.VBox([])

        def draw(change: Any = None) -> None:
            images.children = tuple(_plot_widget(result, kind, metric.value)
                                    for kind in ("summary", "pvalues", "seeds"))

        metric.observe(lambda change: self._safely_plot(draw), names="value")
        draw()
        code = W.HTML(f"<pre>{html.escape(self.code())}</pre>")
        code.add_class("mushin-builder-code-tab")
        self.results.children = (summary, comparisons, W.VBox([metric, images]), code)
        self.results.titles = ("Summary", "Comparisons", "Plots", "Show code")
        self.results.selected_index = 0
        self.results.layout.display = ""

    def _safely_plot(self, draw: Callable[[], None]) -> None:
        self._safely("Plots", draw)

    # ------------------------------------------------------------------ round trip
    @classmethod
    def from_study(cls, study: Any, namespace: Mapping[str, Any] | None = None
                   ) -> StudyBuilder:
        """A builder whose form describes ``study``: its methods, data and settings.

        Every object of the study (train_fns, module factories, data, loaders) must be a
        variable of ``namespace``, since the form and its code name them.

        Raises
        ------
        MushinTypeError
            ``study`` is not a Study.
        MushinValueError
            An object of the study is not in the namespace, or a setting has no place in
            the form (names each).
        """
        from mushin_nb.study import Study, load_checkpoint

        if not isinstance(study, Study):
            raise bad_value("study", study, "a mushin_nb.Study", "pass the Study itself",
                            MushinTypeError)
        builder = cls(namespace)
        names, trainers = [], []
        labels: dict[str, str] = {}
        for label, fn in study.methods.items():
            if isinstance(fn, ModuleTrainer) and builder._name_of(fn) is None:
                trainers.append(fn)
                fn = fn.factory
            name = builder._name_of(fn, prefer=label)
            if name is None:
                raise bad_value(f"study.methods[{label!r}]", fn, "an object of the namespace "
                                "(the form lists methods by their variable names)",
                                f"assign it to a variable, e.g. {_slug(label)} = ...")
            names.append(name)
            labels[name] = label
        settings = {"methods": names, "seeds": format_seeds(study.seeds),
                    "data": builder._require_name("study.data", study.data),
                    "num_classes": study.num_classes, "working_dir": str(study.working_dir),
                    "launcher": study.launcher}
        if trainers:
            first = trainers[0]
            for other in trainers[1:]:
                if (other.data, other.epochs, other.lr) != (first.data, first.epochs, first.lr):
                    raise bad_value("study.methods", other, "module trainers sharing train "
                                    "data, epochs and lr (the form has one of each)",
                                    "build the form for one setting at a time")
            settings.update(train_data=builder._require_name("train data", first.data),
                            epochs=first.epochs, lr=first.lr)
        loader = study.load_fn
        if isinstance(loader, MethodsLoader):
            loader = loader.default
        if loader is not None and loader is not load_checkpoint:
            settings["load_fn"] = builder._require_name("study.load_fn", loader)
        kwargs = dict(getattr(study, "_compare_kwargs", {}))
        for key in ("task", "test", "alpha", "reference"):
            if kwargs.get(key) is not None:
                settings[key] = kwargs[key]
        if kwargs.get("predict_fn") is not None:
            settings["predict_fn"] = builder._require_name("study predict_fn",
                                                           kwargs["predict_fn"])
        for key in ("metrics", "ignore_index"):
            if kwargs.get(key) is not None:
                settings[key] = kwargs[key]
        builder._labels = labels
        reference = settings.pop("reference", None)
        builder.set(**settings)
        if reference is not None:
            builder.set(reference=reference)
        return builder

    def _name_of(self, obj: Any, prefer: str | None = None) -> str | None:
        if prefer is not None and _is_identifier(prefer) and self.namespace.get(prefer) is obj:
            return prefer
        return next((name for name, value in self.namespace.items()
                     if value is obj and _is_identifier(name) and not name.startswith("_")),
                    None)

    def _require_name(self, what: str, obj: Any) -> str:
        name = self._name_of(obj)
        if name is None:
            raise bad_value(what, obj, "an object of the namespace (the form names it)",
                            "assign it to a variable of the notebook first")
        return name

    def __repr__(self) -> str:
        state = "running" if self.running else ("done" if self.result is not None else "idle")
        return (f"StudyBuilder(methods={list(self.methods.value)}, seeds={self.seeds.value!r}, "
                f"data={self.data.value!r}, {state})")


# ------------------------------------------------------------------ helpers


def _reset(dropdown: Any, options: list[tuple[str, str]], first: bool) -> None:
    """New options for ``dropdown``, keeping its value when still offered."""
    value = dropdown.value
    values = [v for _, v in options]
    dropdown.options = options
    if value in values:
        dropdown.value = value
    elif values:
        dropdown.value = values[0] if first or _DEFAULT in values else None
    else:
        dropdown.value = None


def _evaluation_first(names: list[str]) -> list[str]:
    """Data names with the likely evaluation sets (test, then validation) first."""
    def rank(name: str) -> int:
        lowered = name.lower()
        return 0 if "test" in lowered else 1 if "val" in lowered or "eval" in lowered else 2

    return sorted(names, key=rank)


def _classes_mismatch(n: int, inferred: int | None, exact: bool) -> str | None:
    """Why ``n`` classes cannot be right for data of ``inferred`` classes, or None."""
    if inferred is None or (n == inferred if exact else n >= inferred):
        return None
    what = f"has {inferred} classes" if exact else f"has labels up to {inferred - 1}"
    return f"{what}: set {inferred}"


def _ident(name: str) -> str:
    """``name`` for generated code, after checking it is an identifier."""
    if not _is_identifier(name):
        raise bad_value("name", name, "a Python identifier (it is written into code)",
                        "rename the variable")
    return name


def _check_extra(name: str, value: Any, namespace: Mapping[str, Any]) -> Any:
    if value is None:
        return None
    if name == "metrics":
        if isinstance(value, str) or not isinstance(value, Sequence) \
                or not all(isinstance(v, str) for v in value):
            raise bad_value("metrics", value, "a list of metric names (the form writes them "
                            "as literals)", "e.g. metrics=['accuracy', 'f1']", MushinTypeError)
        return list(value)
    if name == "ignore_index":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise bad_value("ignore_index", value, "an int or None", "e.g. ignore_index=255",
                            MushinTypeError)
        return int(value)
    if not isinstance(value, str) or not _is_identifier(value) or value not in namespace:
        raise bad_value("predict_fn", value, "the name of a function in the namespace",
                        "define it, then pass its name", MushinValueError)
    return value


def _short(exc: BaseException) -> str:
    """An error message without the argument preamble, for a field's note."""
    text = str(exc)
    match = re.match(r"`[^`]+` must be (.*), got (.*?)\. Fix: (.*)$", text, re.S)
    if match:
        return f"must be {match.group(1)}: {match.group(3)}"
    return text


def _plot_widget(result: Any, kind: str, metric: str) -> Any:
    """One static plot of ``result`` as a PNG image widget (or the reason it is missing)."""
    import io

    try:
        figure = result.plot(kind, metric=metric, backend="matplotlib")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90)
    except Exception as exc:  # e.g. a p-value matrix of a single method
        return widgets.HTML(_html_error(f"{kind} plot: {exc}"))
    image = widgets.Image(value=buffer.getvalue(), format="png",
                          layout=widgets.Layout(max_width="640px"))
    image.add_class(f"mushin-builder-plot-{kind}")
    return image
