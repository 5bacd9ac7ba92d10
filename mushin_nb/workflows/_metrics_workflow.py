"""``MultiRunMetricsWorkflow``: jobs that return metrics, gathered into an xarray Dataset.

Every job's return value is in its result record, so :func:`load_from_dir` (and the
method of the same name) rebuilds a sweep from its directory with no task code.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinTypeError,
    MushinValueError,
    NotRunError,
    bad_value,
)
from mushin_nb.workflows._base_workflow import (
    BaseWorkflow,
    Failure,
    job_return,
    placeholder_task,
    read_multirun_yaml,
)
from mushin_nb.workflows._jobs import JobOutcome, SweepResult, finish
from mushin_nb.workflows._multirun import multirun, parse_override, parse_task_overrides
from mushin_nb.workflows._plan import load_cfg, require_dir
from mushin_nb.workflows._store import read_record, scan_jobs, to_numpy

__all__ = ["MultiRunMetricsWorkflow", "load_from_dir"]


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


@placeholder_task
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
    def _failures(jobs: Sequence[JobOutcome], skipped: bool) -> list[Failure]:
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
        path = require_dir(working_dir)
        task, output_subdir, params = read_multirun_yaml(path)
        output_subdir = config_dir or output_subdir
        self._working_dir = path
        self._task_overrides = task
        self._multirun_task_overrides = {}
        self._target_dir_multirun_overrides = None
        self.output_subdir = output_subdir
        existing = scan_jobs(path, output_subdir)
        jobs = []
        for index, overrides in enumerate(_grid_jobs(task, params)):
            found = existing.get(tuple(sorted(overrides)))
            job = JobOutcome(index=index, num=found.num if found else -1,
                             job_dir=found.job_dir if found else path,
                             overrides=list(overrides),
                             label=" ".join(o.lstrip("+~") for o in overrides))
            record = read_record(found.job_dir) if found else None
            finish(job, record)
            job.ran = False
            if found is None:
                job.error = "MushinRuntimeError: the job never ran (no job directory)"
            job.cfg = load_cfg(job.job_dir, output_subdir) if found else None
            jobs.append(job)
        self._sweep = SweepResult(path, output_subdir, task, jobs)
        self.jobs = [job_return(job, "rai_workflow", output_subdir) for job in jobs]
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
                    found.update(to_numpy(dict(self.metric_load_fn(file))))
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
            task, _, _ = read_multirun_yaml(Path(d).parent)
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

