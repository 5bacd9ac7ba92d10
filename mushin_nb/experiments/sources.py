"""Torchvision datasets as DataLoader builders: default transforms, seeded loaders, no downloads."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mushin_nb.errors import MushinFileNotFoundError, MushinTypeError, MushinValueError, bad_value

__all__ = ["default_root", "get_default_transform", "loader", "torchvision_builder"]


def default_root() -> Path:
    """Default root of named datasets: ``$MUSHIN_NB_DATA``, else
    ``~/.cache/mushin_nb/datasets`` (not created here)."""
    env = os.environ.get("MUSHIN_NB_DATA")
    return Path(env) if env else Path.home() / ".cache" / "mushin_nb" / "datasets"


_MNIST = ((0.1307,), (0.3081,))
_CIFAR = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))


def get_default_transform(dataset: str | None, train: bool) -> Any:
    """The usual transform of a torchvision dataset, or ``None`` for other names.

    ``mnist`` is normalized, ``fashionmnist`` and ``imagenet`` flipped at random,
    ``cifar10`` / ``cifar100`` flipped and normalized (the same for train and test, as
    in robust-SGD papers). ``train`` is accepted for datasets that would differ.

    Examples
    --------
    >>> get_default_transform("mnist", train=True)
    Compose(
        ToTensor()
        Normalize(mean=(0.1307,), std=(0.3081,))
    )
    >>> get_default_transform("digits", train=True) is None
    True
    """
    if not isinstance(train, bool):
        raise bad_value("train", train, "a bool", cls=MushinTypeError)
    if dataset not in ("mnist", "fashionmnist", "cifar10", "cifar100", "imagenet"):
        return None
    from torchvision import transforms

    if dataset == "mnist":
        steps = [transforms.ToTensor(), transforms.Normalize(*_MNIST)]
    elif dataset.startswith("cifar"):
        steps = [
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(*_CIFAR),
        ]
    else:
        steps = [transforms.RandomHorizontalFlip(), transforms.ToTensor()]
    return transforms.Compose(steps)


def loader(
    data: torch.utils.data.Dataset,
    batch_size: int | None,
    shuffle: bool,
    num_workers: int,
    seed: int | None,
) -> torch.utils.data.DataLoader:
    """A DataLoader whose shuffling follows ``seed`` (never the global RNG when given)."""
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0
    ):
        raise bad_value("batch_size", batch_size, "a positive int, or None/0 for everything")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise bad_value("seed", seed, "an int or None", cls=MushinTypeError)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.utils.data.DataLoader(
        data,
        batch_size=batch_size or len(data),  # type: ignore[arg-type]
        shuffle=shuffle,
        num_workers=num_workers,
        generator=generator,
    )


def torchvision_builder(name: str, cls: type) -> Callable[..., torch.utils.data.DataLoader]:
    """Wrap torchvision dataset class ``cls`` into a builder returning a DataLoader.

    The builder never downloads: a dataset missing from ``root`` raises a
    :class:`~mushin_nb.errors.MushinFileNotFoundError` that names the root.
    """
    accepted = inspect.signature(cls).parameters

    def build(
        root: str | os.PathLike[str] | None = None,
        train: bool = True,
        batch_size: int | None = None,
        shuffle: bool = False,
        num_workers: int = 0,
        seed: int | None = None,
        transform: Any = None,
        download: bool = False,
        **kwargs: Any,
    ) -> torch.utils.data.DataLoader:
        if download:
            raise MushinValueError(
                f"`download` must be False, got {download!r}: datasets are never downloaded "
                f"here. Fix: download once with torchvision.datasets.{cls.__name__}(root, "
                "download=True) on a machine with internet, then pass root=."
            )
        if transform is None:
            from torchvision import transforms

            transform = get_default_transform(name, train) or transforms.ToTensor()
        options = dict(kwargs)
        if "transform" in accepted:
            options["transform"] = transform
        if "train" in accepted:
            options["train"] = train
        if "download" in accepted:
            options["download"] = False
        if "root" in accepted:
            options["root"] = str(root if root is not None else default_root())
        try:
            data = cls(**options)
        except (RuntimeError, FileNotFoundError) as error:
            if isinstance(error, RuntimeError) and "download" not in str(error).lower():
                raise
            where = options.get("root", root)
            raise MushinFileNotFoundError(
                f"Dataset {name!r} is not in root {str(where)!r} and this machine does not "
                f"download it. Fix: download it once (torchvision.datasets.{cls.__name__}("
                f"{str(where)!r}, download=True)) where there is internet, or pass root= "
                f"pointing to a copy. ({error})"
            ) from error
        return loader(data, batch_size, shuffle, num_workers, seed)

    build.__name__ = build.__qualname__ = f"torchvision_{name}"
    return build
