"""Results of a tuning: candidates sorted best-first, with tables (pandas) and arrays (xarray).

A candidate's *metric value* is the tuned metric at its *best* epoch (not its last), the
curve being the mean over seeds when ``seeds`` were given.  Failed candidates rank last.
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, overload

from mushin_nb.tune._params import Params
from mushin_nb.tune._schedule import rank_key

__all__ = ["Epoch", "Run", "Candidate", "TuneResults"]


@dataclass(frozen=True)
class Epoch:
    """One epoch of one run (for a SimpleTrainer: its single fit, epoch 0)."""

    epoch: int
    metric_values: Mapping[str, float]
    duration: timedelta
    checkpoint: Path


@dataclass(frozen=True)
class Run:
    """The training of one candidate on one seed (``seed`` is None without ``seeds``)."""

    seed: int | None
    epochs: tuple[Epoch, ...]
    error: str | None = None
    traceback: str | None = None


@dataclass(frozen=True, eq=False)
class Candidate:
    """One candidate configuration and everything its runs produced."""

    index: int
    params: Params
    round: int
    runs: tuple[Run, ...]
    metric: str

    @property
    def failed(self) -> bool:
        """Whether any of its runs raised (the candidate then ranks last)."""
        return any(run.error is not None for run in self.runs)

    @property
    def error(self) -> str | None:
        """The first error message among its runs, or None."""
        return next((run.error for run in self.runs if run.error is not None), None)

    @cached_property
    def metric_values(self) -> list[dict[str, float]]:
        """Metric values per epoch, averaged over seeds (epochs that every seed reached)."""
        n = min(len(run.epochs) for run in self.runs)
        curve = []
        for e in range(n):
            names = dict.fromkeys(k for run in self.runs for k in run.epochs[e].metric_values)
            curve.append({name: statistics.fmean(
                run.epochs[e].metric_values[name] for run in self.runs
                if name in run.epochs[e].metric_values) for name in names})
        return curve

    @property
    def epochs(self) -> int:
        """Number of epochs trained (on every seed)."""
        return len(self.metric_values)

    @cached_property
    def best_epoch(self) -> int | None:
        """Index of the epoch with the highest metric value (the first on ties)."""
        values = [e[self.metric] for e in self.metric_values]
        finite = [i for i, v in enumerate(values) if not math.isnan(v)]
        return max(finite, key=lambda i: values[i]) if finite else None

    @property
    def metric_value(self) -> float:
        """The tuned metric at the best epoch (mean over seeds); NaN when nothing finished."""
        if self.best_epoch is None:
            return math.nan
        return self.metric_values[self.best_epoch][self.metric]

    @property
    def best_epoch_metrics(self) -> dict[str, float]:
        """All metric values at the best epoch."""
        return {} if self.best_epoch is None else dict(self.metric_values[self.best_epoch])

    @property
    def last_epoch_metrics(self) -> dict[str, float]:
        """All metric values at the last epoch."""
        return dict(self.metric_values[-1]) if self.metric_values else {}

    @property
    def durations(self) -> list[timedelta]:
        """Training time of each epoch, summed over seeds."""
        n = max(len(run.epochs) for run in self.runs)
        return [sum((run.epochs[e].duration for run in self.runs if e < len(run.epochs)),
                    timedelta()) for e in range(n)]

    @property
    def duration(self) -> timedelta:
        """Total training time of this candidate (all epochs, all seeds)."""
        return sum(self.durations, timedelta())

    @property
    def checkpoints(self) -> dict[int | None, Path]:
        """Checkpoint of the best epoch, per seed."""
        if self.best_epoch is None:
            return {}
        return {run.seed: run.epochs[self.best_epoch].checkpoint for run in self.runs}

    @property
    def checkpoint(self) -> Path | None:
        """Checkpoint of the best epoch (of the first seed when there are several)."""
        return next(iter(self.checkpoints.values()), None)

    def __repr__(self) -> str:
        state = f"failed: {self.error}" if self.failed else f"{self.metric}={self.metric_value:.6g}"
        return (f"<Candidate #{self.index} round {self.round}, {self.epochs} epochs; {state}; "
                f"{self.params!r}>")


class TuneResults(Sequence[Candidate]):
    """All candidates of a tuning, best first: ``results[0]`` is ``results.best``.

    Attributes
    ----------
    metric : str
        The tuned metric (greater is better).
    working_dir : Path
        Where the tuning's records and checkpoints live.
    seeds : tuple of int, or None
    kind : str
        ``"epoch"`` (EpochTrainer) or ``"simple"`` (SimpleTrainer).
    """

    def __init__(self, candidates: Sequence[Candidate], *, metric: str, working_dir: Path,
                 seeds: Sequence[int] | None, kind: str) -> None:
        self._candidates = tuple(sorted(
            candidates, key=lambda c: rank_key(c.index, c.metric_value, c.failed, c.round)))
        self.metric = metric
        self.working_dir = working_dir
        self.seeds = tuple(seeds) if seeds is not None else None
        self.kind = kind

    @overload
    def __getitem__(self, index: int) -> Candidate: ...

    @overload
    def __getitem__(self, index: slice) -> list[Candidate]: ...

    def __getitem__(self, index: int | slice) -> Candidate | list[Candidate]:
        if isinstance(index, slice):
            return list(self._candidates[index])
        return self._candidates[index]

    def __len__(self) -> int:
        return len(self._candidates)

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self._candidates)

    @property
    def best(self) -> Candidate:
        """The best candidate."""
        return self._candidates[0]

    @property
    def metric_value(self) -> float:
        """The best candidate's metric value."""
        return self.best.metric_value

    @property
    def errors(self) -> tuple[Candidate, ...]:
        """The candidates that failed (each with ``.error``), in index order."""
        return tuple(sorted((c for c in self if c.failed), key=lambda c: c.index))

    def __repr__(self) -> str:
        failed = f", {len(self.errors)} failed" if self.errors else ""
        return (f"<TuneResults: {len(self)} candidates{failed}; best {self.metric}="
                f"{self.best.metric_value:.6g} with {self.best.params!r}>")

    def _repr_html_(self) -> str:
        table = self.to_df().to_html(max_rows=20, escape=True)
        return f"<p>{html.escape(repr(self))}</p>{table}"

    def to_df(self) -> Any:
        """One row per candidate, best first, with flat columns as in letstune.

        Columns: ``candidate``, ``params.<name>``, ``metric_value``; for an EpochTrainer
        ``round``, ``epochs``, ``best_epoch``, ``best_epoch_metrics.<m>``,
        ``last_epoch_metrics.<m>``; for a SimpleTrainer ``metrics.<m>``; then ``duration``
        (timedelta), ``checkpoint`` and ``error``.  With seeds, metrics are means over seeds.
        """
        import pandas as pd

        rows = []
        for c in self:
            row: dict[str, Any] = {"candidate": c.index}
            row.update({f"params.{k}": v for k, v in c.params.items()})
            row["metric_value"] = c.metric_value
            if self.kind == "epoch":
                row.update(round=c.round, epochs=c.epochs, best_epoch=c.best_epoch)
                row.update({f"best_epoch_metrics.{k}": v for k, v in c.best_epoch_metrics.items()})
                row.update({f"last_epoch_metrics.{k}": v for k, v in c.last_epoch_metrics.items()})
            else:
                row.update({f"metrics.{k}": v for k, v in c.best_epoch_metrics.items()})
            row.update(duration=c.duration,
                       checkpoint=str(c.checkpoint) if c.checkpoint else None, error=c.error)
            rows.append(row)
        columns = list(dict.fromkeys(k for row in rows for k in row))
        tail = ["duration", "checkpoint", "error"]  # a failed first row must not reorder these
        columns = [k for k in columns if k not in tail] + tail
        return pd.DataFrame(rows, columns=columns)

    def to_xarray(self) -> Any:
        """Every metric of every run as an ``xarray.Dataset``.

        Dimensions ``candidate`` (best first; its coordinate is the candidate's index),
        ``epoch`` (EpochTrainer only) and ``seed`` (with seeds).  One variable per metric
        plus ``duration`` (seconds; ``duration_seconds`` if a metric has that name); per
        candidate ``metric_value``, ``round``, ``best_epoch`` and ``failed``.  Parameters
        are coordinates along ``candidate`` (prefixed ``param_`` where a name is taken).
        NaN where a run has no such epoch.
        """
        import numpy as np
        import xarray as xr

        epochs = self.kind == "epoch"
        n_epochs = max((len(r.epochs) for c in self for r in c.runs), default=0)
        seeds = list(self.seeds) if self.seeds is not None else [None]
        names = list(dict.fromkeys(k for c in self for r in c.runs for e in r.epochs
                                   for k in e.metric_values))
        shape = (len(self), n_epochs if epochs else 1, len(seeds))
        timing = "duration" if "duration" not in names else "duration_seconds"
        values = {name: np.full(shape, np.nan) for name in [*names, timing]}
        for i, c in enumerate(self):
            for s, run in enumerate(c.runs):
                for e, ep in enumerate(run.epochs):
                    for name, v in ep.metric_values.items():
                        values[name][i, e, s] = v
                    values[timing][i, e, s] = ep.duration.total_seconds()
        dims = ["candidate", "epoch", "seed"]
        squeeze = tuple(ax for ax, keep in ((1, epochs), (2, self.seeds is not None)) if not keep)
        dims = [d for ax, d in enumerate(dims) if ax not in squeeze]
        data = {name: (dims, arr.squeeze(axis=squeeze) if squeeze else arr)
                for name, arr in values.items()}
        data["metric_value"] = (["candidate"], np.array([c.metric_value for c in self]))
        data["failed"] = (["candidate"], np.array([c.failed for c in self]))
        if epochs:
            data["round"] = (["candidate"], np.array([c.round for c in self]))
            data["best_epoch"] = (["candidate"], np.array(
                [np.nan if c.best_epoch is None else c.best_epoch for c in self]))
        coords: dict[str, Any] = {"candidate": [c.index for c in self]}
        if epochs:
            coords["epoch"] = np.arange(n_epochs)
        if self.seeds is not None:
            coords["seed"] = list(self.seeds)
        for key in dict.fromkeys(k for c in self for k in c.params):
            name = f"param_{key}" if key in data or key in coords else key
            column = [c.params.get(key) for c in self]
            coords[name] = ("candidate", _column(column))
        attrs = {"metric": self.metric, "kind": self.kind, "working_dir": str(self.working_dir)}
        return xr.Dataset(data, coords=coords, attrs=attrs)


def _column(values: list[Any]) -> Any:
    import numpy as np

    scalar = all(v is None or isinstance(v, (bool, int, float, str)) for v in values)
    if scalar and len({type(v) for v in values}) == 1:
        return np.array(values)
    out = np.empty(len(values), dtype=object)  # mixed or structured values stay as objects
    out[:] = values
    return out
