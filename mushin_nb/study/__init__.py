"""Study: train every method on every seed through a Hydra sweep, then compare them.

``Study(methods, load_fn, seeds, data, num_classes, ...)`` runs each
``train_fn(seed) -> checkpoint path`` as one job of a sweep over ``(method, seed)`` under
``<working_dir>/sweep``, then evaluates every checkpoint with
:func:`mushin_nb.compare.compare` and returns a :class:`StudyResult` (a
:class:`~mushin_nb.compare.BenchmarkResult` that also names the pairs whose training
failed). The sweep directory is the source of truth: running the same Study again trains
only the pairs without a checkpoint, and adding a seed trains only that seed. Train
functions save under ``<working_dir>/checkpoints`` (:func:`checkpoint_dir`, or the relative
path ``checkpoints/`` from the job directory).

Checkpoints load with ``torch.load(weights_only=True)``: :func:`load_checkpoint` (the
default ``load_fn``) loads whole models built from torch.nn's own layers or from classes
allow-listed with ``torch.serialization.add_safe_globals``; :func:`state_dict_loader`
rebuilds a model from a state dict; :func:`load_module` unpickles any module, only from
files the user declares trusted.
"""

# `X as X`: kept importable from here though not in __all__ (the folder names, the code hash
# and the loader classes that the StudyBuilder reads)
from mushin_nb.study._checkpoints import CHECKPOINTS as CHECKPOINTS
from mushin_nb.study._checkpoints import PathLike as PathLike
from mushin_nb.study._checkpoints import _ModuleLoader as _ModuleLoader
from mushin_nb.study._checkpoints import _StateDictLoader as _StateDictLoader
from mushin_nb.study._checkpoints import (
    checkpoint_dir,
    load_checkpoint,
    load_module,
    state_dict_loader,
)
from mushin_nb.study._fingerprints import _fingerprint as _fingerprint
from mushin_nb.study._job import SWEEP as SWEEP
from mushin_nb.study._job import TrainFnReturnError
from mushin_nb.study._result import StudyResult, TrainingFailure
from mushin_nb.study._study import Study

__all__ = [
    "Study",
    "StudyResult",
    "TrainFnReturnError",
    "TrainingFailure",
    "checkpoint_dir",
    "load_checkpoint",
    "load_module",
    "state_dict_loader",
]
