"""The job context and ``report()``: events go to the sweep's sink or to the job's event file."""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        write_event(path, "report", step=step, total=total, metrics=values)


def write_event(path: str | os.PathLike, event: str, **fields: Any) -> None:
    """Append one event (``"start"``, ``"report"``, ``"end"``) to the event file ``path``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "events.jsonl"
    >>> write_event(path, "report", step=1, total=3, metrics={"loss": 0.5})
    >>> [(e["event"], e["step"]) for e in read_events(path)[0]]
    [('report', 1)]
    """
    line = {"t": time.time(), "event": event, **fields}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:  # one short line: atomic append
        fh.write(json.dumps(line) + "\n")


class EventFileSink:
    """The sink of a :func:`job_context` in a process that has no display: the job's
    reports are appended to the event file ``path``, which the display's sink follows
    (its ``watch``)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path

    def job_report(self, index: int, step: int | None, total: int | None,
                   metrics: dict[str, float]) -> None:
        write_event(self.path, "report", step=step, total=total, metrics=metrics)


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
