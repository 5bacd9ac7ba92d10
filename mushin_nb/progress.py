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

import contextlib
import contextvars
import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "EVENT_FILE_ENV",
    "JobContext",
    "NullProgress",
    "TextProgress",
    "current_job",
    "job_context",
    "read_events",
    "report",
    "sweep_progress",
]

#: Environment variable that points a worker process at its job's event file.
EVENT_FILE_ENV = "MUSHIN_NB_EVENT_FILE"
#: Name of the per-job event file (JSON lines), inside ``<job_dir>/.mushin/``.
EVENT_FILE_NAME = "events.jsonl"


@dataclass
class JobContext:
    """What code running inside a job can see of it."""

    index: int
    job_dir: Path | None = None
    sink: Any = None
    records: dict[str, Any] = field(default_factory=dict)


_CURRENT: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "mushin_nb_job", default=None
)


def current_job() -> JobContext | None:
    """Return the job the caller is running in, or None outside a sweep."""
    return _CURRENT.get()


@contextlib.contextmanager
def job_context(index: int, job_dir: str | os.PathLike | None = None, sink: Any = None
                ) -> Iterator[JobContext]:
    """Mark the enclosed code as running inside job ``index`` of the sweep shown by ``sink``."""
    ctx = JobContext(index=index, job_dir=Path(job_dir) if job_dir is not None else None,
                     sink=sink)
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)


def _clean(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def report(step: int | None = None, total: int | None = None, **metrics: Any) -> None:
    """Report progress of the running job: a step counter and scalar metrics.

    Callable from any task, ``train_fn`` or notebook run by a sweep.  Outside a sweep it
    is a no-op, so training code can call it unconditionally.

    Parameters
    ----------
    step : int, optional
        Steps done so far (epochs, batches...).
    total : int, optional
        Steps the job will do, for its progress bar.
    **metrics
        Scalar values to plot live (non-numeric values are dropped).

    Examples
    --------
    >>> report(step=1, total=10, loss=0.5)  # outside a sweep: nothing happens
    """
    ctx = _CURRENT.get()
    values = _clean(metrics)
    if ctx is not None and ctx.sink is not None:
        ctx.sink.job_report(ctx.index, step, total, values)
        return
    path = os.environ.get(EVENT_FILE_ENV)
    if ctx is not None and ctx.job_dir is not None and path is None:
        path = str(ctx.job_dir / ".mushin" / EVENT_FILE_NAME)
    if path:
        event = {"t": time.time(), "event": "report", "step": step, "total": total,
                 "metrics": values}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:  # one short line: atomic append
            fh.write(json.dumps(event) + "\n")


def read_events(path: str | os.PathLike, offset: int = 0) -> tuple[list[dict], int]:
    """Read complete events appended to ``path`` since byte ``offset``.

    Returns the events and the new offset; a partly written last line is left for later.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1
    events = []
    for line in chunk[:end].splitlines():
        with contextlib.suppress(ValueError):
            events.append(json.loads(line))
    return events, offset + end


class NullProgress:
    """A sink that shows nothing."""

    def start(self, labels: Sequence[str], title: str = "") -> None:
        pass

    def job_start(self, index: int) -> None:
        pass

    def job_report(self, index: int, step: int | None, total: int | None,
                   metrics: dict[str, float]) -> None:
        pass

    def job_end(self, index: int, status: str, error: str | None = None) -> None:
        pass

    def watch(self, index: int, event_file: str | os.PathLike) -> None:
        pass

    def close(self, ok: bool = True) -> None:
        pass


class TextProgress(NullProgress):
    """A tqdm bar over jobs (terminal, papermill, CI), with failures counted in its postfix."""

    def __init__(self, file: Any = None) -> None:
        self._file = file
        self._bar: Any = None
        self._failed = 0
        self._last: dict[str, float] = {}
        self._shown_at = 0.0
        self._poller: Any = None
        self._ended: set[int] = set()

    def start(self, labels: Sequence[str], title: str = "") -> None:
        from tqdm.auto import tqdm

        self._ended = set()
        self._bar = tqdm(total=len(labels), desc=title or "sweep", unit="job", file=self._file,
                         leave=True, dynamic_ncols=True)

    def watch(self, index: int, event_file: str | os.PathLike) -> None:
        if self._poller is None:
            from mushin_nb._poller import EventPoller  # lazy: _poller imports this module

            self._poller = EventPoller(self)
        self._poller.watch(index, event_file)

    def job_report(self, index: int, step: int | None, total: int | None,
                   metrics: dict[str, float]) -> None:
        if self._bar is not None and metrics:
            self._last = {k: v for k, v in metrics.items() if math.isfinite(v)}
            now = time.monotonic()
            if now - self._shown_at >= 0.5:  # formatting the postfix each step costs ~3%
                self._shown_at = now
                self._bar.set_postfix(self._postfix(), refresh=False)

    def job_end(self, index: int, status: str, error: str | None = None) -> None:
        # out-of-process jobs end twice: the worker's event and the engine's call
        if self._bar is None or index in self._ended:
            return
        self._ended.add(index)
        self._failed += status == "failed"
        self._bar.set_postfix(self._postfix(), refresh=False)
        self._bar.update(1)

    def _postfix(self) -> dict[str, Any]:
        post: dict[str, Any] = dict(list(self._last.items())[:3])
        if self._failed:
            post["failed"] = self._failed
        return post

    def close(self, ok: bool = True) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        if self._bar is not None:
            if not ok and hasattr(self._bar, "colour"):
                self._bar.colour = "red"
            self._bar.close()
            self._bar = None


def _in_notebook_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


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
    if _in_notebook_kernel():
        try:
            from mushin_nb.notebook.widgets import SweepMonitor

            return SweepMonitor(display=True)
        except Exception:  # any widget trouble falls back to text, as tqdm.auto does
            pass
    return TextProgress()
