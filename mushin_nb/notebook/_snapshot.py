"""Snapshot: a static picture of a sweep's state, HTML for notebooks and text elsewhere.

The SweepMonitor leaves one in the notebook when the sweep ends, so nbconvert and GitHub
show the sweep without a kernel.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from mushin_nb.notebook._monitor_state import _NAMES, STATUS_CODES

_COLOURS = {"q": "#d0d4da", "r": "#1e88e5", "d": "#43a047", "f": "#e53935", "s": "#9e9e9e"}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Snapshot:
    """A static picture of a sweep's state: HTML for notebooks, plain text elsewhere.

    Everything taken from the sweep (title, labels, errors) is HTML-escaped.
    """

    def __init__(self, title: str, labels: Sequence[str], statuses: str,
                 errors: dict[str, str], elapsed: float, ok: bool = True,
                 finished: bool = True) -> None:
        self.title, self.labels, self.statuses = title, list(labels), statuses
        self.errors, self.elapsed, self.ok, self.finished = errors, elapsed, ok, finished

    def counts(self) -> dict[str, int]:
        """Number of jobs per status name."""
        return {name: self.statuses.count(code) for name, code in STATUS_CODES.items()}

    def _headline(self) -> str:
        c = self.counts()
        return (f"{len(self.statuses)} jobs, {c['done']} done, {c['failed']} failed, "
                f"{c['skipped']} skipped, {c['running']} running, {c['queued']} queued")

    def __str__(self) -> str:
        lines = [f"{self.title or 'sweep'}: {self._headline()}"]
        for key, error in self._messages():
            first = error.strip().splitlines()[-1] if error.strip() else ""
            lines.append(f"  {self._status(key)} {self.labels[int(key)]}: {first}")
        return "\n".join(lines)

    def _messages(self) -> list[tuple[str, str]]:
        """(job index, text) of the jobs with an error or a reason, in job order."""
        return sorted(self.errors.items(), key=lambda kv: int(kv[0]))

    def _status(self, key: str) -> str:
        i = int(key)
        return _NAMES.get(self.statuses[i], "failed") if i < len(self.statuses) else "failed"

    def __repr__(self) -> str:
        return str(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": str(self), "text/html": self._repr_html_()}

    def _repr_html_(self) -> str:
        esc = html.escape
        state = "finished" if self.finished else "running"
        if self.finished and not self.ok:
            state = "stopped with errors"
        cells = "".join(
            f'<span title="{esc(label)}: {_NAMES[code]}" style="display:inline-block;'
            f'width:10px;height:10px;margin:1px;border-radius:2px;'
            f'background:{_COLOURS[code]}"></span>'
            for label, code in zip(self.labels, self.statuses)
        )
        legend = " ".join(
            f'<span style="color:{_COLOURS[code]}">&#9632;</span> {name} {count}'
            for (name, count), code in zip(self.counts().items(), STATUS_CODES.values())
        )
        messages = self._messages()
        rows = "".join(
            f"<tr><td style='text-align:left;vertical-align:top'>{esc(self.labels[int(k)])}"
            f" ({self._status(k)})</td><td style='text-align:left'>"
            f"<pre style='margin:0;white-space:pre-wrap'>{esc(v)}</pre></td></tr>"
            for k, v in messages
        )
        kinds = [self._status(k) for k, _ in messages]
        what = ", ".join(f"{kinds.count(kind)} {kind}" for kind in dict.fromkeys(kinds))
        failures = (f"<details><summary>{what} job(s)</summary>"
                    f"<table><tr><th>job</th><th>error or reason</th></tr>{rows}</table>"
                    "</details>" if rows else "")
        return (
            f'<div class="mushin-snapshot" style="font-family:sans-serif;font-size:13px">'
            f"<div><b>{esc(self.title or 'sweep')}</b>: {esc(self._headline())} "
            f"({state}, {_duration(self.elapsed)})</div>"
            f'<div style="max-width:760px;line-height:0;margin:4px 0">{cells}</div>'
            f"<div>{legend}</div>{failures}"
            f"<pre style='display:none'>{esc(str(self))}</pre></div>"
        )

