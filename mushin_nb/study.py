"""Study: train every method on every seed through a Hydra sweep, then compare them.

``Study(methods, load_fn, seeds, data, num_classes, ...)`` runs each
``train_fn(seed) -> checkpoint path`` as one job of a sweep over ``(method, seed)`` under
``<working_dir>/sweep``, then evaluates every checkpoint with
:func:`mushin_nb.compare.compare` and returns a :class:`StudyResult` (a
:class:`~mushin_nb.compare.BenchmarkResult` that also names the pairs whose training
failed). The sweep directory is the source of truth: running the same Study again trains
only the pairs without a checkpoint, and adding a seed trains only that seed. Train
functions save under ``<working_dir>/checkpoints`` (:func:`checkpoint_dir`, or the relative
path ``checkpoints/`` from the job directory).

Checkpoints load with ``torch.load(weights_only=True)``: :func:`load_checkpoint` (the
default ``load_fn``) loads whole models built from torch.nn's own layers or from classes
allow-listed with ``torch.serialization.add_safe_globals``; :func:`state_dict_loader`
rebuilds a model from a state dict; :func:`load_module` unpickles any module, only from
files the user declares trusted.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import html
import inspect
import numbers
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from mushin_nb.compare import BenchmarkResult, compare
from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinNotADirectoryError,
    MushinTypeError,
    MushinValueError,
    NotRunError,
    SweepFailedError,
    bad_value,
    describe,
)
from mushin_nb.progress import current_job
from mushin_nb.stats import MushinWarning

__all__ = [
    "Study",
    "StudyResult",
    "TrainingFailure",
    "checkpoint_dir",
    "load_checkpoint",
    "load_module",
    "state_dict_loader",
]

PathLike = str | os.PathLike
#: Name of the folder of ``working_dir`` where train_fns are offered to save checkpoints.
CHECKPOINTS = "checkpoints"
#: Name of the folder of ``working_dir`` that holds the Hydra sweep over (method, seed).
SWEEP = "sweep"

_CHECKPOINT_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "mushin_nb_checkpoint_dir", default=None
)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class TrainingFailure(NamedTuple):
    """One (method, seed) pair whose training failed, as listed by ``Study.failures``."""

    method: str
    seed: int
    error: str
    traceback_path: str | None


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


# ----------------------------------------------------------------------------- loading


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


class StudyResult(BenchmarkResult):
    """The :class:`~mushin_nb.compare.BenchmarkResult` of a Study, naming what is missing.

    Its text and HTML displays end with the (method, seed) pairs whose training failed
    (left out of the comparison); ``missing`` lists them as ``(method, seed, error)``.
    """

    def __init__(self, data: Any, comparisons: Any, summary: Any,
                 missing: Sequence[tuple[str, int, str]] = ()) -> None:
        super().__init__(data, comparisons, summary)
        self.missing = [tuple(item) for item in missing]

    def _missing_line(self) -> str:
        pairs = "; ".join(f"{m}/seed={s} ({why})" for m, s, why in self.missing)
        return f"missing (no checkpoint, left out): {pairs}" if pairs else ""

    def __repr__(self) -> str:
        line = self._missing_line()
        return super().__repr__() + (f"\n{line}" if line else "")

    def _repr_html_(self) -> str:
        page, line = super()._repr_html_(), self._missing_line()
        if not line:
            return page
        note = f"<p class='mushin-missing'>{html.escape(line)}</p>"
        return page[:-6] + note + "</div>" if page.endswith("</div>") else page + note


# -------------------------------------------------------------------------- validation


def _check_methods(methods: Any, arg: str = "methods") -> dict[str, str]:
    """Return method name -> path-safe slug (the value swept by Hydra)."""
    training = arg == "methods"
    if not isinstance(methods, Mapping) or not methods:
        raise bad_value(arg, methods, "a non-empty dict of name -> " + (
            "train_fn(seed)" if training else "checkpoint paths"),
            "e.g. methods={'cnn': train_cnn, 'mlp': train_mlp}" if training
            else "e.g. checkpoints={'cnn': ['cnn0.pt', 'cnn1.pt']}", MushinTypeError)
    slugs: dict[str, str] = {}
    for name, fn in methods.items():
        if not isinstance(name, str) or not name.strip():
            raise bad_value(arg, name, "keyed by non-empty str method names",
                            "name each method, e.g. {'cnn': ...}", MushinTypeError)
        if training and not callable(fn):
            raise bad_value(f"methods[{name!r}]", fn, "a callable train_fn(seed) -> path",
                            "pass the function itself, not its result", MushinTypeError)
        slug = _SAFE_NAME.sub("_", name).strip("._") or "method"
        clash = [other for other, s in slugs.items() if s.lower() == slug.lower()]
        if clash:
            raise bad_value(arg, name, f"a name distinct from {clash[0]!r} once made safe "
                            f"for paths (both become {slug!r})", "rename one of them")
        slugs[name] = slug
    return slugs


def _check_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (str, bytes, Mapping)) or not isinstance(seeds, Iterable):
        raise bad_value("seeds", seeds, "a list of ints", "e.g. seeds=[0, 1, 2]", MushinTypeError)
    seeds = list(seeds)
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise bad_value("seeds", seeds, "a list of ints", f"{seed!r} is not an int",
                            MushinTypeError)
    out = [int(seed) for seed in seeds]
    if not out:
        raise bad_value("seeds", seeds, "a non-empty list of ints", "e.g. seeds=[0, 1, 2]")
    dup = sorted({seed for seed in out if out.count(seed) > 1})
    if dup:
        raise bad_value("seeds", seeds, "unique ints", f"remove the repeated seed(s) {dup}")
    return out


def _check_data(data: Any) -> None:
    if data is None:
        raise bad_value("data", data, "a re-iterable of (inputs, targets) batches",
                        "pass a DataLoader, e.g. data=test_loader", MushinTypeError)
    if isinstance(data, (str, bytes)) or not (isinstance(data, Iterable)
                                              or hasattr(data, "__getitem__")):
        raise bad_value("data", data, "a re-iterable of (inputs, targets) batches",
                        "pass a DataLoader or a list of batches", MushinTypeError)
    # no iter(data) here: a DataLoader with workers would start them
    if isinstance(data, Iterator):
        raise bad_value("data", data, "re-iterable (every model makes one pass over it)",
                        "pass a DataLoader or list(batches), not a generator or iterator",
                        MushinTypeError)


def _check_num_classes(num_classes: Any) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise bad_value("num_classes", num_classes, "a positive int", "e.g. num_classes=10",
                        MushinTypeError)
    if num_classes < 1:
        raise bad_value("num_classes", num_classes, "a positive int", "e.g. num_classes=10")
    return int(num_classes)


def _check_evaluation(num_classes: int, task: Any, test: Any, alpha: Any, ignore_index: Any,
                      metrics: Any, predict_fn: Any) -> None:
    """Check what compare() will be given, so that no training runs for a doomed study."""
    from mushin_nb import stats
    from mushin_nb.metrics import Battery

    stats.check_settings(test, alpha)
    Battery(num_classes, task=task, metrics=metrics, ignore_index=ignore_index)
    if predict_fn is not None and not callable(predict_fn):
        raise bad_value("predict_fn", predict_fn, "a callable (model, inputs) -> probabilities",
                        "or leave predict_fn=None for the task's default", MushinTypeError)


def _check_working_dir(working_dir: Any) -> Path:
    if not isinstance(working_dir, (str, os.PathLike)):
        raise bad_value("working_dir", working_dir, "a path", "e.g. working_dir='experiments/a'",
                        MushinTypeError)
    path = Path(working_dir).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise bad_value("working_dir", str(working_dir), "a directory (it is a file)",
                        "pick another path or move the file", MushinNotADirectoryError)
    return path


def _check_path(method: str, seed: int, value: Any) -> Path:
    """Resolve what ``train_fn(seed)`` returned against the job dir (the current directory)."""
    if value is None:
        raise MushinValueError(
            f"train_fn of method {method!r} returned None for seed {seed}. Fix: return the "
            "path of the checkpoint it saved, e.g. `return path` after `torch.save(model, path)`."
        )
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise MushinValueError(
            f"train_fn of method {method!r} returned {describe(value)} for seed {seed}, not a "
            "path. Fix: save the model (torch.save) and return the checkpoint's path."
        )
    path = Path(value).expanduser()
    path = (path if path.is_absolute() else Path.cwd() / path).resolve()
    if not path.is_file():
        raise MushinValueError(
            f"train_fn of method {method!r} returned {str(value)!r} for seed {seed}, but "
            f"{str(path)!r} does not exist. Fix: return the path the checkpoint was saved to."
        )
    return path


# ----------------------------------------------------------------------------- the job


class _TrainJob:
    """The task of the sweep: run one ``train_fn(seed)``, return its checkpoint path.

    A plain class (not a closure) so that process launchers can pickle it.
    """

    def __init__(self, train_fns: dict[str, Callable[[int], Any]], names: dict[str, str],
                 checkpoints: Path) -> None:
        self.train_fns, self.names, self.checkpoints = train_fns, names, checkpoints
        # hashed here, in the caller's process: a worker may not see a notebook's source
        self.codes = {slug: _fingerprint(fn) for slug, fn in train_fns.items()}

    def __call__(self, method: str, seed: int) -> dict[str, str]:
        slug, seed = str(method), int(seed)
        name = self.names[slug]
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        # `torch.save(model, "checkpoints/x.pt")` from the job dir lands in working_dir/checkpoints
        job = current_job()
        link = (job.job_dir if job is not None and job.job_dir is not None
                else Path.cwd()) / CHECKPOINTS
        if not link.exists() and not link.is_symlink():
            try:
                link.symlink_to(self.checkpoints, target_is_directory=True)
            except OSError:  # no symlinks (some Windows set-ups): a real folder still works
                link.mkdir()
        token = _CHECKPOINT_DIR.set(self.checkpoints)
        try:
            returned = self.train_fns[slug](seed)
        finally:
            _CHECKPOINT_DIR.reset(token)
        return {"checkpoint": str(_check_path(name, seed, returned)),
                "train_fn": self.codes[slug]}


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


# ---------------------------------------------------------------------------- the Study


class Study:
    """Train every method on every seed through a Hydra sweep, then compare them.

    Parameters
    ----------
    methods : dict of str -> callable
        Method name -> ``train_fn(seed) -> checkpoint path``. A ``train_fn`` runs with its
        job directory as the current directory, where ``checkpoints/`` leads to
        ``<working_dir>/checkpoints`` (also given by :func:`checkpoint_dir`); a relative
        path it returns is resolved against the current directory. A Study run from a
        thread other than the main one (a widget's background run) leaves the process's
        current directory alone: its ``train_fn`` should save to :func:`checkpoint_dir`.
        Names become path-safe sweep values (other characters turn into ``_``).
    load_fn : callable, optional
        ``load_fn(path) -> torch.nn.Module``; default :func:`load_checkpoint` (safe
        ``weights_only`` loading; see :func:`state_dict_loader` and :func:`load_module`).
    seeds : sequence of int
        The seeds, unique; every method is trained once per seed.
    data : re-iterable of (inputs, targets) batches
        The evaluation data (a DataLoader); it is iterated once per model.
    num_classes : int
        Number of classes of the task.
    task, test, alpha, ignore_index, metrics, predict_fn, reference
        Passed to :func:`mushin_nb.compare.compare`.
    working_dir : str or os.PathLike
        Where the sweep (``sweep/``) and the checkpoints (``checkpoints/``) live; running
        a Study again in the same directory resumes it (pairs are matched by method name
        and seed). Each checkpoint records a hash of its train_fn's source code; when a
        reused checkpoint was trained by different code, a ``MushinWarning`` names the
        method and seeds (values the code reads from outside it are not hashed). After
        changing a train_fn, use a new directory.
    launcher : str, optional
        A Hydra launcher for the trainings (``"joblib"``, ``"submitit_local"``...); the
        train_fns must then be picklable. Default: in-process.
    progress : bool or sink
        Live progress of the trainings (see :func:`mushin_nb.progress.sweep_progress`).

    Attributes
    ----------
    working_dir : pathlib.Path
        The resolved working directory.
    checkpoints : dict of str -> list of str
        After :meth:`run`: method -> absolute checkpoint paths, in seed order (a seed
        whose training failed is left out).
    failures : list of TrainingFailure
        After :meth:`run`: the (method, seed) pairs whose training failed.
    stale : dict of str -> list of int
        After :meth:`run`: method -> seeds whose reused checkpoint was trained by a
        train_fn whose code has changed since (the ``MushinWarning`` names them too).
    result : StudyResult
        After :meth:`run`: what it returned.
    workflow : MultiRunMetricsWorkflow
        After :meth:`run`: the training sweep (``.failures``, ``.to_xarray()``...).

    Examples
    --------
    >>> import tempfile, torch
    >>> from mushin_nb.study import Study, checkpoint_dir, state_dict_loader
    >>> x = torch.linspace(-1, 1, 40).reshape(-1, 1)
    >>> data = [(x, (x[:, 0] > 0).long())]
    >>> def train_fn(sign):  # a threshold classifier; the seed moves the threshold
    ...     def train(seed):
    ...         model = torch.nn.Linear(1, 2)
    ...         with torch.no_grad():
    ...             model.weight.copy_(torch.tensor([[-sign], [sign]]))
    ...             model.bias.copy_(torch.tensor([0.0, sign * 0.1 * (1 - seed)]))
    ...         path = checkpoint_dir() / f"sign{sign}_{seed}.pt"
    ...         torch.save(model.state_dict(), path)
    ...         return path
    ...     return train
    >>> study = Study({"right": train_fn(1.0), "wrong": train_fn(-1.0)},
    ...               state_dict_loader(lambda: torch.nn.Linear(1, 2)), seeds=[0, 1, 2],
    ...               data=data, num_classes=2, metrics=["accuracy"],
    ...               working_dir=tempfile.mkdtemp(), progress=False)
    >>> result = study.run()  # doctest: +ELLIPSIS
    mushin_nb: 6 jobs in .../sweep: 6 done
    >>> result.data["accuracy"].values.round(3).tolist()
    [[0.975, 1.0, 0.975], [0.025, 0.0, 0.025]]
    >>> result.summary()["significant_vs_ref"].tolist()  # "*": differs from "right"
    ['', '*']
    >>> sorted(study.checkpoints), len(study.checkpoints["right"])
    (['right', 'wrong'], 3)
    """

    def __init__(
        self,
        methods: Mapping[str, Callable[[int], PathLike]],
        load_fn: Callable[[PathLike], Any] | None = None,
        seeds: Sequence[int] = (0, 1, 2),
        data: Iterable[Any] | None = None,
        num_classes: int | None = None,
        task: str = "classification",
        test: str = "welch",
        alpha: float = 0.05,
        ignore_index: int | None = None,
        working_dir: PathLike = ".",
        launcher: str | None = None,
        metrics: Sequence[str | Callable[..., Any]] | Mapping[str, Callable[..., Any]]
        | None = None,
        predict_fn: Callable[[Any], Any] | None = None,
        reference: str | None = None,
        progress: bool | Any = True,
    ) -> None:
        self._slugs = _check_methods(methods)
        self.methods = dict(methods)
        self.seeds = _check_seeds(seeds)
        if load_fn is not None and not callable(load_fn):
            raise bad_value("load_fn", load_fn, "a callable load_fn(path) -> model",
                            "e.g. load_fn=mushin_nb.study.state_dict_loader(MyNet)",
                            MushinTypeError)
        self.load_fn = load_checkpoint if load_fn is None else load_fn
        _check_data(data)
        self.data = data
        self.num_classes = _check_num_classes(num_classes)
        if reference is not None and reference not in self.methods:
            raise bad_value("reference", reference, f"one of the methods {list(self.methods)}",
                            "name a method of `methods`, or leave reference=None (the first)",
                            MushinValueError)
        _check_evaluation(self.num_classes, task, test, alpha, ignore_index, metrics,
                          predict_fn)
        self._compare_kwargs = dict(task=task, test=test, alpha=float(alpha),
                                    ignore_index=ignore_index, metrics=metrics,
                                    predict_fn=predict_fn, reference=reference)
        self.working_dir = _check_working_dir(working_dir)
        self.launcher = launcher
        self.progress = progress
        self._paths: dict[str, dict[int, str]] | None = None
        self._ran = False
        self._expected = {name: list(self.seeds) for name in self.methods}
        self._failures: list[TrainingFailure] = []
        self._skipped: list[TrainingFailure] = []  # trainings that raised JobSkipped
        self._stale: dict[str, list[int]] = {}
        self._result: Any = None
        self.workflow: Any = None

    # ------------------------------------------------------------------ alternative start

    @classmethod
    def from_checkpoints(
        cls,
        checkpoints: Mapping[str, Sequence[PathLike] | Mapping[int, PathLike]],
        load_fn: Callable[[PathLike], Any] | None = None,
        data: Iterable[Any] | None = None,
        num_classes: int | None = None,
        **kwargs: Any,
    ) -> Study:
        """A Study of checkpoints that already exist: :meth:`run` only evaluates them.

        Parameters
        ----------
        checkpoints : dict
            Method -> list of checkpoint paths (seeds ``0..n-1``) or dict seed -> path.
        load_fn, data, num_classes, **kwargs
            As for :class:`Study` (``task``, ``test``, ``alpha``, ``metrics``...).

        Examples
        --------
        >>> import tempfile, torch
        >>> folder = Path(tempfile.mkdtemp())
        >>> def save(name, weight):  # a 1-d threshold classifier, saved as a state dict
        ...     state = {"weight": torch.tensor([[-weight], [weight]]), "bias": torch.zeros(2)}
        ...     torch.save(state, folder / name)
        ...     return folder / name
        >>> checkpoints = {"a": [save("a0.pt", 1.0), save("a1.pt", 2.0)],
        ...                "b": {7: save("b7.pt", -1.0), 8: save("b8.pt", 0.5)}}
        >>> x = torch.linspace(-1, 1, 20).reshape(-1, 1)
        >>> study = Study.from_checkpoints(
        ...     checkpoints, state_dict_loader(lambda: torch.nn.Linear(1, 2)),
        ...     data=[(x, (x[:, 0] > 0).long())], num_classes=2, metrics=["accuracy"],
        ...     working_dir=folder, progress=False)
        >>> study.run().data["accuracy"].values.tolist()
        [[1.0, 1.0, nan, nan], [nan, nan, 0.0, 1.0]]
        """
        _check_methods(checkpoints, "checkpoints")
        table: dict[str, dict[int, str]] = {}
        seeds: list[int] | None = None
        for method, paths in checkpoints.items():
            arg = f"checkpoints[{method!r}]"
            if isinstance(paths, Mapping):
                by_seed = dict(zip(_check_seeds(list(paths)), paths.values()))
            elif isinstance(paths, (str, bytes, os.PathLike)) or not isinstance(paths, Iterable):
                raise bad_value(arg, paths, "a list of checkpoint paths or a dict seed -> path",
                                f"e.g. checkpoints={{{method!r}: ['a.pt', 'b.pt']}}",
                                MushinTypeError)
            else:
                by_seed = dict(enumerate(paths))
            if len(by_seed) < 2:
                raise bad_value(arg, paths, "at least 2 checkpoint paths (seeds), since a test "
                                "needs a spread over seeds", "list one checkpoint per seed")
            for seed, path in by_seed.items():
                if not isinstance(path, (str, os.PathLike)) or not Path(path).is_file():
                    shown = str(path) if isinstance(path, os.PathLike) else path
                    raise bad_value(f"{arg}[{seed}]", shown, "an existing checkpoint file",
                                    "check the path", MushinFileNotFoundError)
            table[method] = {seed: str(Path(p).resolve()) for seed, p in by_seed.items()}
            seeds = sorted(set(seeds or []) | set(by_seed))
        study = cls(dict.fromkeys(checkpoints, _no_training), load_fn, seeds or [0], data,
                    num_classes, **kwargs)
        study._paths = table
        study._expected = {m: sorted(by_seed) for m, by_seed in table.items()}
        return study

    # ------------------------------------------------------------------------ results

    def _require_run(self, name: str) -> None:
        if not self._ran:
            raise NotRunError(f"`study.{name}` is set by study.run(). Fix: call study.run() "
                              "first.")

    @property
    def checkpoint_dir(self) -> Path:
        """``<working_dir>/checkpoints``: where train_fns are offered to save."""
        return self.working_dir / CHECKPOINTS

    @property
    def checkpoints(self) -> dict[str, list[str]]:
        """Method -> absolute checkpoint paths in seed order (after :meth:`run`)."""
        self._require_run("checkpoints")
        assert self._paths is not None
        return {m: [by_seed[s] for s in sorted(by_seed)] for m, by_seed in self._paths.items()}

    @property
    def stale(self) -> dict[str, list[int]]:
        """Method -> seeds whose reused checkpoint came from older train_fn code."""
        self._require_run("stale")
        return {method: list(seeds) for method, seeds in self._stale.items()}

    @property
    def failures(self) -> list[TrainingFailure]:
        """The (method, seed) pairs whose training failed in the last :meth:`run`."""
        self._require_run("failures")
        return list(self._failures)

    @property
    def missing(self) -> list[tuple[str, int]]:
        """The (method, seed) pairs without a checkpoint after the last :meth:`run`."""
        self._require_run("missing")
        assert self._paths is not None
        return [(m, s) for m, seeds in self._expected.items() for s in seeds
                if s not in self._paths.get(m, {})]

    @property
    def result(self) -> StudyResult:
        """The StudyResult of the last :meth:`run`."""
        self._require_run("result")
        if self._result is None:
            raise NotRunError("`study.result` is missing: the last study.run() stopped before "
                              "the comparison. Fix: read study.failures, then run again.")
        return self._result

    def __repr__(self) -> str:
        head = (f"Study(methods={list(self.methods)}, seeds={self.seeds}, "
                f"working_dir={str(self.working_dir)!r}")
        if not self._ran:
            return head + ", not run)"
        missing = self.missing
        total = sum(len(seeds) for seeds in self._expected.values())
        text = f"{head}, checkpoints {total - len(missing)}/{total}"
        if missing:
            text += ", missing " + ", ".join(f"({m}, seed {s})" for m, s in missing)
        return text + ")"

    # ---------------------------------------------------------------------------- run

    def run(self) -> StudyResult:
        """Train what is missing, then evaluate every checkpoint and compare the methods.

        Returns
        -------
        StudyResult
            A BenchmarkResult: ``.data`` (method, seed), ``.comparisons``, ``.summary()``,
            ``.plot()``; ``.missing`` and ``data.attrs["missing"]`` name the (method, seed)
            pairs whose training failed, left out of the comparison.

        Raises
        ------
        SweepFailedError
            No checkpoint at all, or too few to compare; every failure is named.
        """
        if self._evaluate_only:
            paths = self._paths or {}
        else:
            paths = self._train()
        self._paths, self._ran, self._result = paths, True, None
        self._result = self._compare(paths)
        return self._result

    @property
    def _evaluate_only(self) -> bool:
        return all(fn is _no_training for fn in self.methods.values())

    def _train(self) -> dict[str, dict[int, str]]:
        from mushin_nb.workflows import multirun, sweep

        sweep_dir = self.working_dir / SWEEP
        _forget_lost_checkpoints(sweep_dir)
        names = {slug: name for name, slug in self._slugs.items()}
        job = _TrainJob({slug: self.methods[name] for slug, name in names.items()}, names,
                        self.checkpoint_dir)
        params = {"method": multirun(list(names)), "seed": multirun(self.seeds)}
        self.workflow = wf = sweep(
            job, params, working_dir=sweep_dir, launcher=self.launcher, resume=True,
            progress=self.progress, title=f"Study: {' vs '.join(self.methods)}")
        paths: dict[str, dict[int, str]] = {name: {} for name in self.methods}
        for cfg, path in zip(wf.cfgs, wf.metrics.get("checkpoint", [None] * len(wf.cfgs))):
            if isinstance(path, str) and cfg is not None:
                paths[names[str(cfg["method"])]][int(cfg["seed"])] = path
        self._stale = _warn_stale(wf, job.codes, names, self.working_dir)

        def training(f: Any) -> TrainingFailure:
            return TrainingFailure(names.get(str(f.overrides.get("method")), str(f.overrides)),
                                   int(f.overrides.get("seed", -1)), f.error,
                                   None if f.traceback_path is None else str(f.traceback_path))

        self._failures = [training(f) for f in wf.failures]
        self._skipped = [training(f) for f in wf.skipped]
        return paths

    def _compare(self, paths: dict[str, dict[int, str]]) -> StudyResult:
        # a test needs two seeds of a method: one checkpoint alone cannot be compared
        models = {name: dict(sorted(by_seed.items())) for name, by_seed in paths.items()
                  if len(by_seed) >= 2}
        missing = self.missing
        lost = "; ".join(f"({m}, seed {s}): {self._why(m, s)}" for m, s in missing)
        left_out = [name for name in self.methods if name not in models]
        if not models:
            raise SweepFailedError(
                "No method has the 2 checkpoints a comparison needs. Missing: "
                f"{lost or 'none'}. Fix: read study.failures and the traceback files, then run "
                "the study again (only the missing pairs train).")
        kwargs = dict(self._compare_kwargs)
        if kwargs["reference"] not in models:
            kwargs["reference"] = next(iter(models))
        if missing:
            dropped = f"; left out entirely: {left_out}" if left_out else ""
            warnings.warn(f"Study: {len(missing)} (method, seed) pairs have no checkpoint: "
                          f"{lost}{dropped}. The comparison uses the seeds present (reference "
                          f"{kwargs['reference']!r}).", MushinWarning, stacklevel=3)
        result = compare(models, self.data, num_classes=self.num_classes, load_fn=self.load_fn,
                         progress=self.progress, **kwargs)
        result.data.attrs["missing"] = ", ".join(f"{m}/seed={s}" for m, s in missing)
        return StudyResult(result.data, result.comparisons, result.summary(),
                           missing=[(m, s, self._why(m, s)) for m, s in missing])

    def _why(self, method: str, seed: int) -> str:
        for failure in [*self._failures, *self._skipped]:
            if failure.method == method and failure.seed == seed:
                return failure.error
        return "not trained"


def _warn_stale(wf: Any, current: dict[str, str], names: dict[str, str],
                working_dir: Path) -> dict[str, list[int]]:
    """Warn when reused checkpoints were trained by a train_fn whose code changed since;
    return method -> those seeds."""
    stale: dict[str, list[int]] = {}
    recorded = wf.metrics.get("train_fn", [None] * len(wf.cfgs))
    for cfg, code in zip(wf.cfgs, recorded):
        # a job trained just now recorded the current hash; one that failed recorded none
        # (NaN), and neither did one recorded before hashes existed
        if not isinstance(code, str) or cfg is None:
            continue
        slug = str(cfg["method"])
        if code != current.get(slug):
            stale.setdefault(names[slug], []).append(int(cfg["seed"]))
    if stale:
        listed = "; ".join(f"{m!r} (seeds {sorted(s)})" for m, s in stale.items())
        warnings.warn(
            f"Study: the train_fn code of {listed} changed since those checkpoints were "
            f"trained; they are reused as they are. Fix: to retrain, run the study with a new "
            f"working_dir, or delete {working_dir / SWEEP} (and the old checkpoints).",
            MushinWarning, stacklevel=4)
    return {method: sorted(seeds) for method, seeds in stale.items()}


def _no_training(seed: int) -> None:
    """The train_fn of the methods of :meth:`Study.from_checkpoints`: never called."""
    raise MushinValueError("This Study evaluates existing checkpoints only.")


def _forget_lost_checkpoints(sweep_dir: Path) -> None:
    """Make the sweep re-run finished jobs whose checkpoint file was deleted since."""
    from mushin_nb.workflows import _store

    for record_file in sweep_dir.glob(f"*/{_store.RECORD_DIR}/{_store.RECORD_NAME}"):
        record = _store.read_record(record_file.parent.parent) or {}
        value = record.get("return_value")
        path = value.get("checkpoint") if isinstance(value, dict) else None
        if record.get("status") == "done" and isinstance(path, str) and not Path(path).is_file():
            # kept under another name: the job then counts as never finished
            os.replace(record_file, record_file.with_name(f"lost-checkpoint.{record_file.name}"))
