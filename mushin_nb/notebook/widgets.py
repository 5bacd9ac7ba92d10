"""SweepMonitor: one live widget for a whole sweep (job grid, ETA, step bars, metric curve).

The monitor is a progress sink (see :mod:`mushin_nb.progress`): a sweep calls ``start``,
``job_start``, ``job_report``, ``job_end`` and ``close`` on it, in-process or through the
event files it ``watch``-es.  Events only touch plain Python buffers; the synced traitlets
are refreshed in one batched message at most every ``interval`` seconds, so a task that
reports thousands of steps costs the sweep next to nothing (target P7: <= 2 %).
When the sweep ends the monitor also leaves a static HTML snapshot in the notebook, which
nbconvert and GitHub show without a kernel.

The parts: this widget (synced traits, throttled syncs, display),
:mod:`~mushin_nb.notebook._monitor_state` (the per-job state in plain Python) and
:mod:`~mushin_nb.notebook._snapshot` (the static picture).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.notebook._monitor_state import (
    _END_STATUSES,
    _MAX_ERROR,
    STATUS_CODES,
    _JobState,
    _Series,
)
from mushin_nb.notebook._snapshot import Snapshot
from mushin_nb.progress._poller import WatchMixin, report_callback_error

__all__ = ["SweepMonitor", "Snapshot", "STATUS_CODES"]

_STATIC = Path(__file__).resolve().parent.parent / "_static"

_QUIET_EXIT = 10.0  # seconds without news after which the sync thread ends


class SweepMonitor(WatchMixin, _JobState, anywidget.AnyWidget):
    """A live view of a sweep: every job's status, overall progress with ETA, the running
    jobs' steps and a curve of any reported metric.

    Pass it as ``progress=`` to a sweep, or let ``sweep_progress(True)`` create one in a
    notebook.  It implements the sink contract of :mod:`mushin_nb.progress`.

    Parameters
    ----------
    display : bool
        Show the widget now (in an IPython shell only) and, on :meth:`close`, a static
        HTML snapshot below it that stays readable in the saved notebook.
    interval : float
        Least number of seconds between two syncs of the widget state.
    max_curves : int
        Jobs drawn in the metric curve (the most recently reporting ones).
    max_points : int
        Points per job and metric sent to the curve (older points are thinned).

    Attributes
    ----------
    labels, statuses, errors, devices, metrics, metric, curve, progress, done, failed,
    skipped, running, elapsed, eta, finished, ok
        The synced state, as of the last sync (:meth:`flush` forces one).  ``statuses``
        holds one character per job (see :data:`STATUS_CODES`); ``errors`` maps the job
        index (as a string) to its error text (or, for a skipped job, its reason);
        ``devices`` maps it to the devices the job saw (``"gpu:1"``), shown in its detail;
        ``curve`` maps metric -> job -> ``[[x, y]]``;
        ``progress`` is the running jobs' ``[step, total]`` as JSON text.
    steps, totals
        Every job's last step and total, live (not only as of the last sync).

    Examples
    --------
    >>> mon = SweepMonitor(display=False)
    >>> mon.start(["lr=0.1", "lr=0.01"], title="demo")
    >>> mon.job_start(0)
    >>> mon.job_report(0, step=1, total=2, metrics={"loss": 0.5})
    >>> mon.job_end(0, "done")
    >>> mon.job_end(1, "failed", "ValueError: diverged")
    >>> mon.close(ok=False)
    >>> mon.statuses, mon.done, mon.failed, mon.errors
    ('df', 1, 1, {'1': 'ValueError: diverged'})
    >>> print(mon.snapshot())
    demo: 2 jobs, 1 done, 1 failed, 0 skipped, 0 running, 0 queued
      failed lr=0.01: ValueError: diverged
    """

    _esm = _STATIC / "sweep_monitor.js"
    _css = _STATIC / "sweep_monitor.css"

    title = t.Unicode("").tag(sync=True)
    labels = t.List(t.Unicode()).tag(sync=True)
    statuses = t.Unicode("").tag(sync=True)
    # running jobs only, as JSON text {"<index>": [step, total]}: small whatever the sweep
    progress = t.Unicode("{}").tag(sync=True)
    errors = t.Dict().tag(sync=True)
    devices = t.Dict().tag(sync=True)
    metrics = t.List(t.Unicode()).tag(sync=True)
    metric = t.Unicode("").tag(sync=True)
    # one JSON text on the wire, built from per-series pieces (see _curve_to_json)
    curve = t.Dict().tag(sync=True, to_json=lambda value, widget: _curve_to_json(value, widget))
    done = t.Int(0).tag(sync=True)
    failed = t.Int(0).tag(sync=True)
    skipped = t.Int(0).tag(sync=True)
    running = t.Int(0).tag(sync=True)
    elapsed = t.Float(0.0).tag(sync=True)
    eta = t.Float(None, allow_none=True).tag(sync=True)
    finished = t.Bool(False).tag(sync=True)
    ok = t.Bool(True).tag(sync=True)

    def __init__(self, display: bool = True, *, interval: float = 0.25, max_curves: int = 24,
                 max_points: int = 100) -> None:
        if not isinstance(display, bool):
            raise bad_value("display", display, "True or False", cls=MushinTypeError)
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) \
                or not 0 < interval <= 60:
            raise bad_value("interval", interval, "a number of seconds in (0, 60]",
                            "use e.g. interval=0.25")
        for name, value in (("max_curves", max_curves), ("max_points", max_points)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad_value(name, value, "a positive int", f"use e.g. {name}=50")
        super().__init__()
        self.interval = float(interval)
        self.max_curves, self.max_points = max_curves, max_points
        #: Least seconds between two syncs of the curve, the bulkiest part of the state.
        self.curve_interval = max(1.0, self.interval)
        self._lock = threading.Lock()  # events come from the sweep and the poller thread
        self._ticker: threading.Thread | None = None
        self._stop_tick = threading.Event()
        self._curve_json: tuple[Any, str] | None = None
        self._n = 0
        self._codes = bytearray()
        self._steps: list[int | None] = []
        self._totals: list[int | None] = []
        self._errors: dict[str, str] = {}
        self._devices: dict[str, str] = {}
        self._series: dict[str, dict[int, _Series]] = {}
        self._recent: dict[int, None] = {}  # jobs by last report, oldest first
        self._newest = -1
        self._t0 = time.monotonic()
        self._last_flush = self._last_curve = -math.inf
        self._dirty = self._steps_dirty = self._curve_dirty = False
        self._started = False
        self._widget_handle: Any = None
        self._snapshot_handle: Any = None
        if display:
            self._show()

    # ----------------------------------------------------------------- sink contract
    def start(self, labels: Sequence[str], title: str = "") -> None:
        """Begin a sweep of ``len(labels)`` jobs, all queued."""
        if isinstance(labels, str) or not isinstance(labels, Sequence):
            raise bad_value("labels", labels, "a sequence of job labels (str)",
                            "pass e.g. ['lr=0.1', 'lr=0.01']", cls=MushinTypeError)
        if not isinstance(title, str):
            raise bad_value("title", title, "a str", cls=MushinTypeError)
        with self._lock:
            self._n = len(labels)
            self._codes = bytearray(b"q" * self._n)
            self._steps, self._totals = [None] * self._n, [None] * self._n
            self._errors, self._series, self._recent, self._newest = {}, {}, {}, -1
            self._devices = {}
            self._t0, self._started = time.monotonic(), True
            self._steps_dirty = self._curve_dirty = True
            with self.hold_sync():  # labels and first state in one message
                self.title, self.labels = title, [str(label) for label in labels]
                self.metrics, self.metric, self.curve = [], "", {}
                self.finished, self.ok = False, True
                self._flush_locked(force=True)

    def job_start(self, index: int) -> None:
        """Mark job ``index`` as running."""
        with self._lock:
            self._codes[self._check(index)] = 114  # ord("r")
            self._touch()

    def job_report(self, index: int, step: int | None, total: int | None,
                   metrics: dict[str, float]) -> None:
        """Record a step counter and metric values reported by job ``index``."""
        with self._lock:
            # the hot path of a sweep: plain ints skip the full check
            i = index if type(index) is int and 0 <= index < self._n else self._check(index)
            if self._codes[i] == 113:  # ord("q"): a report implies the job runs
                self._codes[i] = 114
            if step is not None:
                self._steps[i] = step
                self._steps_dirty = True
            if total is not None:
                self._totals[i] = total
                self._steps_dirty = True
            if metrics:
                self._add_metrics(i, step, metrics)
            self._touch()

    def job_end(self, index: int, status: str, error: str | None = None) -> None:
        """Mark job ``index`` as ``"done"``, ``"failed"`` or ``"skipped"``."""
        if status not in _END_STATUSES:
            raise bad_value("status", status, f"one of {_END_STATUSES}",
                            "report a running job with job_start() instead")
        with self._lock:
            i = self._check(index)
            self._codes[i] = ord(STATUS_CODES[status])
            if error:
                self._errors[str(i)] = str(error)[-_MAX_ERROR:]
            if status == "done" and self._totals[i] is not None:
                self._steps[i] = self._totals[i]
                self._steps_dirty = True
            self._touch()

    def job_devices(self, index: int, devices: Sequence[str]) -> None:
        """Record the devices job ``index`` saw (``["gpu:1"]``); its detail shows them."""
        with self._lock:
            self._devices[str(self._check(index))] = ", ".join(map(str, devices))
            self._touch()

    def close(self, ok: bool = True) -> None:
        """End the sweep: read the last polled events, sync, and leave the snapshot.

        The widget itself stays live (use :meth:`dispose` to close its comm).
        """
        self._stop_watching()
        self._stop_ticker()
        with self._lock:
            if not self._started or self.finished:
                return
            with self.hold_sync():  # one message carries the final state
                self.ok = bool(ok)
                self.finished = True
                self._flush_locked(force=True)
        if self._snapshot_handle is not None:
            self._snapshot_handle.update(self.snapshot())

    # --------------------------------------------------------------------- public
    def flush(self) -> None:
        """Sync the state to the front-end now, whatever the throttle says."""
        with self._lock:
            self._flush_locked(force=True)

    def snapshot(self) -> Snapshot:
        """Return a static view of the current state (HTML for notebooks, text elsewhere)."""
        with self._lock:
            return Snapshot(
                title=self.title, labels=list(self.labels), statuses=self._codes.decode(),
                errors=dict(self._errors),
                elapsed=self.elapsed if self.finished else self._elapsed(), ok=self.ok,
                finished=self.finished,
            )

    def dispose(self) -> None:
        """Close the widget's comm: its views disappear from the notebook."""
        self._stop_watching()
        self._stop_ticker()
        super().close()

    def __del__(self) -> None:
        try:
            self.dispose()
        except Exception:  # interpreter shutdown: modules may already be gone
            pass

    # ------------------------------------------------------------------- internals
    def _show(self) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:  # plain Python: nothing to display into
            return
        self._widget_handle = display(self, display_id=True)
        # a reserved slot, filled by close(), so the snapshot lands under the widget
        self._snapshot_handle = display({"text/plain": ""}, raw=True, display_id=True)

    def _touch(self) -> None:
        """Note a change and sync it now if the last sync is old enough.

        Syncing on the caller's thread (the sweep's, or the poller's) keeps the sweep from
        ever waiting on the lock for the sync thread, which only catches the trailing news.
        """
        self._dirty = True
        now = time.monotonic()
        if now - self._last_flush >= self.interval:
            self._flush_locked(now=now)
        if self._ticker is None:
            self._stop_tick = threading.Event()
            self._ticker = threading.Thread(target=self._tick, args=(self._stop_tick,),
                                            name="mushin-nb-monitor-sync", daemon=True)
            self._ticker.start()

    def _tick(self, stop: threading.Event) -> None:
        """Sync the news that no event synced for two intervals; end after a quiet spell.

        It reads the flags without the lock and takes the lock only to sync, which a busy
        sweep never leaves it to do: the sweep's thread then never waits for this one.
        """
        late = 2 * self.interval
        quiet, wait = 0.0, late
        while not stop.wait(wait):
            wait = late
            try:
                since = time.monotonic() - self._last_flush
                if since < late:  # synced recently: look again when it could be late
                    wait = late - since
                    quiet = 0.0
                    continue
                if self._dirty or self._curve_dirty:
                    quiet = 0.0
                    with self._lock:  # look again: an event may have synced meanwhile
                        now = time.monotonic()
                        if now - self._last_flush >= late and (
                                self._dirty or self._curve_due(now)):
                            self._flush_locked(now=now)
                    continue
                quiet += wait
                if quiet >= _QUIET_EXIT:
                    with self._lock:
                        if not (self._dirty or self._curve_dirty):
                            self._ticker = None  # the next event starts a new one
                            return
            except Exception as exc:  # a failing sync must be seen, and must not stop syncing
                report_callback_error("the SweepMonitor sync", exc)

    def _stop_ticker(self) -> None:
        with self._lock:
            ticker, self._ticker = self._ticker, None
            self._stop_tick.set()
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join()

    def _curve_due(self, now: float) -> bool:
        return self._curve_dirty and now - self._last_curve >= self.curve_interval

    def _elapsed(self) -> float:
        return time.monotonic() - self._t0 if self._started else 0.0

    def _flush_locked(self, force: bool = False, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        codes = self._codes.decode()
        elapsed = now - self._t0
        with self.hold_sync():
            self.statuses = codes
            self.done, self.failed = codes.count("d"), codes.count("f")
            self.skipped, self.running = codes.count("s"), codes.count("r")
            self.elapsed = round(elapsed, 3)
            self.eta = self._eta(elapsed, codes)
            if len(self._errors) != len(self.errors):
                self.errors = dict(self._errors)
            if len(self._devices) != len(self.devices):
                self.devices = dict(self._devices)
            if self._steps_dirty:
                self.progress = self._progress_json(codes)
                self._steps_dirty = False
            if self._curve_dirty and (force or self._curve_due(now)):
                self._sync_curve()
                self._curve_dirty, self._last_curve = False, now
        self._dirty = False
        self._last_flush = now

    def _sync_curve(self) -> None:
        shown = list(self._recent)[-self.max_curves:]
        curve, parts = {}, []
        for name, by_job in self._series.items():
            jobs = [(str(i), by_job[i]) for i in shown if i in by_job]
            curve[name] = {key: series.points() for key, series in jobs}
            inner = ",".join(f'"{key}":{series.text}' for key, series in jobs)
            parts.append(f"{json.dumps(name)}:{{{inner}}}")
        self._curve_json = (curve, "{" + ",".join(parts) + "}")
        names = list(self._series)
        if names != self.metrics:
            self.metrics = names
        if not self.metric and names:
            self.metric = names[0]
        self.curve = curve


def _curve_to_json(value: dict, widget: Any) -> str:
    cached = getattr(widget, "_curve_json", None)
    if cached is not None and cached[0] is value:  # the text built with this very dict
        return cached[1]
    return json.dumps(value)
