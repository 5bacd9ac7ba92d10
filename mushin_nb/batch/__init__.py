"""Notebooks as sweeps: ``run_notebook()`` runs a parameterized notebook over a grid with
papermill, and ``record()`` is how the notebook hands values back.

A notebook with a cell tagged ``parameters`` is a task.  Each combination of the
``multirun([...])`` values is one job of a Hydra sweep (DESIGN 2, 3.8): the job executes
the notebook in its own directory, keeps the executed notebook there, and returns what the
notebook recorded.  Failed jobs keep their executed notebook and name the failing cell;
``resume=True`` re-runs only failed or missing jobs.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mushin_nb.batch._papermill import (
    RECORD_MIME,
    NotebookJob,
    check_name,
    encode,
    literal,
    normalize,
    notebook_parameters,
)
from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinKeyError,
    MushinTypeError,
    MushinValueError,
    bad_value,
)
from mushin_nb.progress import current_job

if TYPE_CHECKING:
    import xarray

    from mushin_nb.workflows import MultiRunMetricsWorkflow

__all__ = ["RECORD_MIME", "record", "run_notebook", "sweep_notebook"]

_UNSET: Any = object()


def record(name: str = _UNSET, value: Any = _UNSET, /, **values: Any) -> None:
    """Record named values as the result of the running notebook or job.

    ``record(acc=0.93, curve=losses)`` or ``record("acc", 0.93)``.  Inside a sweep job
    (``%%mushin``, a task) the values become the job's metrics.  In a notebook run by
    :func:`run_notebook` they are stored in the executed notebook as a display output of
    mimetype ``application/vnd.mushin.record+json`` and read back by the batch job.
    Anywhere else the values are only shown, so a notebook runs the same interactively.

    Parameters
    ----------
    name, value : str, Any, optional
        One value by position, ``record("acc", 0.93)`` (a name built at run time).
    **values : Any
        Values by name: str, int, float, bool, None, lists of them, numpy arrays
        (bool/int/float/str) or tensors (stored as arrays).

    Raises
    ------
    MushinValueError
        When a name is not an identifier, or nothing is recorded.
    MushinTypeError
        When a value is not recordable (e.g. a dict or an object).

    Examples
    --------
    >>> record(acc=0.5)
    acc = 0.5
    >>> record("loss", [0.9, 0.4])
    loss = [0.9, 0.4]
    """
    if name is not _UNSET:
        if value is _UNSET:
            raise bad_value("value", None, "given with a name: record(name, value)",
                            f"call record({name!r}, value) or record(name=value)",
                            MushinTypeError)
        if not isinstance(name, str):
            raise bad_value("name", name, "a str", "call record('acc', 0.9)", MushinTypeError)
        if name in values:
            raise bad_value("name", name, "given once", "record each name once per call")
        values = {name: value, **values}
    if not values:
        raise bad_value("values", values, "at least one name=value pair",
                        "call e.g. record(acc=0.9)")
    clean = {}
    for key, item in values.items():
        if not key.isidentifier():
            raise bad_value("name", key, "a Python identifier (it names a Dataset variable)",
                            "use letters, digits and underscores, e.g. 'val_acc'")
        clean[key] = normalize(key, item)
    ctx = current_job()
    if ctx is not None:
        ctx.records.update(clean)
        return
    _show(clean)


def _show(values: dict[str, Any]) -> None:
    text = "\n".join(f"{key} = {item!r}" for key, item in values.items())
    shell = None
    if "IPython" in sys.modules:  # never import IPython just to print
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        print(text)
        return
    from IPython.display import display

    payload = {key: encode(item) for key, item in values.items()}
    display({RECORD_MIME: payload, "text/plain": text}, raw=True)


# --------------------------------------------------------------------------- run_notebook


def _check_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise bad_value("path", path, "a path to a .ipynb file", "pass e.g. 'train.ipynb'",
                        MushinTypeError)
    nb_path = Path(path)
    if nb_path.suffix != ".ipynb":
        raise bad_value("path", str(path), "a Jupyter notebook (.ipynb)",
                        "pass the notebook file, e.g. 'train.ipynb'")
    if not nb_path.is_file():
        raise bad_value("path", str(path), "an existing notebook file",
                        f"check the path (working dir: {os.getcwd()})", MushinFileNotFoundError)
    return nb_path.resolve()


def _read(nb_path: Path) -> Any:
    """The notebook as JSON: nbformat would cost seconds (jsonschema) in the sweep's process."""
    import json

    try:
        with open(nb_path, encoding="utf-8") as fh:
            nb = json.load(fh)
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells (nbformat 4)")
        return nb
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSON errors are ValueErrors
        raise bad_value("path", str(nb_path), "a readable Jupyter notebook (nbformat 4)",
                        f"open and re-save it in Jupyter ({type(exc).__name__}: {exc})"
                        ) from None


def _check_parameters(parameters: Any, known: list[str], strict: bool, multirun: type
                      ) -> dict[str, Any]:
    if not isinstance(parameters, Mapping):
        raise bad_value("parameters", parameters, "a dict of name -> value or multirun([...])",
                        "pass e.g. {'lr': multirun([0.1, 0.01]), 'epochs': 3}",
                        MushinTypeError)
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        check_name(name)
        if name not in known:
            message = (f"`parameters` names {name!r}, which the notebook's 'parameters' cell "
                       f"does not assign; it assigns {known}. Fix: use one of those names, or "
                       f"assign {name} in that cell")
            if strict:
                raise MushinKeyError(message)
            warnings.warn(message + " (injected anyway: strict=False)", UserWarning,
                          stacklevel=4)  # the caller of run_notebook / sweep_notebook
        arg = f"parameters[{name!r}]"
        if isinstance(value, multirun):
            if len(value) == 0:
                raise bad_value(arg, value, "a non-empty multirun([...])",
                                "give at least one value")
            out[name] = multirun([_value(f"{arg}[{i}]", v) for i, v in enumerate(value)])
        else:
            out[name] = _value(arg, value)
    return out


def _value(arg: str, value: Any) -> Any:
    if value is None:  # a sweep's config has no None; the notebook's own default stands
        raise bad_value(arg, value, "a value other than None",
                        "omit the parameter to keep the notebook's default")
    return literal(arg, value)


def _check_kernel(kernel_name: Any, nb: Mapping[str, Any], nb_path: Path) -> tuple[str, str]:
    """The kernel every job runs on and the notebook's language, checked once before any job.

    ``kernel_name`` wins; else the notebook's ``metadata.kernelspec.name``; a notebook
    without one (as ``nbformat.v4.new_notebook()`` writes it) runs on ``python3``, the
    current Python's kernel, as ``jupyter nbconvert --execute`` does, and a warning says so.
    """
    if kernel_name is not None and (not isinstance(kernel_name, str) or not kernel_name):
        raise bad_value("kernel_name", kernel_name, "a Jupyter kernel name",
                        "pass e.g. 'python3' (see `jupyter kernelspec list`)", MushinTypeError)
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    metadata = nb.get("metadata") if isinstance(nb.get("metadata"), Mapping) else {}
    spec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), Mapping) else {}
    named = spec.get("name") if isinstance(spec.get("name"), str) and spec.get("name") else None
    name = kernel_name or named
    if name is None:
        name = "python3"
        warnings.warn(f"{nb_path.name} names no kernel (no metadata.kernelspec): every job "
                      "runs on 'python3', the current Python's kernel. Pass kernel_name= "
                      "(--kernel) to choose another", UserWarning, stacklevel=4)
    manager = KernelSpecManager()
    try:
        found = manager.get_kernel_spec(name)
    except NoSuchKernel:
        installed = sorted(manager.find_kernel_specs())
        if kernel_name is None:
            raise MushinValueError(
                f"{nb_path.name} names the kernel {name!r} (metadata.kernelspec.name), which "
                f"is not installed; the installed kernels are {installed}. Fix: pass "
                f"kernel_name= (--kernel) one of them, or install {name!r}; no job was run"
            ) from None
        raise bad_value("kernel_name", kernel_name, "an installed Jupyter kernel",
                        f"use one of {installed}") from None
    info = metadata.get("language_info") if isinstance(metadata.get("language_info"),
                                                       Mapping) else {}
    language = info.get("name") or spec.get("language") or found.language or "python"
    return name, str(language)


def _check_options(jobs: Any, timeout: Any, launcher: Any, gpus_per_job: Any = None
                   ) -> tuple[str | None, list[str], int]:
    """Check the options; return the launcher, its overrides and the in-process threads."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise bad_value("jobs", jobs, "an int >= 1", "pass e.g. jobs=2 for two processes",
                        MushinTypeError if not isinstance(jobs, int) else MushinValueError)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not timeout > 0):
        raise bad_value("timeout", timeout, "None or a positive number of seconds per cell",
                        "pass e.g. timeout=600")
    if launcher is not None and not isinstance(launcher, str):
        raise bad_value("launcher", launcher, "None or a Hydra launcher name",
                        "pass e.g. launcher='joblib'", MushinTypeError)
    if jobs > 1 and launcher not in (None, "joblib"):
        raise bad_value("jobs", jobs, f"1 when launcher={launcher!r} is given",
                        "leave jobs=1; that launcher's own settings decide parallelism")
    if gpus_per_job is not None and launcher is None and jobs > 1:
        raise bad_value("jobs", jobs, "1 when gpus_per_job is given in-process",
                        "leave jobs=1 (notebooks take the visible GPU one at a time), or "
                        "pass launcher='ray' to run one notebook per GPU at once")
    if launcher is None:  # each job's kernel is its own process: threads only wait on them
        return None, [], jobs
    # joblib's own default is every core; `jobs` is what the caller asked for
    return launcher, [f"hydra.launcher.n_jobs={jobs}"] if launcher == "joblib" else [], 1


def _sweep(path: Any, parameters: Any, *, working_dir: Any, jobs: Any, kernel_name: Any,
           resume: bool, timeout: Any, launcher: Any, progress: Any, strict: bool,
           gpus_per_job: Any = None) -> MultiRunMetricsWorkflow:
    """Validate everything, then run the sweep (one level below both public functions)."""
    from mushin_nb.workflows import hydra_list, multirun, sweep

    nb_path = _check_path(path)
    nb = _read(nb_path)
    known = notebook_parameters(nb, nb_path)
    params = _check_parameters(parameters, known, strict, multirun)
    params = {k: hydra_list(v) if isinstance(v, list) and not isinstance(v, multirun) else v
              for k, v in params.items()}  # a fixed list is one value, not a sweep
    launcher, overrides, threads = _check_options(jobs, timeout, launcher, gpus_per_job)
    kernel, language = _check_kernel(kernel_name, nb, nb_path)
    task = NotebookJob(nb_path, kernel, timeout, language=language)
    return sweep(task, params, working_dir=working_dir, launcher=launcher,
                 overrides=overrides, resume=resume, raise_on_failure=False,
                 progress=progress, title=f"batch {nb_path.name}", threads=threads,
                 gpus_per_job=gpus_per_job)


def sweep_notebook(
    path: str | os.PathLike,
    parameters: Mapping[str, Any],
    *,
    working_dir: str | os.PathLike | None = None,
    jobs: int = 1,
    kernel_name: str | None = None,
    resume: bool = True,
    timeout: float | None = None,
    launcher: str | None = None,
    progress: bool | Any = True,
    strict: bool = True,
    gpus_per_job: float | None = None,
) -> MultiRunMetricsWorkflow:
    """Run a parameterized notebook as a sweep; return the workflow (see :func:`run_notebook`).

    The workflow gives what a Dataset cannot: ``.failures`` (each with the failing cell,
    exception and job directory), ``.working_dir``, ``.metrics``; ``.to_xarray()`` is what
    :func:`run_notebook` returns.
    """
    return _sweep(path, parameters, working_dir=working_dir, jobs=jobs,
                  kernel_name=kernel_name, resume=resume, timeout=timeout, launcher=launcher,
                  progress=progress, strict=strict, gpus_per_job=gpus_per_job)


def run_notebook(
    path: str | os.PathLike,
    parameters: Mapping[str, Any],
    *,
    working_dir: str | os.PathLike | None = None,
    jobs: int = 1,
    kernel_name: str | None = None,
    resume: bool = True,
    timeout: float | None = None,
    launcher: str | None = None,
    progress: bool | Any = True,
    strict: bool = True,
    gpus_per_job: float | None = None,
) -> xarray.Dataset:
    """Run a parameterized notebook as a sweep and gather its recorded values.

    Every combination of the ``multirun([...])`` values in ``parameters`` (other values
    fixed) is one job: papermill injects the values as literals after the cell tagged
    ``parameters`` and executes the notebook with the job's directory as working
    directory; the executed notebook stays there.  Values passed to :func:`record` become
    the job's metrics, ``report()`` calls reach the live progress display.  A failing
    cell fails only its job (see ``sweep_notebook(...).failures`` for the cell and error).

    Parameters
    ----------
    path : str or os.PathLike
        The notebook (``.ipynb``) with a cell tagged ``parameters``.
    parameters : Mapping[str, Any]
        Parameter name -> value, or ``multirun([...])`` of values to sweep.  Names must be
        assigned in the parameters cell; values are str, int, float, bool, or lists/dicts
        of them (omit a parameter to keep the notebook's default, e.g. ``None``).
    working_dir : str or os.PathLike, optional
        The sweep's directory (a new unique one by default).  Re-running over the same
        directory with ``resume=True`` re-runs only failed or missing jobs.
    jobs : int
        Notebooks run at once, each in its own kernel process (started from threads of
        this process; with ``launcher="joblib"``, from Hydra's joblib worker processes).
    kernel_name : str, optional
        Jupyter kernel; default the one the notebook's metadata names (it must be
        installed: the run fails before any job otherwise, naming the installed ones), or
        ``"python3"``, this Python, for a notebook that names none (a warning says so).
    resume : bool
        Keep jobs already done in ``working_dir``.
    timeout : float, optional
        Seconds one cell may run before its job fails.
    launcher : str, optional
        A Hydra launcher (``"joblib"``, ``"submitit_local"``, ``"submitit_slurm"`` ...).
    progress : bool or progress sink
        Live progress: a widget in Jupyter, a text bar elsewhere; False for none.
    strict : bool
        Unknown parameter names raise (True) or warn and are injected anyway (False).
    gpus_per_job : int or float, optional
        GPUs per notebook, placed by the launcher (``"ray"``, ``"submitit_*"``); with
        no launcher, notebooks run one at a time (``jobs=1``) on the visible device.

    Returns
    -------
    xarray.Dataset
        Dimensions are the swept parameters, in the order given; one variable per recorded
        name; fixed parameters in ``attrs``; failed jobs are NaN (DESIGN 2).

    Raises
    ------
    MushinFileNotFoundError, MushinValueError, MushinTypeError, MushinKeyError
        On a bad argument, before any job runs.

    Examples
    --------
    >>> from mushin_nb import multirun, run_notebook
    >>> ds = run_notebook("train.ipynb", {"lr": multirun([0.1, 0.01]), "epochs": 2},
    ...                   jobs=2)  # doctest: +SKIP
    """
    return _sweep(path, parameters, working_dir=working_dir, jobs=jobs,
                  kernel_name=kernel_name, resume=resume, timeout=timeout, launcher=launcher,
                  progress=progress, strict=strict, gpus_per_job=gpus_per_job).to_xarray()
