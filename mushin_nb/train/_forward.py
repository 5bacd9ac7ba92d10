"""One vmapped forward pass for the k models of one structure (evaluation, no grad)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from mushin_nb.train._batched import batched_forward

__all__ = ["StackedForward", "same_structure_groups"]


def _key(model: Any) -> tuple | None:
    if not isinstance(model, nn.Module):
        return None
    named = [*model.named_parameters(), *model.named_buffers()]
    if not named or len({(t.device, t.dtype) for _, t in named}) != 1:
        return None
    shapes = tuple((name, t.shape, t.dtype) for name, t in named)
    # each module's class and settings (what its repr shows, without building the string)
    modules = tuple((name, type(m), m.extra_repr()) for name, m in model.named_modules())
    return (named[0][1].device, shapes, modules)


def same_structure_groups(models: Sequence[Any]) -> list[list[int]]:
    """Indices of ``models`` grouped by structure (class, repr, names, shapes, device).

    Models that cannot be stacked (not a Module, no tensors, mixed devices) stay alone.

    Examples
    --------
    >>> same_structure_groups([nn.Linear(2, 3), nn.Linear(2, 3), nn.Linear(3, 2), len])
    [[0, 1], [2], [3]]
    """
    groups: dict[Any, list[int]] = {}
    for i, model in enumerate(models):
        key = _key(model)
        groups.setdefault(key if key is not None else ("alone", i), []).append(i)
    return list(groups.values())


class StackedForward:
    """``forward(x) -> (k, N, ...)``: the outputs of k models of one structure on ``x``.

    The models' parameters and buffers are stacked once (a copy: later changes to the
    models are not seen).  A plain feed-forward net runs on batched kernels (see
    :func:`mushin_nb.train._batched.batched_forward`); any other, a stateless copy of the
    first model under ``torch.func.vmap`` in eval mode.

    Examples
    --------
    >>> models = [nn.Linear(2, 3) for _ in range(4)]
    >>> x = torch.ones(5, 2)
    >>> out = StackedForward(models)(x)
    >>> tuple(out.shape), bool(torch.allclose(out[2], models[2](x)))
    ((4, 5, 3), True)
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        import copy

        from torch.func import functional_call, vmap

        with torch.no_grad():  # a copy of each stacked tensor, outside autograd
            self.params = _stacked([dict(m.named_parameters()) for m in models])
            self.buffers = _stacked([dict(m.named_buffers()) for m in models])
        self._batched = batched_forward(models[0])  # reads the structure only
        if self._batched is not None:
            return
        self.base = copy.deepcopy(models[0]).to("meta").eval()

        def one(p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
            return functional_call(self.base, (p, b), (x,))

        self._forward = vmap(one, in_dims=(0, 0, None))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self._batched is not None:
            with torch.no_grad():
                return self._batched(self.params, x, shared=True)
        # vmap runs several times slower under inference_mode than under no_grad
        with torch.inference_mode(False), torch.no_grad():
            return self._forward(self.params, self.buffers, x)


def _stacked(named: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """``{name: (k, ...) tensor}``: the k models' tensors of each name, stacked."""
    return {name: torch.stack([one[name] for one in named]) for name in named[0]}
