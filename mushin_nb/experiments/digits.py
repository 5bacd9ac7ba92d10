"""The ``"digits"`` dataset: scikit-learn's embedded 8x8 handwritten digits, no download.

1797 images of 10 classes, split into train and test with a stratified, seeded
``sklearn.model_selection.train_test_split``; images are float32 tensors shaped
(N, 1, 8, 8) scaled to [0, 1], labels int64.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
import torch

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.experiments.registry import register_dataset
from mushin_nb.experiments.sources import loader

__all__ = ["digits", "digits_loaders", "digits_tensors"]


@functools.lru_cache(maxsize=1)
def _arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # pixel values are integers in [0, 16]
    images = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    return images, bunch.target.astype(np.int64)


def _check_split(seed: Any, test_size: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise bad_value("seed", seed, "an int >= 0", "use e.g. seed=0", MushinTypeError)
    if isinstance(test_size, bool) or not isinstance(test_size, float) or not 0 < test_size < 1:
        raise bad_value("test_size", test_size, "a float in (0, 1)", "use e.g. test_size=0.25")


def digits_tensors(
    train: bool = True, seed: int = 0, test_size: float = 0.25
) -> tuple[torch.Tensor, torch.Tensor]:
    """The train (or test) images and labels of the seeded stratified split.

    Examples
    --------
    >>> x, y = digits_tensors(train=False)
    >>> tuple(x.shape), x.dtype, y.dtype, float(x.min()), float(x.max())
    ((450, 1, 8, 8), torch.float32, torch.int64, 0.0, 1.0)
    """
    from sklearn.model_selection import train_test_split

    _check_split(seed, test_size)
    if not isinstance(train, bool):
        raise bad_value("train", train, "a bool", cls=MushinTypeError)
    images, labels = _arrays()
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, random_state=int(seed), stratify=labels
    )
    x, y = (x_train, y_train) if train else (x_test, y_test)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))


@register_dataset("digits")
def digits(
    root: str | os.PathLike[str] | None = None,
    train: bool = True,
    batch_size: int | None = None,
    shuffle: bool | None = None,
    seed: int = 0,
    test_size: float = 0.25,
    num_workers: int = 0,
) -> torch.utils.data.DataLoader:
    """Builder of the ``"digits"`` dataset: a DataLoader over one split.

    ``root`` is ignored (the data ships with scikit-learn). ``shuffle`` defaults to
    ``train``; the shuffle order follows ``seed``, as does the split.

    Examples
    --------
    >>> from mushin_nb.experiments import Dataset
    >>> testset = Dataset("digits", train=False, batch_size=50)
    >>> sum(len(labels) for _, labels in testset.epoch())
    450
    """
    x, y = digits_tensors(train, seed, test_size)
    shuffle = train if shuffle is None else shuffle
    data = torch.utils.data.TensorDataset(x, y)
    return loader(data, batch_size, shuffle, num_workers, int(seed))


def digits_loaders(
    batch_size: int = 64, seed: int = 0, test_size: float = 0.25
) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """Train and test DataLoaders of ``digits``: re-iterable and deterministic.

    The train loader reshuffles at each pass from a generator seeded with ``seed``
    (so two calls with the same seed yield the same batches); the test loader keeps
    its order.

    Examples
    --------
    >>> train, test = digits_loaders(batch_size=64, seed=0)
    >>> len(train.dataset), len(test.dataset), len(train)
    (1347, 450, 22)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise bad_value("batch_size", batch_size, "a positive int", "use e.g. batch_size=64")
    return (
        digits(train=True, batch_size=batch_size, seed=seed, test_size=test_size),
        digits(train=False, batch_size=batch_size, seed=seed, test_size=test_size),
    )
