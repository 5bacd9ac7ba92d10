"""Live progress of sweeps: ``report()`` events, the job context, and progress sinks.

A sweep (workflow, Study, tune, batch) opens one sink with :func:`sweep_progress`
and tells it when each job starts and ends.  Code running *inside* a job calls
:func:`report`; in-process the event goes straight to the sink, in another process
(joblib, submitit, a papermill kernel) it is appended to the job's event file,
which the sink polls.  Outside a sweep, :func:`report` does nothing.

Event file: JSON lines at ``<job_dir>/.mushin/events.jsonl`` (or ``$MUSHIN_NB_EVENT_FILE``),
each ``{"t": time, "event": "start" | "report" | "end", ...}``; a report carries
``step, total, metrics``, an end carries ``status`` ("done" | "failed") and ``error``.

Sink contract (what every sink implements)::

    start(labels: list[str], title: str) -> None
    job_start(index: int) -> None
    job_report(index: int, step: int | None, total: int | None, metrics: dict) -> None
    job_end(index: int, status: str, error: str | None = None) -> None  # "done"|"failed"|"skipped"
    watch(index: int, event_file: str) -> None   # poll a file written by another process
    close(ok: bool = True) -> None
"""


from __future__ import annotations

import os
from typing import Any

from mushin_nb import _hooks
from mushin_nb.progress._events import (
    EVENT_FILE_ENV,
    EVENT_FILE_NAME,
    EventFileSink,
    JobContext,
    current_job,
    job_context,
    read_events,
    report,
    write_event,
)
from mushin_nb.progress._text import NullProgress, TextProgress

__all__ = [
    "EVENT_FILE_ENV",
    "EVENT_FILE_NAME",
    "EventFileSink",
    "JobContext",
    "NullProgress",
    "TextProgress",
    "current_job",
    "job_context",
    "read_events",
    "report",
    "sweep_progress",
    "write_event",
]


def sweep_progress(progress: bool | Any = True) -> Any:
    """Return the sink a sweep should report to.

    Parameters
    ----------
    progress : bool or sink
        ``False``: no display.  ``True``: the notebook's SweepMonitor when running in a
        Jupyter kernel with widgets available, else a tqdm text bar.  A sink object is
        returned unchanged.
    """
    if progress is False or progress is None:
        return NullProgress()
    if progress is not True:
        return progress
    if os.environ.get("MUSHIN_NB_PROGRESS", "").lower() in {"0", "off", "none"}:
        return NullProgress()
    live = _hooks.notebook_display()  # the notebook layer's choice, as tqdm.auto
    if live is not None:
        return live
    return TextProgress()
