"""The training data as two tensors, and each seed's batch order drawn from its own generator."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value

__all__ = ["Stream", "Tensors", "as_training_data", "seed_generator"]


def seed_generator(seed: int, stream: int = 0) -> torch.Generator:
    """A CPU generator that only ``seed`` decides; ``stream`` tells its uses apart.

    Examples
    --------
    >>> same = [torch.randperm(5, generator=seed_generator(3)) for _ in range(2)]
    >>> other = torch.randperm(5, generator=seed_generator(3, stream=1))
    >>> bool(torch.equal(*same)), bool(torch.equal(same[0], other))
    (True, False)
    """
    if stream == 0:
        return torch.Generator().manual_seed(int(seed))
    state = np.random.SeedSequence([int(seed) % 2**64, stream]).generate_state(1, np.uint64)
    return torch.Generator().manual_seed(int(state[0]) >> 1)


@dataclass
class Tensors:
    """A map-style dataset of tensors held as ``inputs`` and ``targets`` (first dim: samples)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    batch_size: int
    shuffle: bool = True
    drop_last: bool = False

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def batches(self, generator: torch.Generator) -> list[torch.Tensor]:
        """The sample indices of one epoch's batches, in the order ``generator`` draws: the
        order of ``DataLoader(shuffle=True, generator=generator)``."""
        n = len(self)
        if self.shuffle:  # the draws of a DataLoader's pass: its base seed, then the sampler's
            torch.empty((), dtype=torch.int64).random_(generator=generator)
            order = torch.randperm(n, generator=generator)
            torch.randperm(n, generator=generator)  # RandomSampler draws (and cuts) one more
        else:
            order = torch.arange(n)
        batches = list(order.split(self.batch_size))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def to(self, device: torch.device) -> Tensors:
        return Tensors(self.inputs.to(device), self.targets.to(device), self.batch_size,
                       self.shuffle, self.drop_last)


@dataclass
class Stream:
    """Data that is not a map-style dataset of tensors: batches taken as it yields them."""

    data: Iterable[Any]

    def epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for batch in self.data:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise bad_value("data", batch, "batches of (inputs, targets)",
                                "yield (x, y) pairs", MushinTypeError)
            yield batch[0], batch[1]


def _check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise bad_value("batch_size", batch_size, "a positive int", "e.g. batch_size=64")


def _empty(data: Any) -> MushinValueError:
    return bad_value("data", data, "data that yields at least one batch",
                     "pass a DataLoader over a non-empty dataset")


def _dataset_tensors(dataset: Any) -> tuple[torch.Tensor, torch.Tensor] | str:
    """The dataset's samples as two stacked tensors, or why they cannot be."""
    if isinstance(dataset, torch.utils.data.TensorDataset):
        if len(dataset.tensors) == 2:
            return dataset.tensors[0], dataset.tensors[1]
        return f"its TensorDataset holds {len(dataset.tensors)} tensors, not (inputs, targets)"
    try:
        items = [dataset[i] for i in range(len(dataset))]
    except Exception as error:  # noqa: BLE001 - any failure means: not a map-style dataset
        return f"indexing the dataset failed ({type(error).__name__}: {error})"
    if not items:
        return "empty"
    if not all(isinstance(item, (tuple, list)) and len(item) == 2 for item in items):
        return "its samples are not (input, target) pairs"
    xs, ys = zip(*items)
    try:
        inputs = torch.stack([torch.as_tensor(x) for x in xs])
        targets = torch.stack([torch.as_tensor(y) for y in ys])
    except Exception as error:  # noqa: BLE001 - samples of odd types or shapes
        return f"its samples do not stack into tensors ({type(error).__name__})"
    return inputs, targets


def as_training_data(data: Any, batch_size: int | None) -> tuple[Tensors | Stream, str | None]:
    """``data`` as :class:`Tensors` where it can be, else as a :class:`Stream` and the reason.

    A DataLoader keeps its batch size, ``drop_last`` and whether it shuffles; a torch
    Dataset is shuffled in batches of ``batch_size`` (default 64); a list is batches.
    """
    if batch_size is not None:
        _check_batch_size(batch_size)
    if data is None or isinstance(data, (str, bytes)) or not (
            isinstance(data, Iterable) or hasattr(data, "__getitem__")):
        raise bad_value("data", data, "a DataLoader or a dataset of (inputs, targets)",
                        "e.g. data=train_loader", MushinTypeError)
    if isinstance(data, Iterator):
        raise bad_value("data", data, "re-iterable (every epoch makes a pass over it)",
                        "pass a DataLoader, not a generator or iterator", MushinTypeError)
    loader = isinstance(data, torch.utils.data.DataLoader)
    dataset = data.dataset if loader else data
    reason = None
    if loader and data.batch_size is None:
        reason = "the DataLoader has its own batch_sampler"
    elif loader and not isinstance(data.sampler, (torch.utils.data.RandomSampler,
                                                  torch.utils.data.SequentialSampler)):
        reason = f"the DataLoader draws with a {type(data.sampler).__name__}"
    elif isinstance(dataset, torch.utils.data.IterableDataset) or not (
            hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        reason = "the data is not a map-style dataset of tensors"
    elif not loader and not isinstance(dataset, torch.utils.data.Dataset):
        # a list is batches, as everywhere in the package, not samples
        reason = "the data is not a map-style dataset of tensors (it is a list of batches)"
    if reason is None:
        tensors = _dataset_tensors(dataset)
        if isinstance(tensors, str):
            if tensors == "empty":
                raise _empty(data)
            reason = f"the data is not a map-style dataset of tensors: {tensors}"
        elif len(tensors[0]) == 0:
            raise _empty(data)
        else:
            size = batch_size or (data.batch_size if loader else 64)
            shuffle = not loader or isinstance(data.sampler, torch.utils.data.RandomSampler)
            drop = bool(loader and data.drop_last)
            out = Tensors(tensors[0], tensors[1], size, shuffle, drop)
            if not out.batches(seed_generator(0)):  # drop_last with fewer samples than a batch
                raise _empty(data)
            return out, None
    return Stream(data), reason
