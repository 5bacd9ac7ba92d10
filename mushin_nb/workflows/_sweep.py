"""``sweep()``: run a plain function over a grid of parameters, as a workflow."""

from __future__ import annotations

import inspect
import keyword
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value
from mushin_nb.workflows._metrics_workflow import MultiRunMetricsWorkflow

__all__ = ["sweep"]


class _CallWithParams:
    """Call ``fn`` with the job's parameters as plain Python values (picklable)."""

    def __init__(self, fn: Callable[..., Any], names: list[str] | None) -> None:
        self.fn, self.names = fn, names

    def __call__(self, cfg: Any) -> Any:
        from omegaconf import OmegaConf

        values = dict(cfg) if isinstance(cfg, dict) else OmegaConf.to_container(cfg, resolve=True)
        if self.names is not None:
            values = {k: values[k] for k in self.names if k in values}
        return self.fn(**values)


class _FunctionWorkflow(MultiRunMetricsWorkflow):
    """A workflow whose task is a plain function; string params are literal values."""

    _literal_strings = True
    _plain_params = True

    def __init__(self, fn: Callable[..., Any], names: list[str] | None) -> None:
        super().__init__()
        self._call = _CallWithParams(fn, names)

    def _check_static(self) -> None:
        pass

    def _body(self, task_fn_wrapper: Any, pre_task_fn_wrapper: Any) -> Callable[[Any], Any]:
        return self._call

    def _validator(self, task_fn_wrapper: Any, pre_task_fn_wrapper: Any) -> None:
        return None


def _accepted(task_fn: Callable[..., Any], params: Mapping[str, Any]) -> list[str] | None:
    """Names to pass (None: all, the function takes ``**kwargs``); check before running."""
    try:
        signature = inspect.signature(task_fn)
    except (TypeError, ValueError):
        return None
    kinds = {p.kind for p in signature.parameters.values()}
    takes_all = inspect.Parameter.VAR_KEYWORD in kinds
    names = [n for n, p in signature.parameters.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for name, p in signature.parameters.items():
        if name in names and p.default is p.empty and name not in params:
            raise bad_value("params", sorted(params), f"a value for `{name}`, a required "
                            f"parameter of task_fn {getattr(task_fn, '__name__', task_fn)!r}",
                            f"add {name!r} to params (swept with multirun([...]) or fixed)",
                            MushinTypeError)
    if not takes_all:
        unknown = [k for k in params if k not in names]
        if unknown:
            raise bad_value("params", unknown[0], f"a parameter task_fn accepts ({names})",
                            f"remove {unknown[0]!r} from params, or give task_fn a parameter "
                            "(or **kwargs) for it", MushinTypeError)
    return None if takes_all else names


def sweep(task_fn: Callable[..., Any], params: Mapping[str, Any], *,
          working_dir: str | os.PathLike | None = None, launcher: str | None = None,
          overrides: Sequence[str] | None = None, resume: bool = True,
          raise_on_failure: bool = False, progress: Any = True,
          title: str | None = None, threads: int = 1,
          gpus_per_job: float | None = None) -> MultiRunMetricsWorkflow:
    """Run ``task_fn`` for every combination of the swept parameters; return the workflow.

    Parameters
    ----------
    task_fn : callable
        ``task_fn(**job_params) -> dict | None``: the metrics of one job.  It runs with
        the job's directory as the current directory (not with ``threads > 1``).  A
        function taking ``**kwargs`` receives every parameter.
    params : Mapping[str, Any]
        Parameter name (an identifier) -> value.  ``multirun([...])`` values are swept
        (dimensions of the result, in this order, even with one value); other values
        (numbers, strings, bools, dicts, ``hydra_list([...])``) are fixed.
    working_dir : str or Path, optional
        Sweep directory; default ``./multirun/<date>/<time>[-n]``, always new.
    launcher : str, optional
        ``None``: fast, in-process.  Or a Hydra launcher: ``"joblib"``, ``"ray"``
        (a local Ray, or a cluster with ``hydra.launcher.ray.init.address=...``),
        ``"submitit_local"``, ``"submitit_slurm"``, ``"basic"``.
    overrides : Sequence[str], optional
        Extra Hydra overrides, e.g. ``["hydra.launcher.n_jobs=2"]``.
    resume : bool
        Re-use successful results already in ``working_dir``; run only the rest.
    raise_on_failure : bool
        Raise :class:`~mushin_nb.errors.SweepFailedError` after the sweep if a job failed.
    progress : bool or sink
        Live progress display (see :func:`mushin_nb.progress.sweep_progress`).
    title : str, optional
        Title of the progress display.
    threads : int
        Jobs run at once, in threads of this process (in-process launcher only).  Meant
        for tasks whose work happens in other processes or outside the GIL.  With
        ``threads > 1`` the current directory is *not* changed per job (a task gets its
        directory from ``mushin_nb.progress.current_job().job_dir``), and ``HydraConfig``,
        the job's log file and ``os.environ`` are not per job.
    gpus_per_job : int or float, optional
        GPUs per job (a fraction shares a GPU): Ray's ``num_gpus`` with
        ``launcher="ray"`` (Ray sets ``CUDA_VISIBLE_DEVICES``), submitit's GPUs per task;
        in-process, jobs run one at a time on the visible device.  joblib cannot place
        GPUs: an error.  Every job's record lists the ``devices`` it saw.

    Returns
    -------
    MultiRunMetricsWorkflow
        Already run: ``.to_xarray()``, ``.metrics``, ``.failures``, ``.working_dir``.

    Notes
    -----
    Runners share a working dir safely: each job is claimed with a lease file before
    it runs, so a second ``sweep`` over the same ``working_dir`` (another notebook,
    another SLURM allocation) skips the jobs the first holds, waits for them and ends
    with the whole Dataset; a dead runner's jobs are taken over.

    The in-process launcher runs each job in its own directory (``hydra.job.chdir``, on by
    default as in rai-toolbox's mushin) only when ``sweep`` is called from the main
    thread.  Called from another thread (say, a widget's background run), it leaves the
    process's working directory alone, since changing it would move the notebook's too;
    a task then finds its directory with ``mushin_nb.progress.current_job().job_dir``.

    Examples
    --------
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> from mushin_nb.workflows import multirun, sweep
    >>> def task(lr, seed, epochs):
    ...     return {"score": lr * 10 + seed + epochs}
    >>> wf = sweep(task, {"lr": multirun([0.1, 0.2]), "seed": multirun([0, 1]),
    ...                   "epochs": 3}, working_dir=tmp.name,
    ...            progress=False)  # doctest: +ELLIPSIS
    mushin_nb: 4 jobs in ...: 4 done
    >>> ds = wf.to_xarray()
    >>> ds.score.dims, ds.attrs
    (('lr', 'seed'), {'epochs': 3})
    >>> ds.score.values.tolist()
    [[4.0, 5.0], [5.0, 6.0]]
    >>> tmp.cleanup()
    """
    if not callable(task_fn):
        raise bad_value("task_fn", task_fn, "a callable returning a dict of metrics",
                        "pass a function, e.g. def task(lr, seed): return {'acc': ...}",
                        MushinTypeError)
    if not isinstance(params, Mapping):
        raise bad_value("params", params, "a mapping of parameter name -> value",
                        "pass e.g. {'lr': multirun([0.1, 0.01]), 'epochs': 3}",
                        MushinTypeError)
    for name in params:
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise bad_value("params", name, "identifier names (they become keyword arguments)",
                            "rename the parameter, e.g. 'learning_rate'", MushinTypeError)
    if overrides is not None and (isinstance(overrides, str) or not all(
            isinstance(o, str) for o in overrides)):
        raise bad_value("overrides", overrides, "a list of override strings",
                        'pass e.g. overrides=["hydra.launcher.n_jobs=2"]', MushinTypeError)
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise bad_value("threads", threads, "an int >= 1",
                        "pass e.g. threads=2 to run two jobs at once", MushinTypeError)
    if threads < 1:
        raise bad_value("threads", threads, "an int >= 1",
                        "pass threads=1 (one job at a time) or more", MushinValueError)
    if threads > 1 and launcher is not None:
        raise bad_value("threads", threads, f"1 when launcher={launcher!r} is given",
                        "leave launcher=None for threads, or use the launcher's own "
                        "settings (e.g. hydra.launcher.n_jobs) for parallel jobs")
    workflow = _FunctionWorkflow(task_fn, _accepted(task_fn, params))
    overrides = list(overrides or [])
    if not any(str(o).lstrip("+~").startswith("hydra.job.chdir=") for o in overrides):
        overrides.append("hydra.job.chdir=True")  # jobs run in their dir, without Hydra's warning
    workflow._launch(dict(params), working_dir=working_dir, launcher=launcher,
                     overrides=overrides, resume=resume,
                     raise_on_failure=raise_on_failure, progress=progress, title=title,
                     threads=threads, config_name="mushin_sweep", job_name="mushin_sweep",
                     gpus_per_job=gpus_per_job)
    return workflow
