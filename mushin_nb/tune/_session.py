"""One tuning's jobs (candidate x seed) and the session that trains them round by round.

All bookkeeping (records, checkpoints, selections, progress, errors) lives here; the
trainer only trains.  With a launcher, the jobs run in sweeps (see :mod:`._launched`):
a sweep of workers that share every round out (:class:`TuneWorker`), or one sweep a
round (:class:`RoundTask`), each in a session rebuilt by :func:`worker_session`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import statistics
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mushin_nb.errors import MushinKeyError, MushinTypeError, MushinValueError, bad_value, describe
from mushin_nb.progress import EventFileSink, job_context, report
from mushin_nb.tune._launched import Launch, run_round, run_workers
from mushin_nb.tune._params import Params, jsonable
from mushin_nb.tune._results import Candidate, Epoch, Run, TuneResults
from mushin_nb.tune._schedule import Rounds, advancing, rank_key
from mushin_nb.tune._store import Store, write_atomically
from mushin_nb.tune._trainer import Checkpoint

__all__ = ["RoundTask", "Session", "TuneWorker", "worker_session"]

@dataclass
class Job:
    """One candidate on one seed: the unit of training, of records and of progress."""

    index: int
    candidate: int
    seed: int | None
    name: str
    params: Params
    record: dict[str, Any]
    ended: bool = False
    started: bool = False

    @property
    def failed(self) -> bool:
        return self.record["error"] is not None

    @property
    def epochs(self) -> int:
        return len(self.record["epochs"])

    @property
    def seconds(self) -> float:
        return math.fsum(e["seconds"] for e in self.record["epochs"])


def _label(index: int, params: Mapping[str, Any], seed: int | None) -> str:
    shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in params.items() if k != "create_model")
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"#{index} {shown}" + ("" if seed is None else f" seed={seed}")


class Session:
    """One call of tune(): the jobs, the lazily prepared trainer clone, and the rounds."""

    def __init__(self, clone: Callable[[], Any], dataset: Any, metric: str, schedule: Rounds | None,
                 reduction: float, seeds: list[int] | None, candidates: list[dict[str, Any]],
                 store: Store, state: dict[str, Any], passthrough: bool) -> None:
        self.clone, self.dataset, self.metric = clone, dataset, metric
        self.schedule, self.reduction, self.store, self.state = schedule, reduction, store, state
        self.seeds, self.candidates, self.passthrough = seeds, candidates, passthrough
        self.trainer: Any = None
        self.sink: Any = None
        self.launch: Launch | None = None
        self.own_context = True  # False in a sweep job: report() goes to the sweep's job
        self.round = 0
        self.jobs: list[Job] = []
        for c, cand in enumerate(candidates):
            for s in (seeds if seeds is not None else [None]):
                name = f"c{c:04d}" if s is None else f"c{c:04d}-seed{s}"
                record = store.load_record(name) or {
                    "candidate": c, "seed": s, "params": jsonable(cand), "epochs": [],
                    "error": None}
                job_params = Params(cand if s is None else {**cand, "seed": s})
                self.jobs.append(Job(len(self.jobs), c, s, name, job_params, record))

    # -- bookkeeping -----------------------------------------------------------------------

    def launched(self, launch: Launch, blob: bytes, progress: Any) -> None:
        """Run the rounds through ``launch`` (a sweep per round) instead of in this process."""
        self.launch, self.blob, self.progress = launch, blob, progress
        self.settings = {"dataset": self.dataset, "metric": self.metric,
                         "schedule": self.schedule, "reduction": self.reduction,
                         "seeds": self.seeds, "candidates": self.candidates,
                         "root": str(self.store.root), "passthrough": self.passthrough}

    def by_name(self, name: str) -> Job:
        return next(job for job in self.jobs if job.name == name)

    def context(self, job: Job) -> Any:
        if not self.own_context:
            return contextlib.nullcontext()
        return job_context(job.index, self.store.job_dir(job.name), self.sink)

    def run_launched(self, jobs: list[Job]) -> None:
        """Train ``jobs`` to this round's budget as one sweep, then read their records."""
        assert self.launch is not None
        for job in jobs:
            if not job.started:
                job.started = True
                self.sink.job_start(job.index)
        run_round(self.launch, RoundTask(self.blob, self.settings, self.round), self.round,
                  [j.name for j in jobs], self.store.root, self.progress, self.costs(jobs))
        for job in jobs:
            job.record = self.store.load_record(job.name) or job.record
            if job.failed:
                self.end(job, "failed", job.record["error"]["message"])
                for sibling in self.jobs_of(job.candidate):
                    self.end(sibling, "done" if sibling.epochs else "skipped")

    def costs(self, jobs: list[Job]) -> list[float] | None:
        """Each job's expected seconds to this round's budget (see :meth:`expected`), a job
        not yet timed at the median measured rate; None while no job was timed."""
        if self.schedule is None:
            return None
        rates = [j.seconds / j.epochs for j in jobs if j.epochs]
        if self.schedule.unit == "epoch" and not rates:
            return None
        typical = statistics.median(rates) if rates else 0.0
        return [self.expected(self.round, job, typical) for job in jobs]

    def jobs_of(self, candidate: int) -> list[Job]:
        per = len(self.seeds) if self.seeds is not None else 1
        return self.jobs[candidate * per:(candidate + 1) * per]

    def failed(self, candidate: int) -> bool:
        return any(job.failed for job in self.jobs_of(candidate))

    def end(self, job: Job, status: str, error: str | None = None) -> None:
        if not job.ended:
            job.ended = True
            self.sink.job_end(job.index, status, error)

    def prepared(self) -> Any:
        """The trainer clone, with its dataset loaded on first use (never when all is done)."""
        if self.trainer is None:
            trainer = self.clone()
            trainer.load_dataset(self.dataset)
            self.trainer = trainer
        return self.trainer

    def attempt(self, job: Job, fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        """Run user code for ``job``; an exception fails the candidate unless passed through."""
        try:
            return True, fn(*args)
        except Exception as exc:
            if self.passthrough:
                raise
            self.fail(job, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            return False, None

    def fail(self, job: Job, message: str, trace: str | None = None) -> None:
        job.record["error"] = {"message": message, "traceback": trace}
        self.store.save_record(job.name, job.record)
        self.end(job, "failed", message)
        for sibling in self.jobs_of(job.candidate):  # one failed seed fails the candidate
            self.end(sibling, "done" if sibling.epochs else "skipped")

    def checked(self, values: Any, where: str) -> dict[str, float]:
        """The metric dict a trainer returned, as floats; contract violations raise at once."""
        if not isinstance(values, Mapping):
            raise bad_value(f"{where} return value", values, "a dict of metric values",
                            f"return e.g. {{{self.metric!r}: 0.9}}", cls=MushinTypeError)
        if self.metric not in values:
            raise MushinKeyError(
                f"`{where}` must return the tuned metric {self.metric!r} (trainer.metric), "
                f"got keys {sorted(map(str, values))}. Fix: add {self.metric!r} to the "
                f"returned dict, or set the trainer's metric to one of these keys.")
        out = {}
        for key, value in values.items():
            try:
                out[str(key)] = float(value)
            except (TypeError, ValueError, RuntimeError):
                raise bad_value(f"{where}[{key!r}]", value, "a number (float, int, 0-d array)",
                                "return scalar metric values", cls=MushinTypeError) from None
        return out

    def finite(self, job: Job, values: dict[str, float], where: str) -> bool:
        """A non-finite tuned metric fails the candidate (or raises with passthrough_errors)."""
        value = values[self.metric]
        if math.isfinite(value):
            return True
        error = MushinValueError(
            f"`{where}` must return a finite {self.metric!r}, got {describe(value)}. Fix: "
            "the training diverged or the metric is undefined; this candidate ranks last.")
        if self.passthrough:
            raise error
        self.fail(job, f"MushinValueError: {error}")
        return False

    def add_epoch(self, job: Job, values: dict[str, float], start: float, seconds: float
                  ) -> None:
        job.record["epochs"].append({"epoch": job.epochs, "metrics": values, "start": start,
                                     "seconds": seconds})
        self.store.save_record(job.name, job.record)
        report(step=job.epochs, total=self.schedule.total(self.round) if self.schedule else 1,
               **{k: v for k, v in values.items() if k not in {"step", "total"}})

    def save_checkpoint(self, job: Job, save: Callable[[Checkpoint], None],
                        epoch: int | None) -> bool:
        path = self.store.checkpoint_path(job.name, epoch)
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, _ = self.attempt(job, write_atomically, path, lambda tmp: save(Checkpoint(tmp)))
        return ok

    # -- running ---------------------------------------------------------------------------

    def run(self, sink: Any) -> None:
        self.sink = sink
        labels = [_label(j.candidate, j.params if j.seed is None else
                         {k: v for k, v in j.params.items() if k != "seed"}, j.seed)
                  for j in self.jobs]
        sink.start(labels, title=f"tune {len(self.candidates)} candidates")
        ok = False
        try:
            if self.schedule is None:
                self.run_simple()
            else:
                self.run_rounds()
            ok = not any(job.failed for job in self.jobs)
        finally:
            sink.close(ok=ok)

    def run_simple(self) -> None:
        self.round = 0
        if not self.state["selections"]:
            self.state["selections"] = [list(range(len(self.candidates)))]
            self.store.save_state(self.state)
        if self.launch is not None:
            todo = [job for job in self.jobs if not job.epochs and not job.failed]
            if todo:
                self.run_launched(todo)
        for job in self.jobs:
            if job.failed or self.failed(job.candidate):
                self.end(job, "failed" if job.failed else "skipped",
                         job.record["error"]["message"] if job.failed else None)
            elif job.epochs and (self.launch is None or not job.started):
                self.end(job, "skipped")
            else:
                if self.launch is None:
                    self.fit(job)
                self.end(job, "done")

    def fit(self, job: Job) -> None:
        trainer = self.prepared()
        self.sink.job_start(job.index)
        with self.context(job):
            start, t0 = time.time(), time.perf_counter()
            ok, out = self.attempt(job, trainer.train, job.params)
            seconds = time.perf_counter() - t0
            if not ok:
                return
            if not (isinstance(out, tuple) and len(out) == 2):
                raise bad_value("train() return value", out, "a tuple (model, metric_values)",
                                "end train() with `return model, {'accuracy': acc}`",
                                cls=MushinTypeError)
            model, values = out[0], self.checked(out[1], "train()")
            if not self.finite(job, values, "train()"):
                return
            if self.save_checkpoint(job, lambda ckpt: trainer.save(ckpt, model), None):
                self.add_epoch(job, values, start, seconds)

    def run_rounds(self) -> None:
        assert self.schedule is not None
        selections: list[list[int]] = self.state["selections"]
        if not selections:
            selections.append(list(range(len(self.candidates))))
            self.store.save_state(self.state)
        last = len(self.schedule.budgets) - 1
        self.round = len(selections) - 1
        self.announce_finished(selections, last)
        if self.launch is not None and self.launch.slots is not None:
            self.run_workers()
            return
        while True:
            if self.launch is not None:
                todo = [job for _, job in self.work_of(self.round, selections[self.round])]
                if todo:
                    self.run_launched(todo)
            for c in selections[self.round] if self.launch is None else ():
                for job in self.jobs_of(c):
                    if self.failed(c):
                        break
                    if not self.schedule.reached(self.round, job.epochs, job.seconds):
                        self.train_round(job)
            if self.round == last:
                break
            entrants = selections[self.round]
            ranked = sorted(entrants, key=lambda c: self.rank(c))
            keep = advancing(len(entrants), self.reduction)
            selections.append(sorted(ranked[:keep]))
            self.store.save_state(self.state)
            for c in ranked[keep:]:
                for job in self.jobs_of(c):
                    self.end(job, "done")
            self.round += 1
        for job in self.jobs:
            self.end(job, "done")

    def run_workers(self) -> None:
        """Every round left in one sweep of the launcher's workers, which share the jobs
        out and choose who advances from the records (see :class:`TuneWorker`)."""
        assert self.launch is not None and self.schedule is not None
        for job in self.jobs:
            if not job.ended:
                events = self.store.events_path(job.name)
                events.unlink(missing_ok=True)  # a resumed job starts a fresh stream
                self.sink.watch(job.index, events)  # its epochs, from the worker training it
                if not job.started:
                    job.started = True
                    self.sink.job_start(job.index)
        run_workers(self.launch, TuneWorker(self.blob, self.settings), self.store.root)
        self.refresh()
        self.round = len(self.state["selections"]) - 1
        for job in self.jobs:
            if job.failed:
                self.end(job, "failed", job.record["error"]["message"])
            elif self.failed(job.candidate):
                self.end(job, "done" if job.epochs else "skipped")
        for job in self.jobs:
            self.end(job, "done")

    # -- shared rounds (a fixed set of workers over the tuning's files) ---------------------

    def refresh(self) -> None:
        """Every job's record and the selections, as the files hold them now."""
        for job in self.jobs:
            job.record = self.store.load_record(job.name) or job.record
        self.state.clear()
        self.state.update(self.store.load_state() or {})

    def open_work(self) -> list[tuple[int, Job]] | None:
        """The (round, job) pairs left to train now, the costliest first; None when the
        last round is done.

        Before a round is done, the next round's training starts for the candidates sure
        to advance: those that no unfinished candidate can push out of the kept ones (a
        finished candidate ranked ``q`` among the finished ends at most ``q + unfinished``
        among all), so the workers never idle while such work is left.
        """
        assert self.schedule is not None
        selections = self.state["selections"]
        current, last = len(selections) - 1, len(self.schedule.budgets) - 1
        entrants = selections[current]
        work = self.work_of(current, entrants)
        if current < last:
            unfinished = {job.candidate for _, job in work}
            keep = advancing(len(entrants), self.reduction)
            done = sorted((c for c in entrants if c not in unfinished),
                          key=lambda c: self.rank_at(c, current))
            sure = [c for q, c in enumerate(done) if q + len(unfinished) < keep]
            work += self.work_of(current + 1, sure)
        elif not work:
            return None
        return sorted(work, key=lambda item: -self.expected(*item))

    def work_of(self, round_: int, candidates: list[int]) -> list[tuple[int, Job]]:
        """The jobs of ``candidates`` short of round ``round_``'s budget (none of a failed
        candidate's)."""
        assert self.schedule is not None
        return [(round_, job) for c in candidates if not self.failed(c)
                for job in self.jobs_of(c)
                if not self.schedule.reached(round_, job.epochs, job.seconds)]

    def expected(self, round_: int, job: Job, untimed: float = 0.0) -> float:
        """The seconds ``job`` still needs to reach round ``round_``'s budget: the time left
        of a time budget, or the epochs left at the job's measured seconds per epoch
        (``untimed`` while none of its epochs was timed)."""
        assert self.schedule is not None
        budget = self.schedule.budgets[round_]
        if self.schedule.unit == "second":
            return max(budget - job.seconds, 0.0)
        rate = job.seconds / job.epochs if job.epochs else untimed
        return max(budget - job.epochs, 0) * rate

    def rank_at(self, c: int, round_: int) -> tuple[Any, ...]:
        """``rank(c)`` as it stood when candidate ``c`` reached round ``round_``'s budget:
        the epochs trained since (for a candidate sure to advance) and an error in them
        left out, so the ranking is the one in-process tuning makes at that round's end."""
        assert self.schedule is not None
        jobs = self.jobs_of(c)
        saved = [job.record for job in jobs]
        try:
            for job in jobs:
                job.record = _as_of(job.record, self.schedule, round_)
            return self.rank(c)
        finally:
            for job, record in zip(jobs, saved):
                job.record = record

    def select_next(self) -> bool:
        """Add the next round's selection when the current round is done; True if added
        (or when another worker already has).

        Every worker computes the same selection from the records (ranked as of the
        round's end), so a write needs no lease: the check against the file only keeps a
        slow worker from writing over a later round's selection, and should one still do
        so, the next look finds that round done and writes the same selection again.
        """
        assert self.schedule is not None
        selections = self.state["selections"]
        current = len(selections) - 1
        entrants = selections[current]
        if current == len(self.schedule.budgets) - 1 or self.work_of(current, entrants):
            return False
        ranked = sorted(entrants, key=lambda c: self.rank_at(c, current))
        selections.append(sorted(ranked[:advancing(len(entrants), self.reduction)]))
        on_disk = self.store.load_state() or {}
        if len(on_disk.get("selections", [])) == current + 1:
            self.store.save_state(self.state)
        return True

    def announce_finished(self, selections: list[list[int]], last: int) -> None:
        """On resume, close the jobs that earlier calls already finished."""
        current = set(selections[-1])
        complete = len(selections) - 1 == last
        for job in self.jobs:
            if job.failed:
                self.end(job, "failed", job.record["error"]["message"])
            elif self.failed(job.candidate) or job.candidate not in current or (
                    complete and self.schedule.reached(last, job.epochs, job.seconds)):
                self.end(job, "skipped")

    def rank(self, c: int) -> tuple[Any, ...]:
        cand = self.candidate(c)
        return rank_key(c, cand.metric_value, cand.failed)

    def train_round(self, job: Job) -> None:
        """Train ``job`` up to this round's budget, continuing from its last checkpoint."""
        assert self.schedule is not None
        trainer = self.prepared()
        if not job.started:
            job.started = True
            self.sink.job_start(job.index)
        with self.context(job):
            if job.epochs == 0:
                ok, _ = self.attempt(job, trainer.create_model, job.params)
            else:
                ckpt = Checkpoint(self.store.checkpoint_path(job.name, job.epochs - 1))
                ok, _ = self.attempt(job, trainer.load, ckpt, job.params)
            while ok and not self.schedule.reached(self.round, job.epochs, job.seconds):
                epoch = job.epochs
                start, t0 = time.time(), time.perf_counter()
                ok, values = self.attempt(job, trainer.train_epoch, epoch)
                seconds = time.perf_counter() - t0
                if not ok:
                    break
                values = self.checked(values, "train_epoch()")
                ok = (self.finite(job, values, "train_epoch()")
                      and self.save_checkpoint(job, trainer.save, epoch))
                if ok:
                    self.add_epoch(job, values, start, seconds)

    # -- results ---------------------------------------------------------------------------

    def candidate(self, c: int) -> Candidate:
        selections = self.state["selections"]
        reached = max((r for r, entrants in enumerate(selections) if c in entrants), default=0)
        runs = []
        for job in self.jobs_of(c):
            epochs = tuple(Epoch(e["epoch"], MappingProxyType(e["metrics"]),
                                 timedelta(seconds=e["seconds"]),
                                 self.store.checkpoint_path(
                                     job.name, e["epoch"] if self.schedule else None))
                           for e in job.record["epochs"])
            error = job.record["error"] or {}
            runs.append(Run(job.seed, epochs, error.get("message"), error.get("traceback")))
        return Candidate(c, Params(self.candidates[c]), reached, tuple(runs), self.metric)

    def results(self, kind: str) -> TuneResults:
        return TuneResults([self.candidate(c) for c in range(len(self.candidates))],
                           metric=self.metric, working_dir=self.store.root, seeds=self.seeds,
                           kind=kind)


#: Under a tuning's working dir: the leases of the jobs a round's workers share out.
CLAIMS_DIR = ".claims"
_PREPARED: dict[str, Any] = {}  # blob digest -> trainer with its dataset loaded (per process)


class RoundTask:
    """The sweep task of one round: train the named jobs up to the round's budget.

    Runs in the launcher's process: the session is rebuilt from the tuning's files, the
    trainer cloned with cloudpickle (its dataset loaded once per process), and each job
    trained from its last checkpoint, writing the records an in-process run writes.  The
    sweep jobs of a round may name the same jobs (see :func:`._launched.groups`): each job
    is claimed first (a lease under ``<working_dir>/.claims/<round>``, as sweep jobs are),
    so it trains once, in whichever worker reaches it first; a worker whose list is done
    waits for the jobs others hold and takes over those whose worker died.
    """

    def __init__(self, blob: bytes, settings: dict[str, Any], round_: int) -> None:
        self.blob, self.settings, self.round = blob, settings, round_

    def __call__(self, jobs: str) -> dict[str, Any]:
        from mushin_nb.workflows._claims import Claims, await_jobs

        key = hashlib.sha1(self.blob).hexdigest()
        session = worker_session(self.blob, self.settings, _PREPARED.get(key))
        session.round = self.round
        leases = session.store.root / CLAIMS_DIR / str(self.round)
        trained: list[str] = []
        with Claims() as claims:
            held = []  # by another worker of this round
            for name in jobs.split("."):
                if claims.claim(leases / name):
                    self.train(session, name, key, trained)
                    claims.release(leases / name)
                else:
                    held.append(leases / name)
            for lease, take in await_jobs(held, claims,
                                          finished=lambda d: self.settled(session, d.name)):
                if take:  # its worker died, or let it go unfinished
                    self.train(session, lease.name, key, trained)
                    claims.release(lease)
        return {"jobs": len(trained), "trained": trained}

    def train(self, session: Session, name: str, key: str, trained: list[str]) -> None:
        """Train job ``name`` to the round's budget, unless the records say it is there."""
        if train_claimed(session, name, self.round, key):
            trained.append(name)

    def settled(self, session: Session, name: str) -> bool:
        """Whether job ``name``'s record has it at the round's budget, or failed."""
        record = session.store.load_record(name)
        if record is None:
            return False
        job = session.by_name(name)
        job.record = record
        return job.failed or _reached(session, job, self.round)


class TuneWorker:
    """The sweep task of one of a tuning's workers: train every round left, with the others.

    Each worker rebuilds the session from the tuning's files, then repeats: read the
    records, take the costliest job left that no other worker holds (a lease under
    ``<working_dir>/.claims/<round>``, as for sweep jobs), train it to its round's budget.
    When a round is done, the first worker to see it writes the next round's selection,
    ranked from the records as in-process tuning ranks it; before that, the candidates
    sure to advance already train on (see :meth:`Session.open_work`).  A worker with
    nothing to take waits for the others, and takes over the job of a worker that died.
    """

    def __init__(self, blob: bytes, settings: dict[str, Any]) -> None:
        self.blob, self.settings = blob, settings

    def __call__(self, worker: int) -> dict[str, Any]:
        from mushin_nb.workflows._claims import Claims

        key = hashlib.sha1(self.blob).hexdigest()
        session = worker_session(self.blob, self.settings, _PREPARED.get(key))
        leases = session.store.root / CLAIMS_DIR
        trained: list[list[Any]] = []
        with Claims() as claims:
            while True:
                session.refresh()
                work = session.open_work()
                if work is None:
                    break
                if session.select_next():
                    continue
                for round_, job in work[worker % len(work):] + work[:worker % len(work)]:
                    lease = leases / str(round_) / job.name
                    if not claims.claim(lease):
                        continue
                    sink = EventFileSink(session.store.events_path(job.name))
                    if train_claimed(session, job.name, round_, key, sink):
                        trained.append([round_, job.name])
                    claims.release(lease)
                    break
                else:  # all held by other workers, or none sure to advance yet
                    time.sleep(_POLL_S)
        return {"jobs": len(trained), "trained": trained}


_POLL_S = 0.05


def _reached(session: Session, job: Job, round_: int) -> bool:
    """Whether ``job`` has trained to round ``round_``'s budget (or at all, untuned)."""
    if session.schedule is None:
        return job.epochs > 0
    return session.schedule.reached(round_, job.epochs, job.seconds)


def train_claimed(session: Session, name: str, round_: int, key: str,
                  sink: Any = None) -> bool:
    """Train job ``name``, claimed by this worker, to round ``round_``'s budget; False when
    its record (maybe written by another worker) has it there already, or failed.

    ``sink`` receives its progress (the job's event file) when the sweep's own job does
    not.  The trainer, with its dataset loaded, is kept for this process's next job.
    """
    job = session.by_name(name)
    job.record = session.store.load_record(name) or job.record
    if job.failed or _reached(session, job, round_):
        return False
    session.round = round_
    context = (contextlib.nullcontext() if sink is None
               else job_context(job.index, session.store.job_dir(name), sink))
    with context:
        if session.schedule is None:
            session.fit(job)
        else:
            session.train_round(job)
    if session.trainer is not None:
        _PREPARED[key] = session.trainer
    return True


def _as_of(record: dict[str, Any], schedule: Rounds, round_: int) -> dict[str, Any]:
    """``record`` as it was when its job reached round ``round_``'s budget: the epochs up
    to there, and its error only if it came before."""
    epochs = record["epochs"]
    for n in range(1, len(epochs) + 1):
        if schedule.reached(round_, n, math.fsum(e["seconds"] for e in epochs[:n])):
            return {**record, "epochs": epochs[:n], "error": None}
    return record


class _NullSink:
    """The tuning's display lives in the caller; a sweep job reports to its own sweep."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def worker_session(blob: bytes, settings: dict[str, Any], prepared: Any) -> Session:
    """The tuning's session rebuilt in a sweep job (``prepared``: a cached trainer)."""
    import cloudpickle

    store = Store(Path(settings["root"]))
    session = Session(lambda: cloudpickle.loads(blob), settings["dataset"],
                      settings["metric"], settings["schedule"], settings["reduction"],
                      settings["seeds"], settings["candidates"], store, store.load_state(),
                      settings["passthrough"])
    session.trainer = prepared
    session.sink = _NullSink()
    session.own_context = False
    return session
