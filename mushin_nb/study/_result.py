"""What a Study run gives back: its BenchmarkResult, naming the trainings that failed."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, NamedTuple

from mushin_nb.compare import BenchmarkResult


class TrainingFailure(NamedTuple):
    """One (method, seed) pair whose training failed, as listed by ``Study.failures``."""

    method: str
    seed: int
    error: str
    traceback_path: str | None


class StudyResult(BenchmarkResult):
    """The :class:`~mushin_nb.compare.BenchmarkResult` of a Study, naming what is missing.

    Its text and HTML displays end with the (method, seed) pairs whose training failed
    (left out of the comparison); ``missing`` lists them as ``(method, seed, error)``.
    """

    def __init__(self, data: Any, comparisons: Any, summary: Any,
                 missing: Sequence[tuple[str, int, str]] = ()) -> None:
        super().__init__(data, comparisons, summary)
        self.missing = [tuple(item) for item in missing]

    def _missing_line(self) -> str:
        pairs = "; ".join(f"{m}/seed={s} ({why})" for m, s, why in self.missing)
        return f"missing (no checkpoint, left out): {pairs}" if pairs else ""

    def __repr__(self) -> str:
        line = self._missing_line()
        return super().__repr__() + (f"\n{line}" if line else "")

    def _repr_html_(self) -> str:
        page, line = super()._repr_html_(), self._missing_line()
        if not line:
            return page
        note = f"<p class='mushin-missing'>{html.escape(line)}</p>"
        return page[:-6] + note + "</div>" if page.endswith("</div>") else page + note
