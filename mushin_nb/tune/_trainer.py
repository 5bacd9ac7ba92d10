"""The trainer API: ``SimpleTrainer``, ``EpochTrainer`` and the ``Checkpoint`` they save to.

A trainer knows how to train a model; :func:`mushin_nb.tune.tune` decides which
parameters get how much training.

Metric values
-------------
``train`` and ``train_epoch`` return a dict of metric values, e.g.
``{"valid_accuracy": 0.93, "train_loss": 0.21}``.  The trainer's ``metric`` names the one
that is tuned, always greater-is-better (return ``-loss`` to minimise a loss); the others
are kept for analysis.

Lifecycle
---------
Trainers must be pickleable before ``load_dataset``: ``tune`` clones the trainer with
``pickle`` and calls ``load_dataset`` at most once on each clone, then trains many
candidates with it.  For an ``EpochTrainer`` each stretch of training starts with
``create_model(params)`` (first epoch) or ``load(checkpoint, params)`` (continuing), then
calls ``train_epoch`` and ``save`` after every epoch.
"""

from __future__ import annotations

import abc
import os
import pickle
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinRuntimeError

__all__ = ["Checkpoint", "SimpleTrainer", "EpochTrainer"]


class Checkpoint:
    """A place on disk for one saved model state.

    During ``save`` the path is a temporary name that ``tune`` renames once the save
    returns, so a crash never leaves a half-written checkpoint.  Write a file (or a
    directory) at :attr:`path`, or use the helpers.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     ckpt = Checkpoint(Path(tmp) / "model.pkl")
    ...     ckpt.save_pickle({"w": [1, 2]})
    ...     ckpt.load_pickle()
    {'w': [1, 2]}
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.path)!r})"

    def save_pickle(self, obj: Any) -> None:
        """Pickle ``obj`` to :attr:`path`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)

    def load_pickle(self) -> Any:
        """Unpickle the object saved with :meth:`save_pickle` (only load files you trust)."""
        with open(self.path, "rb") as fh:
            return pickle.load(fh)

    def save_torch(self, obj: Any) -> None:
        """``torch.save(obj)`` to :attr:`path` (e.g. model and optimizer ``state_dict``)."""
        import torch

        self.path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(obj, self.path)

    def load_torch(self, *, weights_only: bool = True, map_location: Any = None) -> Any:
        """``torch.load`` the file saved with :meth:`save_torch`, ``weights_only`` by default."""
        import torch

        return torch.load(self.path, weights_only=weights_only, map_location=map_location)


class _Trainer(abc.ABC):
    """What both trainers share: the tuned metric and the dataset hook."""

    @property
    @abc.abstractmethod
    def metric(self) -> str:
        """Name of the metric value to maximise (a key of the dicts the trainer returns)."""

    def load_dataset(self, dataset: Any) -> None:  # noqa: B027 - optional hook
        """Load the data (``tune(..., dataset=...)`` is passed through); keep it on ``self``.

        Called at most once per clone, after pickling: open files and big arrays belong
        here, not in ``__init__``.  The default does nothing.
        """


class SimpleTrainer(_Trainer):
    """Base class for models trained in one go (scikit-learn style): no epochs, no rounds.

    Examples
    --------
    >>> from mushin_nb.tune import Params
    >>> class Quadratic(SimpleTrainer):
    ...     metric = "score"
    ...     def train(self, params):
    ...         return None, {"score": -(params.x - 2) ** 2}
    >>> Quadratic().train(Params({"x": 1.0}))
    (None, {'score': -1.0})
    """

    @abc.abstractmethod
    def train(self, params: Any) -> tuple[Any, dict[str, float]]:
        """Fit a model with ``params`` and return ``(model, metric_values)``."""

    def save(self, checkpoint: Checkpoint, model: Any) -> None:
        """Save the fitted ``model``; the default pickles it."""
        checkpoint.save_pickle(model)


class EpochTrainer(_Trainer):
    """Base class for models trained epoch by epoch (networks, boosting), tuned in rounds.

    The model under training lives on the trainer, usually as ``self.model``.

    Examples
    --------
    >>> from mushin_nb.tune import Params
    >>> class Counter(EpochTrainer):
    ...     metric = "score"
    ...     def create_model(self, params):
    ...         self.model = {"steps": 0, "rate": params.rate}
    ...     def train_epoch(self, epoch):
    ...         self.model["steps"] += 1
    ...         return {"score": self.model["rate"] * self.model["steps"]}
    >>> trainer = Counter()
    >>> trainer.create_model(Params({"rate": 0.5}))
    >>> [trainer.train_epoch(e)["score"] for e in range(3)]
    [0.5, 1.0, 1.5]
    """

    model: Any

    def create_model(self, params: Any) -> None:
        """Create a fresh model for ``params``; the default calls ``params.create_model()``."""
        factory = params.get("create_model") if hasattr(params, "get") else None
        if not callable(factory):
            raise MushinRuntimeError(
                f"`{type(self).__name__}.create_model` is not overridden and `params` has no "
                f"callable 'create_model', got keys {sorted(params)}. Fix: override "
                "create_model(self, params) or add a 'create_model' factory to params.")
        self.model = factory()

    @abc.abstractmethod
    def train_epoch(self, epoch: int) -> dict[str, float]:
        """Train ``self.model`` for one more epoch (``epoch`` counts from 0); return metrics."""

    def save(self, checkpoint: Checkpoint) -> None:
        """Save the model in its current state; the default pickles ``self.model``.

        Save everything needed to continue as if never stopped (optimizer state too).
        """
        checkpoint.save_pickle(self.model)

    def load(self, checkpoint: Checkpoint, params: Any) -> None:
        """Restore the state written by :meth:`save`; called instead of :meth:`create_model`."""
        self.model = checkpoint.load_pickle()
