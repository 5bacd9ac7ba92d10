"""Run a sweep: compose its config once, plan its jobs, launch the ones still to run.

:func:`execute` composes the sweep's config with Hydra, builds the grid
(:mod:`._plan`), and hands the jobs without a successful record to the in-process
launcher (:mod:`._inprocess`) or to a Hydra launcher plugin (:mod:`._plugins`).  A
sweep over a config group (an override that changes the defaults list) or with Hydra
callbacks falls back to Hydra's basic launcher.  Any installed Hydra launcher plugin
(``joblib``, ``submitit_local``, ...) can be named instead; the job body then writes its
own result record and event file in the job's process.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinValueError, bad_value
from mushin_nb.progress import sweep_progress
from mushin_nb.workflows import _placement, _ray
from mushin_nb.workflows._claims import Claims, clear_stale
from mushin_nb.workflows._inprocess import FastJobs, job_cfg, run_fast
from mushin_nb.workflows._jobs import FAST, JobOutcome, SweepResult, SweepSpec
from mushin_nb.workflows._plan import (
    build_grid,
    check_dir,
    claim_dir,
    default_dir,
    load_cfg,
    plain_overrides,
    plan_jobs,
    quote_path,
    touches_defaults,
    user_sweep_dir,
)
from mushin_nb.workflows._plugins import run_plugin, worker_sys_path
from mushin_nb.workflows._store import read_record, write_text_atomic

__all__ = ["FAST", "JobOutcome", "SweepResult", "SweepSpec", "check_launcher", "execute",
           "known_launchers"]


@contextlib.contextmanager
def _hydra_session(spec: SweepSpec) -> Iterator[Any]:
    """Store the config, initialise Hydra (restored on exit) and yield the Hydra object."""
    from hydra import initialize
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    config = spec.config
    if spec.to_dictconfig and not OmegaConf.is_config(config):
        config = OmegaConf.create(OmegaConf.to_container(OmegaConf.structured(config)))
    ConfigStore.instance().store(name=spec.config_name, node=config)
    kwargs = {} if isinstance(spec.version_base, type) else {"version_base": spec.version_base}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*version_base.*")
        warnings.filterwarnings("ignore", message=r"(?s).*config_path is not specified.*")
        with initialize(config_path=None, job_name=spec.job_name, **kwargs):
            yield GlobalHydra.instance().hydra


def known_launchers(hydra: Any) -> list[str]:
    """Launcher names: ours plus every ``hydra/launcher`` option Hydra can find."""
    options = hydra.config_loader.get_group_options("hydra/launcher")
    return [FAST, *sorted(options)]


def _check_name(hydra: Any, launcher: Any) -> None:
    name = launcher or FAST
    if not isinstance(name, str) or name not in known_launchers(hydra):
        raise bad_value("launcher", launcher, f"one of {known_launchers(hydra)}",
                        "pass launcher=None for the fast in-process launcher, or install "
                        "the Hydra launcher plugin you named")


def check_launcher(launcher: Any) -> None:
    """Raise the error a sweep on ``launcher`` would raise when Hydra knows no such launcher.

    For callers that run many sweeps (tune()'s rounds): the name is checked once, before
    anything is written.

    Examples
    --------
    >>> check_launcher("joblib")
    >>> check_launcher("jobllib")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mushin_nb.errors.MushinValueError: `launcher` must be one of [...], got 'jobllib'...
    """
    from hydra import initialize
    from hydra.core.global_hydra import GlobalHydra

    with initialize(config_path=None, version_base=None):
        _check_name(GlobalHydra.instance().hydra, launcher)


def _compose(hydra: Any, spec: SweepSpec, overrides: list[str]) -> Any:
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf.errors import OmegaConfBaseException

    try:
        return hydra.compose_config(spec.config_name, overrides, run_mode=RunMode.MULTIRUN,
                                    with_log_configuration=False)
    except (HydraException, OmegaConfBaseException) as exc:
        message = str(exc).strip().splitlines()
        raise MushinValueError(
            f"`overrides` {overrides!r} do not compose with the workflow's config: "
            f"{' '.join(message)[:400]}. Fix: check the names and values passed to run() "
            "and in `overrides` (use hydra_list([...]) for list values)") from exc


def execute(spec: SweepSpec) -> SweepResult:
    """Run (or resume) the sweep described by ``spec``; failures are recorded, not raised.

    Raises
    ------
    MushinError
        For bad input, always before any job runs.
    """
    from hydra import version
    from omegaconf import OmegaConf

    if spec.sweeper not in (None, "basic"):
        raise bad_value("sweeper", spec.sweeper, "None or 'basic' (a grid sweep)",
                        "leave sweeper=None; use multirun([...]) values for the grid")
    user_dir = spec.working_dir is not None or user_sweep_dir(spec.overrides)
    if spec.working_dir is not None:
        sweep_dir = check_dir(Path(spec.working_dir), "working_dir")
    else:
        sweep_dir = default_dir()
    hydra_overrides = [] if user_sweep_dir(spec.overrides) and spec.working_dir is None else [
        f"hydra.sweep.dir={quote_path(sweep_dir)}"]
    name = spec.launcher or FAST
    with _hydra_session(spec) as hydra:
        _check_name(hydra, spec.launcher)
        gpus = _placement.check_gpus_per_job(spec.gpus_per_job, spec.launcher, spec.threads)
        if name != FAST:
            hydra_overrides.append(f"hydra/launcher={name}")
        overrides = _ray.normalize_overrides([*spec.overrides, *hydra_overrides,
                                              *_placement.gpu_overrides(gpus, name)])
        master = _compose(hydra, spec, overrides)
        if spec.working_dir is None and user_sweep_dir(spec.overrides):
            sweep_dir = check_dir(Path(str(master.hydra.sweep.dir)), "overrides")
        grid = build_grid(hydra, master)
        values_only = not touches_defaults(hydra, master, grid)
        if name == FAST and not values_only:
            name = "basic"
        chdir = master.hydra.job.chdir
        if chdir is None:
            chdir = not version.base_at_least("1.2")
        fast = FastJobs(hydra, master, sweep_dir)
        stack = contextlib.ExitStack()
        try:
            fast.swept_keys = set(grid.swept)
            fast.full_compose = name != FAST
            fast.plain = name == FAST and spec.plain and plain_overrides(master)
            # every job's config before any job runs: a bad value fails the sweep up front
            # (a grid of values composes like the fast launcher's jobs, without Hydra's
            # full composition; one over config groups composes its first job in full)
            cfgs = [job_cfg(fast, overrides) for overrides in grid.jobs] if values_only else [
                _full_cfg(hydra, master, grid.jobs[0])]
            if spec.validate is not None:
                spec.validate(cfgs[0])
            if name == "ray":  # before anything is written: Ray must answer, with the GPUs
                stack.enter_context(worker_sys_path())  # Ray's workers start now
                stack.enter_context(_ray.ray_session(master, gpus))
            if not user_dir:
                claimed = claim_dir(sweep_dir)
                if claimed != sweep_dir:
                    sweep_dir = claimed
                    fast.set_sweep_dir(claimed)
            sweep_dir.mkdir(parents=True, exist_ok=True)
            result = SweepResult(sweep_dir, master.hydra.output_subdir,
                                 list(OmegaConf.to_container(master.hydra.overrides.task)),
                                 launcher=name)
            result.jobs = plan_jobs(grid, fast.job_dir, sweep_dir, master.hydra.output_subdir)
            if name == FAST:
                for job, cfg in zip(result.jobs, cfgs):
                    job.cfg = cfg
            write_text_atomic(sweep_dir / "multirun.yaml", OmegaConf.to_yaml(master))
            _run(spec, hydra, master, fast, result, name, chdir)
        finally:
            stack.close()
            fast.close()
    return result


def _full_cfg(hydra: Any, master: Any, overrides: list[str]) -> Any:
    from omegaconf import open_dict

    cfg = hydra.config_loader.load_sweep_config(master, list(overrides))
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def _run(spec: SweepSpec, hydra: Any, master: Any, fast: FastJobs, result: SweepResult,
         name: str, chdir: bool) -> None:
    sink = sweep_progress(spec.progress)
    sink.start([job.label for job in result.jobs], spec.title or f"sweep {result.working_dir.name}")
    ok = False
    try:
        pending = []
        for job in result.jobs:
            record = read_record(job.job_dir) if job.status == "done" else None
            if spec.resume and record is not None and record.get("status") == "done":
                clear_stale(job.job_dir)  # left by a runner killed after the job
                job.status = "done"
                job.return_value = record.get("return_value")
                job.duration_s = record.get("duration_s")
                sink.job_end(job.index, "skipped")
            else:
                job.status = "pending"
                pending.append(job)
        with Claims() as claims:  # one runner per job, across processes and hosts
            if name == FAST:
                run_fast(spec, fast, pending, sink, chdir, claims)
            elif pending:
                run_plugin(spec, hydra, master, pending, sink, claims)
        ok = all(job.status in ("done", "skipped") for job in result.jobs)
    finally:
        sink.close(ok)
    if name != FAST or any(job.cfg is None for job in result.jobs):
        for job in result.jobs:
            if job.cfg is None:
                job.cfg = fast.task_cfg(job.overrides) if name == FAST else load_cfg(
                    job.job_dir, result.output_subdir)

