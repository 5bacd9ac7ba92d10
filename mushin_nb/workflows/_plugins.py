"""Jobs through Hydra's launcher plugins (``basic``, ``joblib``, ``submitit_local``, ...).

The plugin gets :class:`JobRunner` as its task function (pickled to worker processes),
which runs the job body there: the result record and the event file are written in the
job's own process, and the progress sink watches the event files.  The caller's loggers
and working directory are restored afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mushin_nb.progress import EVENT_FILE_NAME
from mushin_nb.workflows._claims import Claims, settle, take
from mushin_nb.workflows._jobs import JobOutcome, SweepSpec, finish, run_job_body, tell_end
from mushin_nb.workflows._store import RECORD_DIR, read_record

__all__ = ["JobRunner", "run_plugin", "worker_sys_path"]


class JobRunner:
    """The task function handed to Hydra launchers (pickled to other processes)."""

    def __init__(self, body: Callable[[Any], Any]) -> None:
        self.body = body

    def __call__(self, cfg: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        hydra = HydraConfig.get()
        run_job_body(self.body, cfg, Path(hydra.runtime.output_dir), int(hydra.job.num),
                     list(hydra.overrides.task), write_events=True)


@contextlib.contextmanager
def _preserve_logging() -> Iterator[None]:
    """Undo whatever Hydra's logging set-up does to the caller's loggers (notebooks)."""
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers), list(root.filters), root.disabled)
    manager = logging.Logger.manager
    saved = {name: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
             for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    try:
        yield
    finally:
        new_handlers = [h for h in root.handlers if h not in saved_root[1]]
        root.setLevel(saved_root[0])
        root.handlers[:] = saved_root[1]
        root.filters[:] = saved_root[2]
        root.disabled = saved_root[3]
        for name, lg in list(manager.loggerDict.items()):
            if not isinstance(lg, logging.Logger):
                continue
            if name in saved:
                level, handlers, propagate, disabled = saved[name]
                new_handlers += [h for h in lg.handlers if h not in handlers]
                lg.setLevel(level)
                lg.handlers[:] = handlers
                lg.propagate, lg.disabled = propagate, disabled
        for handler in new_handlers:
            with contextlib.suppress(Exception):
                handler.close()


@contextlib.contextmanager
def worker_sys_path() -> Iterator[None]:
    """Let worker processes import what the caller can (modules found via sys.path)."""
    previous = os.environ.get("PYTHONPATH")
    entries = [os.path.abspath(p or os.curdir) for p in sys.path if not p.endswith(".zip")]
    if previous:
        entries.append(previous)
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(entries))
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


def run_plugin(spec: SweepSpec, hydra: Any, master: Any, pending: list[JobOutcome],
               sink: Any, claims: Claims) -> None:
    """Launch the ``pending`` jobs with the launcher plugin ``master`` selects."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.plugins import Plugins
    from hydra.core.utils import setup_globals
    from hydra.types import HydraContext

    try:
        from hydra._internal.callbacks import Callbacks
    except ImportError:  # pragma: no cover - moved in later Hydra versions
        from hydra.core.callbacks import Callbacks

    def watch(jobs: list[JobOutcome]) -> None:
        for job in jobs:
            event_file = job.job_dir / RECORD_DIR / EVENT_FILE_NAME
            event_file.unlink(missing_ok=True)  # a resumed job starts a fresh event stream
            sink.watch(job.index, str(event_file))

    saved = HydraConfig.instance().cfg
    previous_cwd = os.getcwd()
    with _preserve_logging(), worker_sys_path():
        try:
            setup_globals()
            HydraConfig.instance().set_config(master)
            callbacks = Callbacks(master)
            callbacks.on_multirun_start(config=master, config_name=spec.config_name)
            launcher = Plugins.instance().instantiate_launcher(
                hydra_context=HydraContext(config_loader=hydra.config_loader,
                                           callbacks=callbacks),
                task_function=JobRunner(spec.body), config=master)

            def launch(block: list[JobOutcome]) -> None:
                watch(block)
                launcher.launch([job.overrides for job in block],
                                initial_job_idx=block[0].num)
                for job in block:
                    claims.release(job.job_dir)
                    finish(job, read_record(job.job_dir))
                    tell_end(sink, job)

            mine = [job for job in pending if take(job, claims, sink)]  # claimed up front
            for block in _contiguous(mine):
                launch(block)
            taken = {id(job) for job in mine}
            settle([job for job in pending if id(job) not in taken and not job.ran], claims,
                   lambda job: launch([job]), sink)
            callbacks.on_multirun_end(config=master, config_name=spec.config_name)
        finally:
            HydraConfig.instance().cfg = saved
            os.chdir(previous_cwd)


def _contiguous(jobs: list[JobOutcome]) -> list[list[JobOutcome]]:
    """Split jobs into runs of consecutive job numbers (a launcher numbers from a start)."""
    blocks: list[list[JobOutcome]] = []
    for job in sorted(jobs, key=lambda j: j.num):
        if blocks and blocks[-1][-1].num + 1 == job.num:
            blocks[-1].append(job)
        else:
            blocks.append([job])
    return blocks

