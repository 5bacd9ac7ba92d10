"""The default training of the StudyBuilder's ``torch.nn.Module`` methods, and its loader.

:func:`module_trainer` turns a Module factory into a ``train_fn(seed) -> path`` (Adam and
cross-entropy for a few epochs, seeded, saving a state dict); :func:`methods_loader` loads
those checkpoints back. The form only calls these two, so another training loop can take
their place.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value, describe

__all__ = ["MethodsLoader", "ModuleTrainer", "methods_loader", "module_trainer"]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_MODULE_DIR = "module-"  # prefix of the checkpoint folder of a module_trainer


def _slug(name: str) -> str:
    return _SAFE_NAME.sub("_", name).strip("._") or "model"


def _positive_int(arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise bad_value(arg, value, "a positive int", f"e.g. {arg}=3",
                        MushinTypeError if not isinstance(value, numbers.Integral)
                        else MushinValueError)
    return int(value)


def _positive_float(arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad_value(arg, value, "a positive float", f"e.g. {arg}=0.001", MushinTypeError)
    if not (math.isfinite(value) and value > 0):
        raise bad_value(arg, value, "a positive, finite float", f"e.g. {arg}=0.001")
    return float(value)


def _seeded_loader(data: Any, seed: int) -> Any:
    """``data`` reshuffled from a generator seeded with ``seed``, whatever it was used for.

    A DataLoader's own generator moves on each time it is iterated, so training with it
    would depend on what ran before; a copy with a seeded generator does not.
    """
    from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

    if not isinstance(data, DataLoader) or data.batch_size is None \
            or not isinstance(data.sampler, (RandomSampler, SequentialSampler)):
        return data  # batches of a list, or a custom sampler: used as they come
    import torch

    return DataLoader(data.dataset, batch_size=data.batch_size,
                      shuffle=isinstance(data.sampler, RandomSampler),
                      collate_fn=data.collate_fn, drop_last=data.drop_last,
                      generator=torch.Generator().manual_seed(int(seed)))


class ModuleTrainer:
    """``train_fn(seed) -> path`` for a ``torch.nn.Module`` factory; see :func:`module_trainer`.

    Attributes
    ----------
    factory, data, epochs, lr, name, device
        As given to :func:`module_trainer`.
    folder : str
        Name of the folder of ``checkpoint_dir()`` that holds its checkpoints.
    """

    def __init__(self, factory: Callable[[], Any], data: Iterable[Any], epochs: int,
                 lr: float, name: str, device: str) -> None:
        self.factory, self.data, self.epochs, self.lr = factory, data, epochs, lr
        self.name, self.device = name, device
        self.folder = _MODULE_DIR + _slug(name)

    def _code_settings(self) -> tuple[Any, ...]:
        """What, besides this class's code, decides the training (for a Study's check that
        reused checkpoints come from the same training): the factory's code and the form's
        settings."""
        from mushin_nb.study import _fingerprint

        return (_fingerprint(self.factory), self.epochs, self.lr, self.name, self.device)

    def build(self) -> Any:
        """A new, untrained model; its random initialisation leaves the global RNG alone."""
        import torch

        with torch.random.fork_rng(devices=[]):
            return self._new_model()

    def _new_model(self) -> Any:
        import torch

        model = self.factory()
        if not isinstance(model, torch.nn.Module):
            raise bad_value("factory", self.factory, "a callable returning a torch.nn.Module",
                            f"it returned {describe(model)}", MushinTypeError)
        return model

    def __call__(self, seed: int) -> Path:
        """Train a model with ``seed`` and return the path of its saved state dict."""
        import torch

        from mushin_nb.progress import report
        from mushin_nb.study import checkpoint_dir

        seed = int(seed)
        loader = _seeded_loader(self.data, seed)
        device = torch.device(self.device)
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            model = self._new_model().to(device)
            optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
            for epoch in range(self.epochs):
                model.train()
                total, count = 0.0, 0
                for inputs, targets in loader:
                    inputs, targets = inputs.to(device), targets.to(device)
                    optimizer.zero_grad()
                    loss = torch.nn.functional.cross_entropy(model(inputs), targets)
                    loss.backward()
                    optimizer.step()
                    total, count = total + loss.item() * len(targets), count + len(targets)
                report(step=epoch + 1, total=self.epochs, loss=total / max(count, 1))
        folder = checkpoint_dir() / self.folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"seed{seed}.pt"
        tmp = folder / f".seed{seed}.{uuid.uuid4().hex}.tmp"
        try:
            torch.save(model.state_dict(), tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def load(self, path: str | os.PathLike) -> Any:
        """The model saved at ``path`` (read with ``weights_only=True``)."""
        from mushin_nb.study import state_dict_loader

        return state_dict_loader(self.build)(path)

    def __repr__(self) -> str:
        name = getattr(self.factory, "__qualname__", repr(self.factory))
        return (f"module_trainer({name}, epochs={self.epochs}, lr={self.lr!r}, "
                f"name={self.name!r})")


def module_trainer(factory: Callable[[], Any], data: Iterable[Any], *, epochs: int = 3,
                   lr: float = 1e-3, name: str | None = None,
                   device: str = "cpu") -> ModuleTrainer:
    """A ``train_fn(seed) -> path`` that trains ``factory()`` on ``data`` with the default loop.

    The loop: ``torch.manual_seed(seed)`` (inside ``torch.random.fork_rng``, so the global
    RNG is left as it was), ``epochs`` passes of Adam with learning rate ``lr`` on the
    cross-entropy of ``model(inputs)`` and ``targets``, the data reshuffled from a generator
    seeded with ``seed``; each epoch reports its mean loss to the live monitor. The state
    dict is saved to ``checkpoint_dir()/module-<name>/seed<seed>.pt``; load it back with
    :meth:`ModuleTrainer.load` or :func:`methods_loader`.

    Parameters
    ----------
    factory : callable
        ``factory() -> torch.nn.Module`` returning logits: a Module class or a function.
    data : re-iterable of (inputs, targets) batches
        The training data (a DataLoader).
    epochs : int
        Passes over ``data``.
    lr : float
        Adam's learning rate.
    name : str, optional
        Names the checkpoint folder; default the factory's ``__name__``.
    device : str
        Where the model trains (``"cpu"``, ``"cuda"``...).

    Returns
    -------
    ModuleTrainer

    Examples
    --------
    >>> import tempfile, torch
    >>> x = torch.linspace(-1, 1, 32).reshape(-1, 1)
    >>> batches = [(x, (x[:, 0] > 0).long())]
    >>> train = module_trainer(lambda: torch.nn.Linear(1, 2), batches, epochs=2, name="lin")
    >>> os.chdir(tempfile.mkdtemp())
    >>> path = train(seed=0)
    >>> path.relative_to(Path.cwd()).as_posix()
    'checkpoints/module-lin/seed0.pt'
    >>> torch.equal(train.load(path).weight, train.load(train(seed=0)).weight)
    True
    """
    if not callable(factory):
        raise bad_value("factory", factory, "a callable returning a torch.nn.Module",
                        "pass the Module class or a function building it", MushinTypeError)
    if data is None or isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise bad_value("data", data, "a re-iterable of (inputs, targets) batches",
                        "pass a DataLoader, e.g. data=train_loader", MushinTypeError)
    if isinstance(data, Iterator):  # (iter() would draw from a DataLoader's generator)
        raise bad_value("data", data, "re-iterable (every epoch makes one pass over it)",
                        "pass a DataLoader or list(batches), not a generator")
    if name is None:
        name = getattr(factory, "__name__", None) or type(factory).__name__
    if not isinstance(name, str) or not name.strip():
        raise bad_value("name", name, "a non-empty str", "e.g. name='mlp'", MushinTypeError)
    if not isinstance(device, str):
        raise bad_value("device", device, "a device name (str)", "e.g. device='cuda'",
                        MushinTypeError)
    return ModuleTrainer(factory, data, _positive_int("epochs", epochs),
                         _positive_float("lr", lr), name, device)


class MethodsLoader:
    """``load_fn(path)`` of a Study mixing module trainers and other train_fns.

    A checkpoint in a :class:`ModuleTrainer`'s folder is loaded by that trainer; any other
    by ``default``. See :func:`methods_loader`.
    """

    def __init__(self, trainers: dict[str, ModuleTrainer],
                 default: Callable[[Any], Any] | None) -> None:
        self.trainers, self.default = trainers, default

    def __call__(self, path: str | os.PathLike) -> Any:
        trainer = self.trainers.get(Path(path).parent.name)
        if trainer is not None:
            return trainer.load(path)
        if self.default is None:
            from mushin_nb.study import load_checkpoint

            return load_checkpoint(path)
        return self.default(path)

    def __repr__(self) -> str:
        return f"methods_loader({sorted(self.trainers)}, default={self.default!r})"


def methods_loader(methods: Mapping[str, Any],
                   default: Callable[[Any], Any] | None = None) -> MethodsLoader:
    """The ``load_fn`` for ``methods``: each :class:`ModuleTrainer` loads its own checkpoints.

    Parameters
    ----------
    methods : dict of str -> train_fn
        The methods of the Study.
    default : callable, optional
        Loads the other checkpoints; default :func:`mushin_nb.study.load_checkpoint`.

    Examples
    --------
    >>> import torch
    >>> train = module_trainer(lambda: torch.nn.Linear(1, 2), [], name="lin")
    >>> methods_loader({"lin": train})
    methods_loader(['module-lin'], default=None)
    """
    if not isinstance(methods, Mapping):
        raise bad_value("methods", methods, "a dict of name -> train_fn",
                        "pass the dict given to Study", MushinTypeError)
    if default is not None and not callable(default):
        raise bad_value("default", default, "a callable load_fn(path) -> model or None",
                        "e.g. default=state_dict_loader(MyNet)", MushinTypeError)
    trainers: dict[str, ModuleTrainer] = {}
    for label, fn in methods.items():
        if isinstance(fn, ModuleTrainer):
            other = trainers.get(fn.folder)
            if other is not None and other is not fn:
                raise bad_value(f"methods[{label!r}]", fn, "a module trainer with a name of "
                                f"its own (another one saves to {fn.folder!r} too)",
                                "pass name=... to module_trainer")
            trainers[fn.folder] = fn
    return MethodsLoader(trainers, default)
