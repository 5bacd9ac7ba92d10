"""The job of the training sweep: run one train_fn(seed), return its checkpoint and code hash;
and the checks of a resumed sweep (checkpoints from older code, deleted checkpoints).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mushin_nb.errors import MushinValueError, SweepFailedError, describe
from mushin_nb.progress import current_job, report
from mushin_nb.stats import MushinWarning
from mushin_nb.study._checkpoints import _CHECKPOINT_DIR, CHECKPOINTS
from mushin_nb.study._fingerprints import _fingerprint

if TYPE_CHECKING:
    from mushin_nb.train import SeedTrainer
    from mushin_nb.workflows._claims import Claims

#: Name of the folder of ``working_dir`` that holds the Hydra sweep over (method, seed).
SWEEP = "sweep"
_LEASES = ".leases"  # in the checkpoints folder: who trains which SeedTrainer seed


class _TrainJob:
    """The task of the sweep: run one ``train_fn(seed)``, return its checkpoint path.

    A plain class (not a closure) so that process launchers can pickle it.
    """

    def __init__(self, train_fns: dict[str, Callable[[int], Any]], names: dict[str, str],
                 checkpoints: Path, seeds: list[int] | None = None) -> None:
        self.train_fns, self.names, self.checkpoints = train_fns, names, checkpoints
        # hashed here, in the caller's process: a worker may not see a notebook's source
        self.codes = {slug: _fingerprint(fn) for slug, fn in train_fns.items()}
        self.seeds = list(seeds or [])
        # the sweep's job index of (method, seed): methods outer, seeds inner, as swept
        self.index = {(slug, seed): i * len(self.seeds) + j
                      for i, slug in enumerate(train_fns) for j, seed in enumerate(self.seeds)}
        self.failed: dict[tuple[str, int], Exception] = {}  # SeedTrainer seeds that failed

    def __call__(self, method: str, seed: int) -> dict[str, str]:
        slug, seed = str(method), int(seed)
        name = self.names[slug]
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        # `torch.save(model, "checkpoints/x.pt")` from the job dir lands in working_dir/checkpoints
        job = current_job()
        link = (job.job_dir if job is not None and job.job_dir is not None
                else Path.cwd()) / CHECKPOINTS
        if not link.exists() and not link.is_symlink():
            try:
                link.symlink_to(self.checkpoints, target_is_directory=True)
            except OSError:  # no symlinks (some Windows set-ups): a real folder still works
                link.mkdir()
        token = _CHECKPOINT_DIR.set(self.checkpoints)
        try:
            fn = self.train_fns[slug]
            code = self.codes[slug]
            if is_seed_trainer(fn):
                returned = self._seed_trainer(slug, seed, fn)
                code = self._trained_by(slug, seed)
            else:
                returned = fn(seed)
        finally:
            _CHECKPOINT_DIR.reset(token)
        return {"checkpoint": str(_check_path(name, seed, returned)), "train_fn": code}

    def seed_checkpoint(self, slug: str, seed: int) -> Path:
        """Where a SeedTrainer method's seed is saved."""
        trainer = self.train_fns[slug]
        return self.checkpoints / trainer.checkpoint_name(slug, seed)

    def _seed_trainer(self, slug: str, seed: int, trainer: SeedTrainer) -> Path:
        """Train every seed of the method that has no checkpoint yet (this one among them).

        Jobs of one method that run at once (process launchers, two runners) share the
        seeds out: a job claims each seed it trains (a lease, as for sweep jobs), skips the
        seeds another live job holds, and waits for its own seed when another holds it.
        """
        from mushin_nb.workflows._claims import Claims, await_jobs

        path = self.seed_checkpoint(slug, seed)
        if path.is_file():  # trained by an earlier job of this sweep, or a killed run
            return path
        if (slug, seed) in self.failed:
            raise self.failed[(slug, seed)]
        with Claims() as claims:
            lease = self._lease_dir(slug, seed)
            if not claims.claim(lease):  # another job trains it: wait, or take it over
                for _, taken in await_jobs([lease], claims, finished=lambda _: path.is_file()):
                    if not taken:
                        return path
            mine = [s for s in dict.fromkeys([seed, *self.seeds])
                    if (s == seed or claims.claim(self._lease_dir(slug, s)))
                    and not self.seed_checkpoint(slug, s).is_file()]
            if seed not in mine:  # saved by its holder between our two looks
                return path
            self._train_seeds(slug, trainer, mine, self._router(slug, seed), claims)
        if (slug, seed) in self.failed:
            raise self.failed[(slug, seed)]
        return path

    def _code_file(self, slug: str, seed: int) -> Path:
        """Beside a SeedTrainer seed's checkpoint: the fingerprint of the code that trained
        it, so that a job recording a checkpoint another job saved records that code."""
        path = self.seed_checkpoint(slug, seed)
        return path.with_name(f".{path.name}.train_fn")

    def _trained_by(self, slug: str, seed: int) -> str:
        try:
            return self._code_file(slug, seed).read_text(encoding="utf-8")
        except OSError:  # saved before fingerprints were kept beside checkpoints
            return self.codes[slug]

    def _lease_dir(self, slug: str, seed: int) -> Path:
        return self.checkpoints / _LEASES / slug / str(seed)

    def _train_seeds(self, slug: str, trainer: SeedTrainer, seeds: list[int],
                     progress: Callable[[int, int, int, float], None], claims: Claims
                     ) -> None:
        """Train ``seeds``, saving each (and letting its lease go) as soon as it is done."""
        import torch

        from mushin_nb.workflows import _store

        def save(s: int, model: Any) -> None:
            target = self.seed_checkpoint(slug, s)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.partial")
            _store.write_text_atomic(self._code_file(slug, s), self.codes[slug])
            torch.save(trainer.checkpoint_object(model), partial)
            os.replace(partial, target)  # a killed job leaves no half-written checkpoint
            claims.release(self._lease_dir(slug, s))

        models = trainer.train_many(seeds, save, progress)
        self.failed.update({(slug, s): error for s, error in models.failures.items()})

    def _router(self, slug: str, seed: int) -> Callable[[int, int, int, float], None]:
        """Send each seed's epochs to that seed's job of the monitor (else to this job)."""
        job = current_job()
        own = job is not None and job.sink is not None and \
            job.index == self.index.get((slug, seed))

        def progress(s: int, epoch: int, epochs: int, loss: float) -> None:
            if own and (slug, s) in self.index:
                job.sink.job_report(self.index[(slug, s)], epoch, epochs, {"loss": loss})
            elif s == seed:
                report(step=epoch, total=epochs, loss=loss)
            else:
                report(**{f"loss_seed{s}": loss})

        return progress


def is_seed_trainer(fn: Any) -> bool:
    """Whether ``fn`` is a SeedTrainer (whose module is loaded once one exists: no torch
    import for the others)."""
    train = sys.modules.get("mushin_nb.train")
    return train is not None and isinstance(fn, train.SeedTrainer)


class TrainFnReturnError(SweepFailedError, MushinValueError):
    """A train_fn returned None or something that is not a path: a bug of the train_fn.

    ``Study.run()`` raises it once the training sweep has finished, naming every (method,
    seed) it happened to; it is a ``ValueError`` (and, as every stopped study, a
    :class:`~mushin_nb.errors.SweepFailedError`).
    """


# the two messages of `_check_path` that say a train_fn returned no path at all
_NO_PATH = (" returned None for seed ", ", not a path. Fix: ")


def _returned_no_path(error: str) -> bool:
    """Whether a recorded job error is `_check_path`'s "returned None / not a path"."""
    return error.startswith("MushinValueError: train_fn of method ") and any(
        part in error for part in _NO_PATH)


def _check_path(method: str, seed: int, value: Any) -> Path:
    """Resolve what ``train_fn(seed)`` returned against the job dir (the current directory)."""
    if value is None:
        raise MushinValueError(
            f"train_fn of method {method!r} returned None for seed {seed}. Fix: return the "
            "path of the checkpoint it saved, e.g. `return path` after `torch.save(model, path)`."
        )
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise MushinValueError(
            f"train_fn of method {method!r} returned {describe(value)} for seed {seed}, not a "
            "path. Fix: save the model (torch.save) and return the checkpoint's path."
        )
    path = Path(value).expanduser()
    path = (path if path.is_absolute() else Path.cwd() / path).resolve()
    if not path.is_file():
        raise MushinValueError(
            f"train_fn of method {method!r} returned {str(value)!r} for seed {seed}, but "
            f"{str(path)!r} does not exist. Fix: return the path the checkpoint was saved to."
        )
    return path


def _warn_stale(wf: Any, current: dict[str, str], names: dict[str, str],
                working_dir: Path) -> dict[str, list[int]]:
    """Warn when reused checkpoints were trained by a train_fn whose code changed since;
    return method -> those seeds."""
    stale: dict[str, list[int]] = {}
    recorded = wf.metrics.get("train_fn", [None] * len(wf.cfgs))
    for cfg, code in zip(wf.cfgs, recorded):
        # a job trained just now recorded the current hash; one that failed recorded none
        # (NaN), and neither did one recorded before hashes existed
        if not isinstance(code, str) or cfg is None:
            continue
        slug = str(cfg["method"])
        if code != current.get(slug):
            stale.setdefault(names[slug], []).append(int(cfg["seed"]))
    if stale:
        listed = "; ".join(f"{m!r} (seeds {sorted(s)})" for m, s in stale.items())
        warnings.warn(
            f"Study: the train_fn code of {listed} changed since those checkpoints were "
            f"trained; they are reused as they are. Fix: to retrain, run the study with a new "
            f"working_dir, or delete {working_dir / SWEEP} (and the old checkpoints).",
            MushinWarning, stacklevel=4)
    return {method: sorted(seeds) for method, seeds in stale.items()}


def _forget_lost_checkpoints(sweep_dir: Path) -> None:
    """Make the sweep re-run finished jobs whose checkpoint file was deleted since."""
    from mushin_nb.workflows import _store

    for record_file in sweep_dir.glob(f"*/{_store.RECORD_DIR}/{_store.RECORD_NAME}"):
        record = _store.read_record(record_file.parent.parent) or {}
        value = record.get("return_value")
        path = value.get("checkpoint") if isinstance(value, dict) else None
        if record.get("status") == "done" and isinstance(path, str) and not Path(path).is_file():
            # kept under another name: the job then counts as never finished
            os.replace(record_file, record_file.with_name(f"lost-checkpoint.{record_file.name}"))
