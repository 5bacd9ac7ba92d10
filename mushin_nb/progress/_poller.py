"""Follow the event files of out-of-process jobs and replay their events on a progress sink.

A job run by another process (joblib, submitit, a papermill kernel) cannot call the sink,
so :func:`mushin_nb.progress.report` appends JSON lines to the job's event file instead.
:class:`EventPoller` reads those files from a daemon thread and turns each line back into
``job_start`` / ``job_report`` / ``job_end`` calls; :class:`WatchMixin` gives any sink a
``watch()`` built on it.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.progress._events import read_events

__all__ = ["EventPoller", "WatchMixin", "report_callback_error"]


def report_callback_error(where: str, exc: BaseException) -> None:
    """Show an exception raised in a callback or a background thread instead of losing it.

    In a Jupyter kernel the traceback goes to the notebook's traceback display; elsewhere
    a ``RuntimeWarning`` names the place and the exception.
    """
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
        try:
            shell.showtraceback((type(exc), exc, exc.__traceback__))
            return
        except Exception:  # a broken display must not hide the original error
            pass
    warnings.warn(f"mushin_nb: error in {where}: {type(exc).__name__}: {exc}", RuntimeWarning,
                  stacklevel=2)


class _Watched:
    __slots__ = ("index", "path", "offset", "size", "ended")

    def __init__(self, index: int, path: str) -> None:
        self.index = index
        self.path = path
        self.offset = 0
        self.size = -1
        self.ended = False


class EventPoller:
    """Replay the events that other processes append to job event files onto ``sink``.

    Parameters
    ----------
    sink : progress sink
        Receives ``job_start(i)``, ``job_report(i, step, total, metrics)`` and
        ``job_end(i, status, error)`` for the events read (see :mod:`mushin_nb.progress`).
    interval : float
        Seconds between two reads of the watched files.

    Notes
    -----
    The thread starts with the first :meth:`watch` and is a daemon, so a forgotten poller
    never keeps the interpreter alive.  A file is only re-read when its size changed, and is
    dropped once its ``end`` event has been seen.  :meth:`stop` reads everything left.

    Examples
    --------
    >>> import json, tempfile, os
    >>> from mushin_nb.progress import NullProgress
    >>> class Log(NullProgress):
    ...     def job_report(self, index, step, total, metrics):
    ...         print(index, step, total, metrics)
    >>> path = os.path.join(tempfile.mkdtemp(), "events.jsonl")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write(json.dumps({"t": 0, "event": "report", "step": 1, "total": 2,
    ...                              "metrics": {"loss": 0.5}}) + "\\n")
    >>> poller = EventPoller(Log())
    >>> poller.watch(3, path)
    >>> poller.stop()
    3 1 2 {'loss': 0.5}
    """

    def __init__(self, sink: Any, interval: float = 0.25) -> None:
        if not isinstance(interval, (int, float)) or not interval > 0:
            raise bad_value("interval", interval, "a positive number of seconds",
                            "use e.g. interval=0.25")
        self.sink = sink
        self.interval = float(interval)
        self._files: dict[int, _Watched] = {}
        self._lock = threading.Lock()  # one reader at a time: offsets must not race
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, index: int, path: str | os.PathLike) -> None:
        """Follow ``path`` (which may not exist yet) as the event file of job ``index``."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise bad_value("index", index, "a job index (int >= 0)",
                            "pass the position of the job in the sweep")
        if not isinstance(path, (str, os.PathLike)):
            raise bad_value("path", path, "a path (str or os.PathLike)",
                            "pass the job's event file", cls=MushinTypeError)
        with self._lock:
            self._files[index] = _Watched(index, os.fspath(Path(path)))
        if self._thread is None:
            self._wake.clear()
            self._thread = threading.Thread(target=self._run, name="mushin-nb-event-poller",
                                            daemon=True)
            self._thread.start()

    @property
    def watching(self) -> list[int]:
        """Indices of the jobs whose ``end`` event has not been read yet."""
        with self._lock:
            return sorted(i for i, w in self._files.items() if not w.ended)

    def poll(self) -> int:
        """Read every watched file once and dispatch its new events; return how many."""
        with self._lock:
            count = 0
            for watched in list(self._files.values()):
                if not watched.ended:
                    count += self._poll_file(watched)
            return count

    def stop(self) -> None:
        """Stop the thread, then read what the files still hold (nothing is lost)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._wake.set()
            thread.join()
        self.poll()

    def _run(self) -> None:
        while not self._wake.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:  # the thread must survive a bad sink
                report_callback_error("the event poller", exc)

    def _poll_file(self, watched: _Watched) -> int:
        try:
            size = os.stat(watched.path).st_size
        except OSError:  # not created yet: the job has not started
            return 0
        if size == watched.size:
            return 0
        watched.size = size
        events, watched.offset = read_events(watched.path, watched.offset)
        for event in events:
            self._dispatch(watched, event)
        return len(events)

    def _dispatch(self, watched: _Watched, event: dict) -> None:
        kind, index = event.get("event"), watched.index
        try:
            if kind == "start":
                self.sink.job_start(index)
            elif kind == "report":
                self.sink.job_report(index, event.get("step"), event.get("total"),
                                     dict(event.get("metrics") or {}))
            elif kind == "end":
                watched.ended = True
                self.sink.job_end(index, str(event.get("status", "done")), event.get("error"))
        except Exception as exc:  # one bad event must not stop the others
            report_callback_error(f"the progress sink ({kind} event of job {index})", exc)


class WatchMixin:
    """Give a progress sink ``watch()`` through an :class:`EventPoller`.

    Put it before the sink's base class and call :meth:`_stop_watching` first thing in
    ``close()`` so the last events reach the sink before it shows its final state.

    Examples
    --------
    >>> from mushin_nb.progress import NullProgress
    >>> class MySink(WatchMixin, NullProgress):
    ...     def close(self, ok=True):
    ...         self._stop_watching()
    """

    #: Seconds between two reads of the watched event files.
    poll_interval: float = 0.25
    _poller: EventPoller | None = None

    def watch(self, index: int, event_file: str | os.PathLike) -> None:
        """Follow the event file that job ``index`` writes from another process."""
        if self._poller is None:
            self._poller = EventPoller(self, self.poll_interval)
        self._poller.watch(index, event_file)

    def _stop_watching(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.stop()
