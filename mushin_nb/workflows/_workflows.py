"""Workflows: ``BaseWorkflow``, ``MultiRunMetricsWorkflow``, ``RobustnessCurve``.

The public behaviour of ``rai_toolbox.mushin`` workflows (code written for them runs
after changing the import), on a sweep engine that persists every job's result, resumes
interrupted or extended sweeps, isolates failures and launches fast in-process.
"""

from __future__ import annotations

import inspect
import math
import os
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_zen import make_config, zen

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinKeyError,
    MushinRuntimeError,
    MushinTypeError,
    MushinValueError,
    NotRunError,
    SweepFailedError,
    bad_value,
)
from mushin_nb.workflows import _launcher, _store
from mushin_nb.workflows._multirun import (
    format_param,
    multirun,
    parse_override,
    parse_task_overrides,
)

__all__ = ["BaseWorkflow", "Failure", "MultiRunMetricsWorkflow", "RobustnessCurve",
           "load_from_dir"]


@dataclass(frozen=True)
class Failure:
    """A job that failed: its overrides, the error line, and where its traceback is."""

    overrides: dict[str, Any]
    error: str
    traceback_path: Path | None
    job_dir: Path
    num: int

    def __str__(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.overrides.items())
        return f"job {self.num} ({params}): {self.error}"


class _TaskCalls:
    """``pre_task(cfg)`` then ``task(cfg)``; picklable for Hydra launcher plugins."""

    def __init__(self, pre_task: Callable[[Any], Any] | None,
                 task: Callable[[Any], Any]) -> None:
        self.pre_task, self.task = pre_task, task

    def __call__(self, cfg: Any) -> Any:
        if self.pre_task is not None:
            self.pre_task(cfg)
        return self.task(cfg)


def _identity(fn: Any) -> Any:
    return fn


def _required(fn: Callable[..., Any]) -> list[str]:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.default is p.empty and p.kind in (
        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _as_configs(cfgs: list[Any]) -> list[Any]:
    """Turn plain parameter dicts (fast path of ``sweep``) into DictConfigs, in place."""
    from omegaconf import OmegaConf

    for i, cfg in enumerate(cfgs):
        if isinstance(cfg, dict):
            cfgs[i] = OmegaConf.create(cfg)
    return cfgs


class _LazyJobReturn(JobReturn):
    """A Hydra ``JobReturn`` whose ``hydra_cfg`` is read from disk on first use."""

    _hydra_yaml: Path | None = None
    _hydra_cfg: Any = None

    @property  # type: ignore[override]
    def hydra_cfg(self) -> Any:
        if self._hydra_cfg is None and self._hydra_yaml is not None:
            from omegaconf import OmegaConf

            if self._hydra_yaml.exists():
                self._hydra_cfg = OmegaConf.load(self._hydra_yaml)
        return self._hydra_cfg

    @hydra_cfg.setter
    def hydra_cfg(self, value: Any) -> None:
        self._hydra_cfg = value

    @property  # type: ignore[override]
    def cfg(self) -> Any:
        return _as_configs([self._cfg])[0] if isinstance(self._cfg, dict) else self._cfg

    @cfg.setter
    def cfg(self, value: Any) -> None:
        self._cfg = value


def _job_return(job: _launcher.JobOutcome, task_name: str, output_subdir: str | None
                ) -> JobReturn:
    """Hydra's ``JobReturn`` for a job run or loaded by a workflow."""
    ret = _LazyJobReturn(overrides=list(job.overrides), cfg=job.cfg,
                         working_dir=str(job.job_dir), task_name=task_name)
    ret._hydra_yaml = (job.job_dir / output_subdir / "hydra.yaml") if output_subdir else None
    if job.status == "done":
        ret.status = JobStatus.COMPLETED
        ret.return_value = job.return_value
    else:
        ret.status = JobStatus.FAILED
        ret.return_value = MushinRuntimeError(job.error or "job did not run")
    return ret


class BaseWorkflow:
    """A reusable sweep of Hydra jobs: run, aggregate and analyse them.

    Subclasses define ``task`` (and optionally ``pre_task``) as static methods whose
    parameters are filled from the job's config by name (hydra-zen's ``zen``).

    Attributes
    ----------
    cfgs : list
        The config of each job.
    metrics : dict[str, list]
        Metric name -> one value per job.
    workflow_overrides : dict
        Parameters passed to ``run``.
    jobs : list[hydra.core.utils.JobReturn]
        One per job, in grid order.
    working_dir : pathlib.Path
        The sweep directory (``hydra.sweep.dir``).
    """

    _REQUIRED_STATIC_METHODS = ("task", "pre_task")
    _literal_strings = False  # rai-toolbox convention: a str param is override syntax
    _plain_params = False  # True: the job body takes a dict of parameters (no zen)

    def __init__(self, eval_task_cfg: Any = None) -> None:
        self.eval_task_cfg = eval_task_cfg if eval_task_cfg is not None else make_config()
        self.cfgs: list[Any] = []
        self.metrics: dict[str, list[Any]] = {}
        self.workflow_overrides: dict[str, Any] = {}
        self._multirun_task_overrides: dict[str, Any] = {}
        self.jobs: Any = []
        self._working_dir: Path | None = None
        self._task_overrides: list[str] | None = None
        self.failures: list[Failure] = []
        #: Jobs whose task raised :class:`~mushin_nb.errors.JobSkipped` (run again next time).
        self.skipped: list[Failure] = []
        task = inspect.getattr_static(type(self), "task", None)
        if hasattr(self, "evaluation_task") and any(
                task is vars(k).get("task") for k in _own_classes()):
            warnings.warn("`evaluation_task` is deprecated; name the static method `task`",
                          FutureWarning, stacklevel=2)
            self.task = self.evaluation_task  # type: ignore[method-assign]

    @property
    def cfgs(self) -> list[Any]:
        """The config of each job (an OmegaConf ``DictConfig``), in grid order."""
        return _as_configs(self.__dict__.setdefault("_cfgs", []))

    @cfgs.setter
    def cfgs(self, value: list[Any]) -> None:
        self.__dict__["_cfgs"] = list(value)

    @property
    def working_dir(self) -> Path:
        """The sweep directory; set by ``run`` or ``load_from_dir``."""
        if self._working_dir is None:
            raise NotRunError("`working_dir` is not set: call run(...) or "
                              "load_from_dir(...) first")
        return self._working_dir

    @working_dir.setter
    def working_dir(self, path: str | os.PathLike) -> None:
        path = Path(path).expanduser().resolve()
        if not path.is_dir():
            raise bad_value("working_dir", str(path), "an existing directory",
                            "pass the directory a sweep ran in", MushinFileNotFoundError)
        self._working_dir = path

    @property
    def multirun_task_overrides(self) -> dict[str, Any]:
        """Parameter -> value passed to the sweep; swept values are ``multirun`` lists.

        Examples
        --------
        ``{'epsilon': [1.0, 2.0], 'foo': 'apple'}`` for
        ``run(epsilon=multirun([1.0, 2.0]), foo="apple")``.
        """
        if not self._multirun_task_overrides:
            if self._task_overrides is None:
                self._task_overrides = _read_multirun_yaml(self.working_dir)[0]
            self._multirun_task_overrides = parse_task_overrides(self._task_overrides)
        return self._multirun_task_overrides

    @staticmethod
    def pre_task(*args: Any, **kwargs: Any) -> None:
        """Called before ``task`` in every job (e.g. to seed RNGs); fed by ``zen``."""

    @staticmethod
    def task(*args: Any, **kwargs: Any) -> Any:
        """The job: a static method whose parameters are read from the config by name."""
        raise NotImplementedError()

    def validate(self, include_pre_task: bool = True) -> None:
        """Check, with hydra-zen, that the config fills the task's parameters."""
        if include_pre_task:
            zen(self.pre_task).validate(self.eval_task_cfg)
        zen(self.task).validate(self.eval_task_cfg)

    # ------------------------------------------------------------------ running

    def _check_static(self) -> None:
        for name in self._REQUIRED_STATIC_METHODS:
            attr = inspect.getattr_static(self, name, None)
            if not isinstance(attr, staticmethod) and not (
                    name == "task" and "task" in vars(self)):
                kind = type(attr).__name__
                raise MushinTypeError(
                    f"{type(self).__name__}.{name} must be a static method (got {kind}). "
                    f"Fix: decorate it with @staticmethod; its parameters are filled from "
                    "the job's config by name")

    def _body(self, task_fn_wrapper: Any, pre_task_fn_wrapper: Any) -> Callable[[Any], Any]:
        task_wrap = task_fn_wrapper or _identity
        pre_wrap = pre_task_fn_wrapper or _identity
        # the default pre_task does nothing: skip its zen call (a measurable per-job cost)
        default = inspect.getattr_static(type(self), "pre_task") is vars(BaseWorkflow)["pre_task"]
        return _TaskCalls(None if default else pre_wrap(self.pre_task), task_wrap(self.task))

    def _validator(self, task_fn_wrapper: Any, pre_task_fn_wrapper: Any
                   ) -> Callable[[Any], None]:
        checks = []
        if task_fn_wrapper is zen:
            checks.append(("task", self.task))
        if pre_task_fn_wrapper is zen:
            checks.append(("pre_task", self.pre_task))

        def validate(cfg: Any) -> None:
            for label, fn in checks:
                missing = [p for p in _required(fn) if p not in cfg]
                if missing:
                    raise MushinTypeError(
                        f"`{label}` parameter `{missing[0]}` has no value: it is neither in "
                        f"the workflow config nor passed to run() (config keys: "
                        f"{sorted(map(str, cfg))}). Fix: pass {missing[0]}=... to run(), or "
                        "add it to the config")
        return validate

    def _param_overrides(self, params: Mapping[str, Any]) -> list[str]:
        out = []
        for key, value in params.items():
            has = hasattr(self.eval_task_cfg, key) and getattr(self.eval_task_cfg, key) is not None
            out.append(format_param(key, value, literal_strings=self._literal_strings,
                                    prefix="" if has else "+",
                                    singleton_sweep=self._literal_strings))
        return out

    def run(
        self,
        *,
        working_dir: str | os.PathLike | None = None,
        sweeper: str | None = None,
        launcher: str | None = None,
        overrides: list[str] | None = None,
        task_fn_wrapper: Callable[[Callable[..., Any]], Callable[[Any], Any]] | None = zen,
        pre_task_fn_wrapper: Callable[[Callable[..., Any]], Callable[[Any], Any]] | None = zen,
        version_base: str | None = "1.1",
        to_dictconfig: bool = False,
        config_name: str = "rai_workflow",
        job_name: str = "rai_workflow",
        with_log_configuration: bool = True,
        resume: bool = True,
        raise_on_failure: bool = False,
        progress: Any = True,
        title: str | None = None,
        gpus_per_job: float | None = None,
        **workflow_overrides: Any,
    ) -> None:
        """Run the sweep: every combination of the ``multirun`` values, one job each.

        Parameters
        ----------
        working_dir : str, optional
            Sweep directory (``hydra.sweep.dir``).  Default: a new directory
            ``./multirun/<date>/<time>[-n]`` (two sweeps never share one).  When it
            exists and ``resume`` is true, only jobs without a successful record run.
        sweeper : str, optional
            ``None`` or ``"basic"``: the grid sweeper.
        launcher : str, optional
            ``None`` (fast, in-process) or a Hydra launcher plugin: ``"basic"``,
            ``"joblib"``, ``"submitit_local"``, ``"submitit_slurm"``...  Its options go
            in ``overrides`` (``"hydra.launcher.n_jobs=2"``).
        overrides : list[str], optional
            More Hydra overrides (not counted as workflow parameters).
        task_fn_wrapper, pre_task_fn_wrapper : callable, optional
            Wrap ``task``/``pre_task`` into ``cfg -> value`` (default: ``zen``).
        version_base : str, optional
            Hydra's version base; ``"1.1"`` runs each job in its job dir.
        to_dictconfig : bool
            Convert a dataclass config to a DictConfig first.
        config_name, job_name : str
            Name of the stored config and of the Hydra job.
        with_log_configuration : bool
            Log each job to ``<job_dir>/<job_name>.log`` as Hydra does (the caller's
            loggers are left as they were).
        resume : bool
            Skip jobs that already have a successful record in ``working_dir``.
        raise_on_failure : bool
            Raise :class:`~mushin_nb.errors.SweepFailedError` after the sweep when a
            job failed (the workflow is on the error as ``.workflow``).
        progress : bool or sink
            Live progress: a widget in notebooks, a text bar elsewhere.
        title : str, optional
            Title of the progress display.
        gpus_per_job : int or float, optional
            GPUs each job gets: Ray's ``num_gpus`` (``launcher="ray"``), submitit's GPUs
            per task; in-process, jobs take the visible device one at a time.  joblib
            cannot place GPUs (an error).  Each job's record lists its ``devices``.
        **workflow_overrides
            Parameters: ``multirun([...])`` values are swept, others fixed.
            ``hydra_list([...])`` passes a list as one value.  A ``str`` is Hydra
            override syntax (``"1,2,3"`` sweeps), as in rai-toolbox.
        """
        self._launch(workflow_overrides, working_dir=working_dir, sweeper=sweeper,
                     launcher=launcher, overrides=overrides, task_fn_wrapper=task_fn_wrapper,
                     pre_task_fn_wrapper=pre_task_fn_wrapper, version_base=version_base,
                     to_dictconfig=to_dictconfig, config_name=config_name, job_name=job_name,
                     with_log_configuration=with_log_configuration, resume=resume,
                     raise_on_failure=raise_on_failure, progress=progress, title=title,
                     gpus_per_job=gpus_per_job)

    def _launch(self, params: Mapping[str, Any], *, working_dir: Any = None,
                sweeper: str | None = None, launcher: str | None = None,
                overrides: Sequence[str] | None = None, task_fn_wrapper: Any = zen,
                pre_task_fn_wrapper: Any = zen, version_base: Any = "1.1",
                to_dictconfig: bool = False, config_name: str = "rai_workflow",
                job_name: str = "rai_workflow", with_log_configuration: bool = True,
                resume: bool = True, raise_on_failure: bool = False, progress: Any = True,
                title: str | None = None, threads: int = 1,
                gpus_per_job: float | None = None) -> None:
        self._check_static()
        if overrides is not None and (isinstance(overrides, str) or not all(
                isinstance(o, str) for o in overrides)):
            raise bad_value("overrides", overrides, "a list of override strings",
                            'pass e.g. overrides=["hydra.launcher.n_jobs=2"]', MushinTypeError)
        spec = _launcher.SweepSpec(
            config=self.eval_task_cfg,
            body=self._body(task_fn_wrapper, pre_task_fn_wrapper),
            overrides=[*(overrides or []), *self._param_overrides(params)],
            validate=self._validator(task_fn_wrapper, pre_task_fn_wrapper),
            working_dir=working_dir, launcher=launcher, sweeper=sweeper,
            version_base=version_base, to_dictconfig=to_dictconfig, config_name=config_name,
            job_name=job_name, with_log_configuration=with_log_configuration, resume=resume,
            progress=progress, title=title, plain=self._plain_params, threads=threads,
            gpus_per_job=gpus_per_job)
        result = _launcher.execute(spec)
        self._adopt(result, job_name)
        self.jobs_post_process()
        print(self._summary(result))
        if raise_on_failure and self.failures:
            error = SweepFailedError(
                f"{len(self.failures)} of {len(result.jobs)} jobs failed; first: "
                f"{self.failures[0]}. Fix: read workflow.failures and the traceback files, "
                "then run again with the same working_dir to re-run only the failed jobs")
            error.workflow = self  # type: ignore[attr-defined]
            raise error

    def _adopt(self, result: _launcher.SweepResult, job_name: str) -> None:
        self._sweep = result
        self._working_dir = result.working_dir
        self._task_overrides = result.task_overrides
        self._multirun_task_overrides = {}
        self.output_subdir = result.output_subdir
        self.jobs = [_job_return(job, job_name, result.output_subdir) for job in result.jobs]
        self.workflow_overrides = dict(self.multirun_task_overrides)

    @staticmethod
    def _summary(result: _launcher.SweepResult) -> str:
        jobs = result.jobs
        failed = [job for job in jobs if job.status not in ("done", "skipped")]
        skipped = [job for job in jobs if job.status == "skipped"]
        earlier = sum(job.status == "done" and not job.ran for job in jobs)
        text = (f"mushin_nb: {len(jobs)} jobs in {result.working_dir}: "
                f"{len(jobs) - len(failed) - len(skipped)} done")
        if earlier:
            text += f" ({earlier} from earlier runs)"
        if skipped:
            text += f", {len(skipped)} skipped ({skipped[0].error}); see .skipped"
        if failed:
            text += (f", {len(failed)} failed (first: {failed[0].label}: {failed[0].error}); "
                     "see .failures")
        return text

    def jobs_post_process(self) -> None:
        """Extract the attributes and metrics a workflow needs from ``self.jobs``."""
        raise NotImplementedError()

    def plot(self, **kwargs: Any) -> Any:
        """Plot the workflow's metrics."""
        raise NotImplementedError()

    def to_xarray(self) -> Any:
        """The workflow's results as an ``xarray.Dataset``."""
        raise NotImplementedError()


def _own_classes() -> tuple[type, ...]:
    """Workflow classes of this module: their ``task`` is a placeholder."""
    return (BaseWorkflow, MultiRunMetricsWorkflow, RobustnessCurve)


def _read_multirun_yaml(working_dir: Path) -> tuple[list[str], str | None, dict[str, Any]]:
    """Task overrides, output subdir and sweeper params of a sweep directory."""
    from omegaconf import OmegaConf

    path = _launcher.require_dir(working_dir)
    cfg = OmegaConf.load(path / "multirun.yaml")
    task = list(OmegaConf.to_container(cfg.hydra.overrides.task))
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None)
    return task, cfg.hydra.output_subdir, dict(OmegaConf.to_container(params)) if params else {}


def _grid_jobs(task: list[str], params: Mapping[str, Any]) -> list[list[str]]:
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    parsed = [parse_override(f"{k}={v}") for k, v in params.items()]
    parsed += [parse_override(line) for line in task]
    (jobs,) = BasicSweeper.split_arguments(parsed, None)
    return jobs


def _non_str_sequence(x: Any) -> bool:
    return isinstance(x, Sequence) and not isinstance(x, str)


def _sanitize(value: Any) -> Any:
    """Coordinate/attr value: nested lists become strings; a mixed sweep becomes strings."""
    if isinstance(value, multirun):
        items = [str(v) if _non_str_sequence(v) or isinstance(v, Mapping) else v
                 for v in value]
        kinds = {bool if isinstance(v, bool) else float if isinstance(v, (int, float)) else
                 type(v) for v in items}
        return items if len(kinds) == 1 else [str(v) for v in items]
    if _non_str_sequence(value):
        return str(value)
    return value


def _torch_load(file_path: Path) -> Mapping[str, Any]:
    """``torch.load`` with ``weights_only=True``, NumPy arrays allowed."""
    import numpy as np
    import torch
    from torch.serialization import safe_globals

    allowed = [np.ndarray, np.dtype, np._core.multiarray._reconstruct,
               np._core.multiarray.scalar]
    allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes)
                if n.endswith("DType") and n != "ObjectDType"]
    try:
        with safe_globals(allowed):
            return torch.load(file_path, weights_only=True)
    except Exception as exc:  # the unpickler names the blocked global in its message
        raise MushinValueError(
            f"{file_path} cannot be loaded with torch.load(weights_only=True): "
            f"{str(exc).splitlines()[0]}. Fix: save plain numbers/arrays/tensors, or "
            "override `metric_load_fn` if you trust the file") from exc


class MultiRunMetricsWorkflow(BaseWorkflow):
    """A workflow whose jobs return metrics, gathered into an ``xarray.Dataset``.

    ``task`` returns a dict ``metric name -> number or array`` (or None).  Every job's
    return value is saved in its directory, so ``load_from_dir`` restores the metrics
    without the task's code; a job that raises is recorded, its cells are NaN and it
    is listed in ``failures`` (or in ``skipped`` when it raised
    :class:`~mushin_nb.errors.JobSkipped`; a re-run runs both kinds again).

    Examples
    --------
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> from mushin_nb.workflows import MultiRunMetricsWorkflow, multirun
    >>> class LocalRobustness(MultiRunMetricsWorkflow):
    ...     @staticmethod
    ...     def task(epsilon: float, scale: float) -> dict:
    ...         epsilon *= scale
    ...         return dict(accuracies=100 - epsilon**2 + 2, loss=epsilon**2)
    >>> wf = LocalRobustness()
    >>> wf.run(epsilon=multirun([1.0, 2.0, 3.0]), scale=multirun([0.1, 1.0]),
    ...        working_dir=tmp.name, progress=False)  # doctest: +ELLIPSIS
    mushin_nb: 6 jobs in ...: 6 done
    >>> ds = wf.to_xarray()
    >>> ds.loss.dims, ds.loss.sel(epsilon=2.0).values.round(2).tolist()
    (('epsilon', 'scale'), [0.04, 4.0])
    >>> loaded = LocalRobustness().load_from_dir(wf.working_dir)
    >>> loaded.to_xarray().identical(ds)
    True
    >>> tmp.cleanup()
    """

    _JOBDIR_NAME = "job_dir"
    _target_dir_multirun_overrides: dict[str, list[Any]] | None = None
    output_subdir: str | None = None
    #: All job directories, in grid order.
    multirun_working_dirs: list[Path] | None = None

    def __init__(self, eval_task_cfg: Any = None, working_dir: str | os.PathLike | None = None
                 ) -> None:
        super().__init__(eval_task_cfg)
        if working_dir is not None:
            self.load_from_dir(working_dir, metrics_filename=None)

    @staticmethod
    def task(*args: Any, **kwargs: Any) -> Mapping[str, Any]:
        """The job: returns a dict of metrics (or None)."""
        raise NotImplementedError()

    @staticmethod
    def metric_load_fn(file_path: Path) -> Mapping[str, Any]:
        """Load one metrics file (``load_metrics``); default ``torch.load(weights_only=True)``."""
        return _torch_load(file_path)

    def run(self, *, target_job_dirs: Sequence[str | os.PathLike] | None = None,
            **kwargs: Any) -> None:
        """Run the sweep (see :meth:`BaseWorkflow.run`).

        Parameters
        ----------
        target_job_dirs : Sequence[path], optional
            Job directories of an earlier sweep (``other.multirun_working_dirs``): the
            sweep runs over them as parameter ``job_dir``, and ``to_xarray`` labels
            that dimension with the earlier sweep's parameters.
        **kwargs
            As for :meth:`BaseWorkflow.run`.
        """
        if target_job_dirs is not None:
            if isinstance(target_job_dirs, (str, os.PathLike)) or not isinstance(
                    target_job_dirs, Sequence):
                raise bad_value("target_job_dirs", target_job_dirs,
                                "a sequence of job directories",
                                "pass e.g. other_workflow.multirun_working_dirs",
                                MushinTypeError)
            dirs = [Path(d).resolve() for d in target_job_dirs]
            for d in dirs:
                if not d.is_dir():
                    raise bad_value("target_job_dirs", str(d), "existing job directories",
                                    "pass the job dirs of a sweep that ran",
                                    MushinFileNotFoundError)
            kwargs[self._JOBDIR_NAME] = multirun([str(d) for d in dirs])
        self._target_dir_multirun_overrides = None
        super().run(**kwargs)

    def jobs_post_process(self) -> None:
        """Gather configs, job dirs, metrics and failures from the finished sweep."""
        result = self._sweep
        self.multirun_working_dirs = [job.job_dir for job in result.jobs]
        self.cfgs = [job.cfg for job in result.jobs]
        self.metrics = self._process_metrics(
            [job.return_value if job.status == "done" else None for job in result.jobs])
        self.failures = self._failures(result.jobs, skipped=False)
        self.skipped = self._failures(result.jobs, skipped=True)
        self._labels = [job.label for job in result.jobs]

    @staticmethod
    def _failures(jobs: Sequence[_launcher.JobOutcome], skipped: bool) -> list[Failure]:
        out = []
        for job in jobs:
            if job.status != "done" and (job.status == "skipped") == skipped:
                params = parse_task_overrides(job.overrides)
                out.append(Failure(params, job.error or "job did not finish",
                                   job.traceback_path, job.job_dir, job.num))
        return out

    @staticmethod
    def _process_metrics(job_metrics: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
        """Metric -> one value per job (NaN where a job failed or lacks the metric)."""
        names: dict[str, None] = {}
        for metrics in job_metrics:
            names.update(dict.fromkeys(metrics or {}))
        out: dict[str, list[Any]] = defaultdict(list)
        for name in names:
            for metrics in job_metrics:
                value = (metrics or {}).get(name, math.nan)
                if isinstance(value, list) and len(value) == 1:
                    value = value[0]  # rai-toolbox: a one-item list is its item
                out[name].append(value)
        return out

    def load_from_dir(self, working_dir: str | os.PathLike,
                      metrics_filename: str | Sequence[str] | None = None, *,
                      config_dir: str | None = None) -> MultiRunMetricsWorkflow:
        """Load a sweep from its directory, in place; returns ``self``.

        Parameters
        ----------
        working_dir : str or Path
            The sweep directory (holding ``multirun.yaml``).
        metrics_filename : str or Sequence[str], optional
            File name(s) or glob pattern(s) of metric files saved by the task, read with
            ``metric_load_fn``.  Default: the return values in the job records.
        config_dir : str, optional
            Hydra's output subdir (default: the one in ``multirun.yaml``).
        """
        path = _launcher.require_dir(working_dir)
        task, output_subdir, params = _read_multirun_yaml(path)
        output_subdir = config_dir or output_subdir
        self._working_dir = path
        self._task_overrides = task
        self._multirun_task_overrides = {}
        self._target_dir_multirun_overrides = None
        self.output_subdir = output_subdir
        existing = _store.scan_jobs(path, output_subdir)
        jobs = []
        for index, overrides in enumerate(_grid_jobs(task, params)):
            found = existing.get(tuple(sorted(overrides)))
            job = _launcher.JobOutcome(index=index, num=found.num if found else -1,
                                       job_dir=found.job_dir if found else path,
                                       overrides=list(overrides),
                                       label=" ".join(o.lstrip("+~") for o in overrides))
            record = _store.read_record(found.job_dir) if found else None
            _launcher._finish(job, record)
            job.ran = False
            if found is None:
                job.error = "MushinRuntimeError: the job never ran (no job directory)"
            job.cfg = _launcher._load_cfg(job.job_dir, output_subdir) if found else None
            jobs.append(job)
        self._sweep = _launcher.SweepResult(path, output_subdir, task, jobs)
        self.jobs = [_job_return(job, "rai_workflow", output_subdir) for job in jobs]
        self.jobs_post_process()
        self.workflow_overrides = dict(self.multirun_task_overrides)
        if metrics_filename is not None:
            self.load_metrics(metrics_filename)
        return self

    def load_metrics(self, metrics_filename: str | Sequence[str]) -> dict[str, list[Any]]:
        """Read metric files from every job dir with ``metric_load_fn``; store in ``metrics``.

        Parameters
        ----------
        metrics_filename : str or Sequence[str]
            File name(s) or glob pattern(s), relative to each job directory.
        """
        if self.multirun_working_dirs is None:
            self.load_from_dir(self.working_dir, metrics_filename=None)
        names = [metrics_filename] if isinstance(metrics_filename, str) else list(
            metrics_filename)
        job_metrics = []
        for job_dir in self.multirun_working_dirs or []:
            found: dict[str, Any] = {}
            for name in names:
                files = sorted(Path(job_dir).glob(name))
                if not files:
                    raise bad_value("metrics_filename", name,
                                    f"a file or pattern matching in every job dir (none in "
                                    f"{job_dir})", "check the name the task saved under",
                                    MushinFileNotFoundError)
                for file in files:
                    found.update(_store.to_numpy(dict(self.metric_load_fn(file))))
            job_metrics.append(found)
        self.metrics = self._process_metrics(job_metrics)
        return self.metrics

    @property
    def target_dir_multirun_overrides(self) -> dict[str, list[Any]]:
        """For a sweep over an earlier sweep's job dirs: that sweep's overrides, per dir."""
        if self._target_dir_multirun_overrides is not None:
            return dict(self._target_dir_multirun_overrides)
        out: dict[str, list[Any]] = defaultdict(list)
        dirs = self.multirun_task_overrides.get(self._JOBDIR_NAME, [])
        if not isinstance(dirs, multirun):
            dirs = [dirs] if dirs else []
        for d in dirs:
            task, _, _ = _read_multirun_yaml(Path(d).parent)
            from omegaconf import OmegaConf

            subdir = self.output_subdir or ".hydra"
            lines = list(OmegaConf.load(Path(d) / subdir / "overrides.yaml"))
            for key, value in parse_task_overrides(lines).items():
                out[key].append(value)
        self._target_dir_multirun_overrides = out
        return dict(out)

    def _require_results(self) -> None:
        if self._working_dir is None and not self.metrics:
            raise NotRunError("`to_xarray()` needs results: call run(...) or "
                              "load_from_dir(working_dir) first")

    def to_xarray(self, include_working_subdirs_as_data_var: bool = False,
                  coord_from_metrics: str | None = None,
                  non_multirun_params_as_singleton_dims: bool = False,
                  metrics_filename: str | Sequence[str] | None = None) -> Any:
        """The sweep as an ``xarray.Dataset`` (DESIGN 2).

        Dimensions are the swept parameters in the order given, one data variable per
        metric (array metrics add ``<metric>_dim<k>``), fixed parameters in ``attrs``,
        NaN for failed jobs.

        Parameters
        ----------
        include_working_subdirs_as_data_var : bool
            Add a ``working_subdir`` variable with each job's directory.
        coord_from_metrics : str, optional
            Metric used as coordinate of every metric's first extra dimension.
        non_multirun_params_as_singleton_dims : bool
            Make fixed parameters length-1 dimensions instead of attrs.
        metrics_filename : str or Sequence[str], optional
            Load the metrics from these files first (see ``load_metrics``).

        Raises
        ------
        NotRunError
            Before ``run`` or ``load_from_dir``.
        MushinValueError
            A metric with different shapes across jobs.
        """
        from mushin_nb.results import build_dataset

        self._require_results()
        if metrics_filename is not None:
            self.load_metrics(metrics_filename)
        cast = {k: _sanitize(v) for k, v in self.multirun_task_overrides.items()}
        swept = [k for k, v in self.multirun_task_overrides.items() if isinstance(v, multirun)]
        coords = {k: cast[k] for k in cast
                  if k in swept or non_multirun_params_as_singleton_dims}
        coords = {k: (v if k in swept else [v]) for k, v in coords.items()}
        attrs = {k: v for k, v in cast.items() if k not in swept}
        cells = dict(self.metrics)
        if include_working_subdirs_as_data_var and self.multirun_working_dirs is not None:
            cells["working_subdir"] = [str(p) for p in self.multirun_working_dirs]
        labels = getattr(self, "_labels", None)
        out = build_dataset(coords, cells, attrs, labels=labels,
                            coord_from_metrics=coord_from_metrics)
        if self._JOBDIR_NAME in out.coords:
            out = self._label_job_dirs(out, non_multirun_params_as_singleton_dims)
        return out

    def _label_job_dirs(self, out: Any, singleton: bool) -> Any:
        import numpy as np

        n_dirs = len(out.coords[self._JOBDIR_NAME])
        extra = {}
        for key, values in self.target_dir_multirun_overrides.items():
            if len(values) != n_dirs:
                continue
            try:
                distinct = len(set(np.unique(values).tolist()))
            except (TypeError, ValueError):
                distinct = len({str(v) for v in values})
            if distinct > 1 or singleton:
                extra[key] = ([self._JOBDIR_NAME], [_sanitize(v) for v in values])
        return out.assign_coords(extra)


class RobustnessCurve(MultiRunMetricsWorkflow):
    """A metrics workflow over a perturbation size ``epsilon`` (the fastest-varying axis).

    Examples
    --------
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> class Curve(RobustnessCurve):
    ...     @staticmethod
    ...     def task(epsilon):
    ...         return {"acc": 1.0 - epsilon}
    >>> wf = Curve()
    >>> wf.run(epsilon=[0.5, 0.0, 0.25], working_dir=tmp.name,
    ...        progress=False)  # doctest: +ELLIPSIS
    mushin_nb: 3 jobs in ...: 3 done
    >>> wf.to_xarray().acc.values.tolist()
    [1.0, 0.75, 0.5]
    >>> tmp.cleanup()
    """

    def run(self, *, epsilon: str | Sequence[float], **kwargs: Any) -> None:  # type: ignore[override]
        """Run over ``epsilon`` (a sequence of values, or an override string such as
        ``"0,0.1,0.2"``) and the other parameters; see :meth:`MultiRunMetricsWorkflow.run`."""
        if not isinstance(epsilon, str):
            epsilon = multirun(list(epsilon))
        # epsilon last: the trailing (fastest-varying) dimension of the results
        super().run(**kwargs, epsilon=epsilon)

    def to_xarray(self, include_working_subdirs_as_data_var: bool = False,
                  coord_from_metrics: str | None = None,
                  non_multirun_params_as_singleton_dims: bool = False,
                  metrics_filename: str | Sequence[str] | None = None) -> Any:
        """As :meth:`MultiRunMetricsWorkflow.to_xarray`, sorted by ``epsilon``."""
        return super().to_xarray(
            include_working_subdirs_as_data_var=include_working_subdirs_as_data_var,
            coord_from_metrics=coord_from_metrics,
            non_multirun_params_as_singleton_dims=non_multirun_params_as_singleton_dims,
            metrics_filename=metrics_filename).sortby("epsilon")

    def plot(self, metric: str, ax: Any = None, group: str | None = None,
             save_filename: str | None = None,
             non_multirun_params_as_singleton_dims: bool = False, **kwargs: Any) -> Any:
        """Plot ``metric`` against ``epsilon`` (one line per value of ``group``).

        Parameters
        ----------
        metric : str
            A metric returned by the task.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        group : str, optional
            A parameter whose values get one line each (needed when more than
            ``epsilon`` was swept).
        save_filename : str, optional
            Also save the figure there.
        non_multirun_params_as_singleton_dims : bool
            As for ``to_xarray``.
        **kwargs
            Passed to ``xarray``'s plotting.

        Returns
        -------
        list
            The plotted line artists (one list per group).
        """
        import matplotlib.pyplot as plt

        xdata = self.to_xarray(
            non_multirun_params_as_singleton_dims=non_multirun_params_as_singleton_dims)
        if metric not in xdata.data_vars:
            raise MushinKeyError(f"`metric` must be one of {sorted(xdata.data_vars)}, got "
                                 f"{metric!r}. Fix: pass a name the task returns")
        if group is not None and group not in xdata.coords:
            raise MushinKeyError(f"`group` must be one of {sorted(xdata.coords)}, got "
                                 f"{group!r}. Fix: pass a swept parameter")
        if ax is None:
            _, ax = plt.subplots()
        if group is None:
            plots = xdata[metric].plot.line(x="epsilon", ax=ax, **kwargs)
        else:
            plots = [grp[metric].squeeze().plot(x="epsilon", label=str(name), ax=ax, **kwargs)
                     for name, grp in xdata.groupby(group)]
            ax.legend(title=group)
        if save_filename is not None:
            ax.figure.savefig(save_filename)
        return plots


def load_from_dir(working_dir: str | os.PathLike, *,
                  metrics_filename: str | Sequence[str] | None = None
                  ) -> MultiRunMetricsWorkflow:
    """Rebuild a finished (or interrupted) sweep from its directory, with no task code.

    Parameters
    ----------
    working_dir : str or Path
        The sweep directory (``workflow.working_dir``).
    metrics_filename : str or Sequence[str], optional
        Read metrics from files the task saved instead of from the job records.

    Returns
    -------
    MultiRunMetricsWorkflow
        With ``metrics``, ``cfgs``, ``jobs``, ``failures`` and ``to_xarray()``.
    """
    return MultiRunMetricsWorkflow().load_from_dir(working_dir,
                                                   metrics_filename=metrics_filename)

