"""``BaseWorkflow``: a reusable sweep of Hydra jobs, with rai-toolbox's public behaviour.

Code written for ``rai_toolbox.mushin`` workflows runs after changing the import; the
sweep engine underneath persists every job's result, resumes interrupted or extended
sweeps, isolates failures and launches fast in-process.  Also here: :class:`Failure`
(a job that failed) and the Hydra ``JobReturn`` of each job.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hydra.core.utils import JobReturn, JobStatus
from hydra_zen import make_config, zen

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinRuntimeError,
    MushinTypeError,
    NotRunError,
    SweepFailedError,
    bad_value,
)
from mushin_nb.workflows._jobs import JobOutcome, SweepResult, SweepSpec
from mushin_nb.workflows._launcher import execute
from mushin_nb.workflows._multirun import format_param, parse_task_overrides
from mushin_nb.workflows._plan import require_dir

__all__ = ["BaseWorkflow", "Failure", "job_return", "placeholder_task", "read_multirun_yaml"]

_W = TypeVar("_W", bound=type)

#: The placeholder ``task`` of each workflow class of this package (users define the real one).
_PLACEHOLDER_TASKS: list[Any] = []


def placeholder_task(cls: _W) -> _W:
    """Class decorator: the ``task`` that ``cls`` defines is a placeholder, not a job."""
    _PLACEHOLDER_TASKS.append(vars(cls)["task"])
    return cls


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


def job_return(job: JobOutcome, task_name: str, output_subdir: str | None
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


@placeholder_task
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
        if hasattr(self, "evaluation_task") and any(task is t for t in _PLACEHOLDER_TASKS):
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
                self._task_overrides = read_multirun_yaml(self.working_dir)[0]
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
        spec = SweepSpec(
            config=self.eval_task_cfg,
            body=self._body(task_fn_wrapper, pre_task_fn_wrapper),
            overrides=[*(overrides or []), *self._param_overrides(params)],
            validate=self._validator(task_fn_wrapper, pre_task_fn_wrapper),
            working_dir=working_dir, launcher=launcher, sweeper=sweeper,
            version_base=version_base, to_dictconfig=to_dictconfig, config_name=config_name,
            job_name=job_name, with_log_configuration=with_log_configuration, resume=resume,
            progress=progress, title=title, plain=self._plain_params, threads=threads,
            gpus_per_job=gpus_per_job)
        result = execute(spec)
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

    def _adopt(self, result: SweepResult, job_name: str) -> None:
        self._sweep = result
        self._working_dir = result.working_dir
        self._task_overrides = result.task_overrides
        self._multirun_task_overrides = {}
        self.output_subdir = result.output_subdir
        self.jobs = [job_return(job, job_name, result.output_subdir) for job in result.jobs]
        self.workflow_overrides = dict(self.multirun_task_overrides)

    @staticmethod
    def _summary(result: SweepResult) -> str:
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


def read_multirun_yaml(working_dir: Path) -> tuple[list[str], str | None, dict[str, Any]]:
    """Task overrides, output subdir and sweeper params of a sweep directory."""
    from omegaconf import OmegaConf

    path = require_dir(working_dir)
    cfg = OmegaConf.load(path / "multirun.yaml")
    task = list(OmegaConf.to_container(cfg.hydra.overrides.task))
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None)
    return task, cfg.hydra.output_subdir, dict(OmegaConf.to_container(params)) if params else {}

