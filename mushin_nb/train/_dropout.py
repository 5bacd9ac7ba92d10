"""Dropout masks drawn from each seed's own generator, the same in both training loops.

vmap's ``randomness="different"`` draws every seed's mask in one call of the global RNG,
which one model trained alone can never reproduce. So the dropout modules of a model in
training are switched to identity and a forward hook multiplies their output by a mask
drawn from the seed's generator: at call time in the loop over seeds, and before the
step (shapes known from a probe pass) in the vectorized loop, in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

__all__ = ["DROPOUTS", "MaskFeed", "draw_mask", "dropout_modules"]

#: Module types whose randomness is fed from the seed's generator (elementwise or by channel).
DROPOUTS: dict[type[nn.Module], int] = {nn.Dropout: 0, nn.Dropout1d: 1, nn.Dropout2d: 2,
                                        nn.Dropout3d: 3}


def dropout_modules(model: nn.Module) -> list[nn.Module]:
    """The model's dropout modules that have a chance of dropping (``p > 0``)."""
    return [m for m in model.modules() if type(m) in DROPOUTS and m.p > 0]


def mask_shape(module: nn.Module, shape: torch.Size) -> tuple[int, ...]:
    """The mask shape of ``module`` for an input of ``shape`` (DropoutNd: whole channels)."""
    dims = DROPOUTS[type(module)]
    return tuple(shape) if dims == 0 else tuple(shape[: len(shape) - dims]) + (1,) * dims


def draw_mask(module: nn.Module, shape: tuple[int, ...], generator: torch.Generator
              ) -> torch.Tensor:
    """The scaled keep-mask (0 or ``1/(1-p)``) for one call of ``module``, on the CPU."""
    keep = torch.rand(shape, generator=generator) >= module.p
    scale = 0.0 if module.p >= 1 else 1.0 / (1.0 - module.p)
    return keep.to(torch.float32) * scale


class MaskFeed:
    """Hooks on a model's dropout modules that apply masks given to them (or record shapes).

    ``mode`` is ``"draw"`` (draw each mask at call time from ``generator``), ``"feed"``
    (take the next of ``masks``) or ``"probe"`` (record the mask shapes, apply nothing).
    """

    def __init__(self, model: nn.Module) -> None:
        self.modules = dropout_modules(model)
        self.mode = "probe"
        self.generator: torch.Generator | None = None
        self.masks: list[torch.Tensor] = []
        self.calls: list[tuple[nn.Module, tuple[int, ...]]] = []
        self._handles = [m.register_forward_hook(self._hook) for m in self.modules]
        self._training = {m: m.training for m in self.modules}
        for m in self.modules:
            m.eval()  # identity: the hook applies the mask

    def _hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor | None:
        if self.mode == "probe":
            self.calls.append((module, mask_shape(module, output.shape)))
            return None
        if self.mode == "draw":
            assert self.generator is not None
            mask = draw_mask(module, mask_shape(module, output.shape), self.generator)
            return output * mask.to(output.device)
        return output * self.masks.pop(0)

    @contextmanager
    def probing(self) -> Iterator[list[tuple[nn.Module, tuple[int, ...]]]]:
        """Record the (module, mask shape) of every dropout call of the enclosed forward."""
        mode, self.mode, self.calls = self.mode, "probe", []
        try:
            yield self.calls
        finally:
            self.mode = mode

    def remove(self) -> None:
        """Take the hooks off and give the dropout modules their own behaviour back."""
        for handle in self._handles:
            handle.remove()
        for m, training in self._training.items():
            m.train(training)
