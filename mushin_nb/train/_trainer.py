"""SeedTrainer: train_seeds() as a Study method, training all its missing seeds in one go."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from mushin_nb.train._data import as_training_data
from mushin_nb.train._optim import check_optimizer
from mushin_nb.train._seeds import _check_options, _loss_fn, check_seeds, train_seeds

__all__ = ["SeedTrainer"]


def _describe(value: Any) -> str:
    """A stable text for a setting: a callable by its name and a hash of its source."""
    if not callable(value):
        return repr(value)
    target = value if inspect.isroutine(value) or inspect.isclass(value) else type(value)
    name = f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', '')}"
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError):  # built-ins, code typed at a plain REPL
        return name
    return f"{name}#{hashlib.sha256(source.encode()).hexdigest()[:12]}"


def _describe_data(data: Any) -> str:
    size = getattr(data, "batch_size", None)
    dataset = getattr(data, "dataset", data)
    length = len(dataset) if hasattr(dataset, "__len__") else "?"
    return f"{type(data).__name__}(n={length}, batch_size={size})"


class SeedTrainer:
    """A :class:`~mushin_nb.study.Study` method trained by :func:`train_seeds`.

    ``Study({"mlp": SeedTrainer(digits_mlp, train_loader, epochs=5)}, seeds=range(10), ...)``
    trains every seed of ``"mlp"`` that has no checkpoint in one job of the Study's sweep,
    all at once, and writes one state-dict checkpoint per seed. Its settings are part of
    the method's code fingerprint (a changed ``epochs`` makes reused checkpoints stale).

    Parameters
    ----------
    build, data, epochs, lr, optimizer, weight_decay, momentum, loss, batch_size, device,
    vectorize, max_parallel
        As for :func:`train_seeds`; ``max_parallel`` also sets how many seeds are trained
        (and checkpointed) before the next ones start.
    checkpoint : {"state_dict", "module"}
        What each ``<method>_seed<seed>.pt`` holds: the state dict, or the whole model in
        eval mode (which loads with ``weights_only=True`` when it is made of torch.nn
        layers, see :func:`mushin_nb.study.load_checkpoint`). Either way the Study loads
        it into ``build()``.

    Examples
    --------
    >>> from mushin_nb.experiments.digits import digits_loaders
    >>> from mushin_nb.experiments.zoo import digits_mlp
    >>> train, _ = digits_loaders(batch_size=128)
    >>> trainer = SeedTrainer(digits_mlp, train, epochs=1)
    >>> type(trainer(3)).__name__  # one seed, as a plain function of the seed
    'Sequential'
    """

    def __init__(self, build: Callable[[], nn.Module], data: Any, *, epochs: int,
                 lr: float = 1e-3, optimizer: str = "adam", weight_decay: float = 0.0,
                 momentum: float = 0.0, loss: Any = "cross_entropy",
                 batch_size: int | None = None, device: Any = None,
                 vectorize: bool | str = "auto", max_parallel: int | None = None,
                 checkpoint: str = "state_dict") -> None:
        from mushin_nb.errors import MushinTypeError, bad_value

        if checkpoint not in ("state_dict", "module"):
            raise bad_value("checkpoint", checkpoint, "'state_dict' or 'module'",
                            "e.g. checkpoint='state_dict'")
        if not callable(build):
            raise bad_value("build", build, "a function () -> nn.Module",
                            "e.g. SeedTrainer(digits_mlp, train_loader, epochs=5)",
                            MushinTypeError)
        _check_options(epochs, vectorize, max_parallel, None)
        check_optimizer(optimizer, lr, weight_decay, momentum)
        _loss_fn(loss)
        as_training_data(data, batch_size)  # bad data fails here, before any sweep starts
        self.build, self.data = build, data
        self.settings = dict(epochs=epochs, lr=lr, optimizer=optimizer,
                             weight_decay=weight_decay, momentum=momentum, loss=loss,
                             batch_size=batch_size, device=device, vectorize=vectorize)
        self.max_parallel, self.checkpoint = max_parallel, checkpoint
        #: Called before a training starts; what it raises (e.g. JobSkipped) stops it.
        self.stop: Callable[[], None] | None = None

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.settings.items()
                          if k in ("epochs", "lr", "optimizer"))
        return f"SeedTrainer({getattr(self.build, '__name__', self.build)!r}, {shown})"

    def _code_settings(self) -> dict[str, str]:
        """What the Study's code fingerprint hashes besides this class's source."""
        settings = {k: _describe(v) for k, v in self.settings.items()}
        settings["build"] = _describe(self.build)
        settings["data"] = _describe_data(self.data)
        settings["checkpoint"] = self.checkpoint
        return settings

    def checkpoint_name(self, method: str, seed: int) -> str:
        """The file of ``seed``'s checkpoint, relative to the Study's checkpoint folder."""
        return f"{method}_seed{seed}.pt"

    def checkpoint_object(self, model: nn.Module) -> Any:
        """What is saved for a trained model."""
        return model.state_dict() if self.checkpoint == "state_dict" else model.eval()

    def __call__(self, seed: int) -> nn.Module:
        """Train one seed; return its model."""
        models = self.train_many([seed], lambda s, m: None)
        if seed in models:
            return models[seed]
        raise models.failures[seed]

    def train_many(self, seeds: Sequence[int], save: Callable[[int, nn.Module], None],
                   progress: Any = None) -> Any:
        """Train ``seeds`` in groups of ``max_parallel`` (default: all); ``save(seed, model)``
        each model as soon as its group is done. Returns the :class:`SeedModels` of all."""
        seeds = check_seeds(seeds)
        if self.stop is not None:
            self.stop()
        step = self.max_parallel or len(seeds)
        merged: Any = None
        for start in range(0, len(seeds), step):
            group = train_seeds(self.build, self.data, seeds[start:start + step],
                                progress=progress, max_parallel=self.max_parallel,
                                **self.settings)
            for seed, model in group.items():
                save(seed, model)
            if merged is None:
                merged = group
            else:
                merged.update(group)
                merged.curves.update(group.curves)
                merged.failures.update(group.failures)
        return merged

