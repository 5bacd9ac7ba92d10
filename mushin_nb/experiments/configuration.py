"""Configuration: the immutable (device, dtype, non_blocking) triple of a training run."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value

__all__ = ["Configuration"]


class Configuration(Mapping):
    """Immutable tensor configuration, usable as ``tensor.to(**config)``.

    Parameters
    ----------
    device : str or torch.device, optional
        Where tensors live; ``None`` picks the job's device: its first GPU (``"cuda"``;
        in a sweep job with ``gpus_per_job``, Ray or SLURM set ``CUDA_VISIBLE_DEVICES``
        to the job's own GPUs, so that is the GPU the job was given), else ``"cpu"``.
        A CUDA device asked for on a machine without CUDA falls back to the CPU with
        a warning.
    dtype : torch.dtype, optional
        Floating-point type of the parameters; ``None`` is torch's default dtype.
    noblock : bool
        Ask for non-blocking host-to-device copies.
    relink : bool
        Make :meth:`Model.set` / :meth:`Model.set_gradient` relink (share the given
        tensor) instead of copying, by default.

    Examples
    --------
    >>> config = Configuration(device="cpu", dtype=torch.float64)
    >>> dict(config)
    {'device': device(type='cpu'), 'dtype': torch.float64, 'non_blocking': False}
    >>> torch.zeros(2).to(**config).dtype
    torch.float64
    >>> config.relink
    False
    """

    def __init__(
        self,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        noblock: bool = False,
        relink: bool = False,
    ) -> None:
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if not isinstance(device, (str, torch.device)):
            raise bad_value(
                "device", device, "a str or torch.device", 'use e.g. device="cpu"', MushinTypeError
            )
        if isinstance(device, str):
            if device.startswith("cuda") and not torch.cuda.is_available():
                warnings.warn(
                    f"device={device!r} asked for but CUDA is unavailable; using the CPU.",
                    stacklevel=2,
                )
                device = "cpu"
            try:
                device = torch.device(device)
            except RuntimeError as error:
                raise bad_value(
                    "device", device, "a torch device name", 'use e.g. "cpu" or "cuda:0"'
                ) from error
        if dtype is None:
            dtype = torch.get_default_dtype()
        if not isinstance(dtype, torch.dtype):
            raise bad_value(
                "dtype", dtype, "a torch.dtype", "use e.g. dtype=torch.float32", MushinTypeError
            )
        if not dtype.is_floating_point:
            raise bad_value("dtype", dtype, "a floating-point torch.dtype", "use torch.float32")
        for arg, value in (("noblock", noblock), ("relink", relink)):
            if not isinstance(value, bool):
                raise bad_value(arg, value, "a bool", cls=MushinTypeError)
        object.__setattr__(
            self, "_args", {"device": device, "dtype": dtype, "non_blocking": noblock}
        )
        object.__setattr__(self, "_relink", relink)

    @property
    def relink(self) -> bool:
        """Whether assignments relink by default instead of copying."""
        return self._relink

    def __setattr__(self, name: str, value: Any) -> None:
        raise MushinValueError(
            f"Configuration is immutable: cannot set {name!r} to {value!r}. "
            "Fix: build a new Configuration(...)."
        )

    def __getitem__(self, name: str) -> Any:
        return self._args[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._args)

    def __len__(self) -> int:
        return len(self._args)

    def __hash__(self) -> int:
        return hash((*self._args.values(), self._relink))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Configuration):
            return NotImplemented
        return self._args == other._args and self._relink == other._relink

    def __str__(self) -> str:
        return str({**self._args, "relink": self._relink})

    def __repr__(self) -> str:
        args = self._args
        return (
            f"Configuration(device={args['device']!r}, dtype={args['dtype']!r}, "
            f"noblock={args['non_blocking']!r}, relink={self._relink!r})"
        )
