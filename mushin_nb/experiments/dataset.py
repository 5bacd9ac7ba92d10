"""Dataset: an endless source of batches, from a dataset name, a generator or one batch.

Also the helpers that build such sources: :func:`make_datasets` (train and test sets
by name), :func:`batch_dataset` (tensors in memory), :func:`make_sampler` (loop over a
DataLoader forever) and :func:`get_default_transform`.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mushin_nb.errors import (
    MushinRuntimeError,
    MushinTypeError,
    MushinValueError,
    bad_value,
)
from mushin_nb.experiments.registry import datasets
from mushin_nb.experiments.sources import default_root, get_default_transform

__all__ = [
    "Dataset",
    "make_sampler",
    "make_datasets",
    "batch_dataset",
    "get_default_transform",
]

def _to(batch: Any, config: Mapping[str, Any] | None) -> Any:
    """Move the tensors of ``batch`` to ``config``'s device; floats also to its dtype."""
    if config is None:
        return batch
    if isinstance(batch, torch.Tensor):
        dtype = config["dtype"] if batch.is_floating_point() else None
        return batch.to(device=config["device"], dtype=dtype, non_blocking=config["non_blocking"])
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to(item, config) for item in batch)
    if isinstance(batch, dict):
        return {key: _to(value, config) for key, value in batch.items()}
    return batch


class Dataset:
    """An endless source of batches.

    Parameters
    ----------
    data : str, DataLoader, iterator or any value
        A registered dataset name (``"digits"``, or a torchvision name such as
        ``"mnist"``, ``"fakedata"``), a ``torch.utils.data.DataLoader`` (looped over
        forever; :meth:`epoch` gives one pass), an iterator / generator yielding
        batches, or any other value, which then is the only batch, returned forever.
    name : str, optional
        A display name for messages.
    root : path, optional
        Where named datasets are stored; default :meth:`get_default_root`.
    *args, **kwargs
        Forwarded to the dataset builder when ``data`` is a name (``train``,
        ``batch_size``, ``shuffle``, ``seed``...).

    Examples
    --------
    >>> inputs, labels = torch.arange(6.0).reshape(3, 2), torch.tensor([0, 1, 0])
    >>> single = Dataset((inputs, labels))
    >>> single.sample()[1]
    tensor([0, 1, 0])
    >>> loader = torch.utils.data.DataLoader(
    ...     torch.utils.data.TensorDataset(inputs, labels), batch_size=2)
    >>> looped = Dataset(loader)
    >>> [len(looped.sample()[1]) for _ in range(3)]  # 2 + 1, then around again
    [2, 1, 2]
    >>> [len(y) for _, y in looped.epoch()]
    [2, 1]
    """

    def __init__(
        self,
        data: Any,
        name: str | None = None,
        root: str | os.PathLike[str] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self._loader: torch.utils.data.DataLoader | None = None
        self._batch: Any = None
        self._kind = "single batch"
        if isinstance(data, str):
            key, build = data, datasets[data]
            root = root if root is not None else type(self).get_default_root()
            _check_call(build, key, args, {"root": root, **kwargs})
            data = build(*args, root=root, **kwargs)
            name = key if name is None else name
        if isinstance(data, torch.utils.data.DataLoader):
            self._loader, self._kind = data, "DataLoader"
            self._iter: Iterator[Any] = make_sampler(data)
        elif isinstance(data, Iterator):
            self._iter, self._kind = data, "generator"
        else:
            self._batch = data
            self._iter = _forever(data)
        self.name = name if name is not None else f"<{self._kind}>"

    @classmethod
    def get_default_root(cls) -> Path:
        """Default root of named datasets: ``$MUSHIN_NB_DATA``, else
        ``~/.cache/mushin_nb/datasets`` (not created here)."""
        return default_root()

    def __str__(self) -> str:
        return f"dataset {self.name}"

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, kind={self._kind!r})"

    def sample(self, config: Mapping[str, Any] | None = None) -> Any:
        """The next batch, its tensors moved to ``config`` (a Configuration) if given."""
        try:
            batch = next(self._iter)
        except StopIteration:
            raise MushinRuntimeError(
                f"{self} is exhausted: its generator stopped. Fix: pass an infinite "
                "generator, or a DataLoader (looped over forever)."
            ) from None
        return _to(batch, config)

    def epoch(self, config: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """One full pass: every batch of the DataLoader once (the single batch once).

        A generator-backed dataset has no epochs and raises.
        """
        if self._loader is not None:
            return (_to(batch, config) for batch in self._loader)
        if self._kind == "single batch":
            return iter([_to(self._batch, config)])
        raise MushinRuntimeError(
            f"epoch() needs a DataLoader-backed dataset, but {self} comes from a generator. "
            "Fix: build the Dataset from a DataLoader or a dataset name, or use sample()."
        )


def _forever(batch: Any) -> Iterator[Any]:
    while True:
        yield batch


def _check_call(build: Callable[..., Any], name: str, args: tuple, kwargs: dict[str, Any]) -> None:
    """Fail with the builder's accepted arguments instead of a bare TypeError inside it."""
    try:
        signature = inspect.signature(build)
    except (TypeError, ValueError):  # builtins without signature: let the call decide
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as error:
        raise MushinTypeError(
            f"Dataset {name!r} cannot take the arguments {sorted(kwargs)} "
            f"(+{len(args)} positional): {error}. Its builder accepts {signature}. "
            "Fix: pass only those."
        ) from None


def make_sampler(loader: Iterable[Any]) -> Iterator[Any]:
    """Yield the batches of ``loader`` forever, starting a new pass when one ends.

    Examples
    --------
    >>> sampler = make_sampler([1, 2])
    >>> [next(sampler) for _ in range(5)]
    [1, 2, 1, 2, 1]
    """
    if not isinstance(loader, Iterable) or isinstance(loader, Iterator):
        raise bad_value(
            "loader",
            loader,
            "a re-iterable (a DataLoader, a list), not a one-shot iterator",
            "pass the DataLoader itself",
            MushinTypeError,
        )
    return _cycle(loader)


def _cycle(loader: Iterable[Any]) -> Iterator[Any]:
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise MushinRuntimeError(
                f"`loader` {loader!r} yielded no batch. Fix: give it at least one sample."
            )


def _workers(num_workers: Any) -> tuple[int, int]:
    def ok(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    if ok(num_workers):
        return num_workers, num_workers
    if isinstance(num_workers, tuple) and len(num_workers) == 2 and all(map(ok, num_workers)):
        return num_workers
    raise bad_value(
        "num_workers",
        num_workers,
        "an int >= 0 or a pair of them (train, test)",
        "use num_workers=0 to load in the main process",
    )


def make_datasets(
    dataset: str,
    train_batch: int | None = None,
    test_batch: int | None = None,
    train_transforms: Any = None,
    test_transforms: Any = None,
    num_workers: int | tuple[int, int] = 0,
    seed: int | None = None,
    **custom_args: Any,
) -> tuple[Dataset, Dataset]:
    """Build the training and testing :class:`Dataset` of a named dataset.

    Parameters
    ----------
    dataset : str
        A registered or torchvision dataset name.
    train_batch, test_batch : int, optional
        Batch sizes; ``None`` or 0 puts the whole split in one batch.
    train_transforms, test_transforms : optional
        Transforms of the two splits; ``None`` is :func:`get_default_transform`.
    num_workers : int or (int, int)
        Loader worker processes (0: load in the main process).
    seed : int, optional
        Seed of the training shuffle (and of a dataset's own split, for ``"digits"``).
    **custom_args
        Forwarded to the dataset builder.

    Notes
    -----
    The builder is called with ``train``, ``batch_size`` and ``shuffle`` (``True`` for
    the training set), plus ``transform``, ``num_workers`` and ``seed`` when given.

    Examples
    --------
    >>> trainset, testset = make_datasets("digits", train_batch=32, test_batch=100, seed=0)
    >>> inputs, labels = trainset.sample()
    >>> tuple(inputs.shape), labels.dtype
    ((32, 1, 8, 8), torch.int64)
    """
    if not isinstance(dataset, str):
        raise bad_value("dataset", dataset, "a dataset name (str)", cls=MushinTypeError)
    train_workers, test_workers = _workers(num_workers)
    sets = []
    for train, batch, transforms, workers in (
        (True, train_batch, train_transforms, train_workers),
        (False, test_batch, test_transforms, test_workers),
    ):
        options: dict[str, Any] = {"train": train, "batch_size": batch, "shuffle": train}
        transforms = transforms if transforms is not None else get_default_transform(dataset, train)
        if transforms is not None:
            options["transform"] = transforms
        if workers:
            options["num_workers"] = workers
        if seed is not None:
            options["seed"] = seed
        sets.append(Dataset(dataset, **options, **custom_args))
    return sets[0], sets[1]


def batch_dataset(
    inputs: torch.Tensor,
    labels: torch.Tensor,
    train: bool = False,
    batch_size: int | None = None,
    split: float | int = 0.75,
    seed: int | np.random.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches of the training or the testing part of in-memory tensors.

    Parameters
    ----------
    inputs, labels : torch.Tensor
        Same length along the first dimension.
    train : bool
        The training part (first ``split``), shuffled anew at each pass; else the
        testing part (the rest), in order.
    batch_size : int, optional
        ``None`` or 0 for the whole part.
    split : float or int
        Fraction of the samples in the training part if < 1, else their number.
    seed : int or numpy.random.Generator, optional
        Shuffling randomness of the training part (``None``: fresh entropy).

    Examples
    --------
    >>> x, y = torch.arange(10.0), torch.arange(10)
    >>> test = batch_dataset(x, y, train=False, batch_size=2, split=0.6)
    >>> [next(test)[1].tolist() for _ in range(3)]
    [[6, 7], [8, 9], [6, 7]]
    >>> sorted(next(batch_dataset(x, y, train=True, split=6, seed=0))[1].tolist())
    [0, 1, 2, 3, 4, 5]
    """
    for arg, value in (("inputs", inputs), ("labels", labels)):
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            raise bad_value(arg, value, "a torch.Tensor of dimension >= 1", cls=MushinTypeError)
    length = len(inputs)
    if length < 2 or len(labels) != length:
        raise MushinValueError(
            f"`inputs` and `labels` must have the same length >= 2, got {len(inputs)} inputs "
            f"and {len(labels)} labels. Fix: pass matching tensors."
        )
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not split > 0:
        raise bad_value("split", split, "a fraction in (0, 1) or a positive sample count")
    if split >= 1 and not float(split).is_integer():
        raise bad_value("split", split, "a fraction < 1 or a whole number of samples")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0
    ):
        raise bad_value("batch_size", batch_size, "a positive int, or None/0 for everything")
    position = min(max(1, int(length * split)) if split < 1 else int(split), length - 1)
    if train:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return _train_batches(inputs[:position], labels[:position], batch_size, rng)
    return _test_batches(inputs[position:], labels[position:], batch_size)


def _train_batches(
    inputs: torch.Tensor, labels: torch.Tensor, batch_size: int | None, rng: np.random.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    length = len(inputs)
    batch = min(batch_size or length, length)
    order = rng.permutation(length)
    cursor = 0
    while True:
        end = cursor + batch
        if end > length:  # the batch straddles two passes: finish this one, reshuffle
            select = list(order[cursor:])
            order = rng.permutation(length)
            select += list(order[: end - length])
            end -= length
        else:
            select = list(order[cursor:end])
        select = torch.as_tensor(np.asarray(select, dtype=np.int64))
        yield inputs[select], labels[select]
        cursor = end % length


def _test_batches(
    inputs: torch.Tensor, labels: torch.Tensor, batch_size: int | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    length = len(inputs)
    batch = min(batch_size or length, length)
    cursor = 0
    while True:
        end = cursor + batch
        if end > length:
            select = torch.cat([torch.arange(cursor, length), torch.arange(end - length)])
            yield inputs[select], labels[select]
        else:
            yield inputs[cursor:end], labels[cursor:end]
        cursor = end % length
