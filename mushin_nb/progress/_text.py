"""Sinks with no widget: nothing shown (NullProgress), or a tqdm bar over jobs (TextProgress)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from typing import Any


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
            from mushin_nb.progress._poller import EventPoller  # lazy: threads only when watched

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
