"""Investment rounds: budgets, the ranking of candidates, and who advances to the next round."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mushin_nb.errors import MushinTypeError, bad_value

__all__ = ["Rounds", "parse_rounds", "check_reduction", "advancing", "rank_key"]


@dataclass(frozen=True)
class Rounds:
    """Cumulative budgets per round, in epochs (``unit="epoch"``) or seconds."""

    unit: str
    budgets: tuple[float, ...]

    def reached(self, round_: int, epochs: int, seconds: float) -> bool:
        """Whether a run with ``epochs`` done in ``seconds`` has spent round ``round_``'s budget."""
        done = epochs if self.unit == "epoch" else seconds
        return done >= self.budgets[round_]

    def total(self, round_: int) -> int | None:
        """The epoch count a run ends round ``round_`` with, for progress bars (None for time)."""
        return int(self.budgets[round_]) if self.unit == "epoch" else None

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "budgets": list(self.budgets)}


def parse_rounds(rounds: Any) -> Rounds:
    """Check ``rounds`` (cumulative epoch counts or ``timedelta``\\ s) and return them.

    Examples
    --------
    >>> parse_rounds([1, 3, 9])
    Rounds(unit='epoch', budgets=(1, 3, 9))
    >>> parse_rounds([timedelta(seconds=1), timedelta(seconds=4)]).budgets
    (1.0, 4.0)
    """
    fix = "e.g. rounds=[1, 3, 9] (epochs) or [timedelta(minutes=1), timedelta(minutes=4)]"
    if isinstance(rounds, (str, bytes)) or not isinstance(rounds, Sequence) or not rounds:
        raise bad_value("rounds", rounds, "a non-empty list of cumulative budgets", fix,
                        cls=MushinTypeError)
    is_time = [isinstance(r, timedelta) for r in rounds]
    is_epochs = [isinstance(r, numbers.Integral) and not isinstance(r, bool) for r in rounds]
    if any(is_time) and any(is_epochs):
        raise bad_value("rounds", rounds, "all epoch counts or all timedeltas, not a mix", fix)
    if not all(is_time) and not all(is_epochs):
        raise bad_value("rounds", rounds, "a list of ints (epochs) or of timedeltas", fix,
                        cls=MushinTypeError)
    unit = "second" if all(is_time) else "epoch"
    budgets = tuple(r.total_seconds() if unit == "second" else int(r) for r in rounds)
    if budgets[0] <= 0:
        raise bad_value("rounds", rounds, "positive budgets", fix)
    if any(b <= a for a, b in zip(budgets, budgets[1:])):
        raise bad_value("rounds", rounds, "strictly increasing (the budgets are cumulative)",
                        "e.g. rounds=[1, 3, 9]: 1 epoch, then up to 3, then up to 9")
    return Rounds(unit, budgets)


def check_reduction(reduction: Any) -> float:
    """Check ``reduction``: a finite number above 1 (4 keeps the best quarter)."""
    if isinstance(reduction, bool) or not isinstance(reduction, numbers.Real):
        raise bad_value("reduction", reduction, "a number > 1", "e.g. reduction=4",
                        cls=MushinTypeError)
    if not (math.isfinite(reduction) and reduction > 1):
        raise bad_value("reduction", reduction, "a finite number > 1",
                        "e.g. reduction=4 keeps the best quarter each round")
    return float(reduction)


def advancing(n: int, reduction: float) -> int:
    """How many of ``n`` candidates advance to the next round: ``ceil(n / reduction)``.

    Examples
    --------
    >>> [advancing(n, 4) for n in (27, 7, 2, 1)]
    [7, 2, 1, 1]
    """
    return math.ceil(n / reduction)


def rank_key(index: int, value: float | None, failed: bool, round_: int = 0) -> tuple[Any, ...]:
    """Sort key, best first: healthy before failed, higher metric, later round, lower index."""
    if value is None or math.isnan(value):
        return (failed, True, 0.0, -round_, index)
    return (failed, False, -float(value), -round_, index)

