"""The SweepMonitor's state in plain Python: job statuses, steps, errors, metric series, ETA.

Events write into compact buffers (a ``bytearray`` of status codes, lists of steps,
``array('d')`` series thinned to a cap); nothing here syncs or displays. The widget
(:class:`~mushin_nb.notebook.widgets.SweepMonitor`) holds the lock and decides when the
state goes to the front-end.
"""

from __future__ import annotations

import json
import math
import operator
from array import array

from mushin_nb.errors import MushinRuntimeError, bad_value

#: One character per job status in :attr:`~mushin_nb.notebook.widgets.SweepMonitor.statuses`.
STATUS_CODES: dict[str, str] = {
    "queued": "q", "running": "r", "done": "d", "failed": "f", "skipped": "s",
}
_NAMES = {code: name for name, code in STATUS_CODES.items()}
_END_STATUSES = ("done", "failed", "skipped")
_MAX_ERROR = 4000  # characters of a traceback kept per failed job (its end matters most)
_MAX_METRICS = 12


class _Series:
    """One job's values of one metric, thinned to at most ``2 * cap`` kept points.

    The points are kept unboxed (``array('d')``): 16 bytes a point instead of about 64
    for two float objects in lists, and nothing for the garbage collector to walk.
    """

    __slots__ = ("xs", "ys", "cap", "stride", "seen", "last", "cache", "text")

    def __init__(self, cap: int) -> None:
        self.xs = array("d")
        self.ys = array("d")
        self.cap, self.stride, self.seen = cap, 1, 0
        self.last: tuple[float, float] | None = None
        self.cache: list[list[float]] | None = None
        self.text = "[]"  # JSON of ``cache``, so a sync only encodes the series that changed

    def add(self, x: float, y: float) -> None:
        if not self.seen % self.stride:
            xs = self.xs
            xs.append(x)
            self.ys.append(y)
            if len(xs) >= 2 * self.cap:  # halve: every other kept point survives
                self.xs, self.ys, self.stride = xs[::2], self.ys[::2], 2 * self.stride
        self.seen += 1
        self.last = (x, y)
        self.cache = None

    def points(self) -> list[list[float]]:
        if self.cache is None:
            step = max(1, math.ceil(len(self.xs) / self.cap))
            xs, ys = self.xs[::step], self.ys[::step]
            if self.last is not None and (not xs or xs[-1] != self.last[0]):
                xs.append(self.last[0])
                ys.append(self.last[1])
            self.cache = [[x, y] for x, y in zip(xs, ys)]
            # 6 significant digits: half the JSON of repr(), the same picture
            self.text = "[" + ",".join([f"[{x:.6g},{y:.6g}]" for x, y in zip(xs, ys)]) + "]"
        return self.cache


class _JobState:
    """The per-job buffers of a SweepMonitor and what they give: checked job indices,
    metric series, the running jobs' steps and the ETA.

    The widget creates the buffers (``_n``, ``_codes``, ``_steps``, ``_totals``,
    ``_series``, ``_recent``, ``_newest``, ``_started``) and calls these under its lock.
    """

    @property
    def steps(self) -> list[int | None]:
        """Each job's last reported step (None before its first report)."""
        with self._lock:
            return list(self._steps)

    @property
    def totals(self) -> list[int | None]:
        """Each job's reported total number of steps (None when not given)."""
        with self._lock:
            return list(self._totals)

    def _check(self, index: int) -> int:
        if not self._started:
            raise MushinRuntimeError("SweepMonitor got a job event before start(labels); "
                                     "call start() with the sweep's job labels first.")
        try:
            i = -1 if isinstance(index, bool) else operator.index(index)
        except TypeError:
            i = -1
        if not 0 <= i < self._n:
            raise bad_value("index", index, f"a job index in [0, {self._n})",
                            "pass the position of the job in start()'s labels")
        return i

    def _add_metrics(self, i: int, step: int | None, metrics: dict[str, float]) -> None:
        all_series = self._series
        for name, value in metrics.items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if value - value != 0.0:  # NaN or infinite: nothing to draw
                continue
            by_job = all_series.get(name)
            if by_job is None:
                if len(all_series) >= _MAX_METRICS:
                    continue
                by_job = all_series[name] = {}
            series = by_job.get(i)
            if series is None:
                series = by_job[i] = _Series(self.max_points)
            series.add(series.seen if step is None else step, value)
        if self._newest != i:  # keep _recent ordered by last report, cheaply
            self._recent.pop(i, None)
            self._recent[i] = None
            self._newest = i
        self._curve_dirty = True

    def _progress_json(self, codes: str) -> str:
        running = {}
        i = codes.find("r")
        while i >= 0:
            running[str(i)] = [self._steps[i], self._totals[i]]
            i = codes.find("r", i + 1)
        return json.dumps(running)

    def _eta(self, elapsed: float, codes: str) -> float | None:
        finished = codes.count("d") + codes.count("f")
        skipped = codes.count("s")
        partial = 0.0
        i = codes.find("r")
        while i >= 0:  # str.find hops over the many finished and queued jobs at C speed
            if self._totals[i] and self._steps[i] is not None:
                partial += min(1.0, max(0.0, self._steps[i] / self._totals[i]))
            i = codes.find("r", i + 1)
        work = finished + partial  # skipped jobs cost nothing, so they do not set the pace
        left = self._n - finished - skipped - partial
        if left <= 0:
            return 0.0
        return elapsed * left / work if work > 0 else None
