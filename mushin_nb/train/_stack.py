"""k models of one structure as stacked tensors, and how many of them fit at once."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from mushin_nb.errors import bad_value

__all__ = ["check_same_structure", "chunk_size", "memory_per_seed", "stack", "unstack"]


def structure(model: nn.Module) -> list[tuple[str, tuple[int, ...], str]]:
    tensors = [*model.named_parameters(), *model.named_buffers()]
    return [(name, tuple(t.shape), str(t.dtype)) for name, t in tensors]


def check_same_structure(models: dict[int, nn.Module], arg: str = "build") -> None:
    """Raise if the models do not share names, shapes and dtypes of parameters and buffers."""
    seeds = list(models)
    first = structure(models[seeds[0]])
    for seed in seeds[1:]:
        other = structure(models[seed])
        if other != first:
            diff = next((a, b) for a, b in zip(first + [None], other + [None]) if a != b)
            raise bad_value(arg, models[seed].__class__.__name__,
                            "a function that returns models of one structure for every seed",
                            f"seed {seeds[0]} gives {diff[0]} but seed {seed} gives {diff[1]}; "
                            "build the same architecture whatever the seed")


def stack(models: Sequence[nn.Module], device: torch.device
          ) -> tuple[nn.Module, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A stateless copy of the first model (on 'meta') and the stacked parameters and buffers.

    The parameters are leaf tensors that require grad, shaped ``(k, *shape)``.
    """
    from torch.func import stack_module_state

    params, buffers = stack_module_state(list(models))
    params = {k: v.detach().to(device).requires_grad_(True) for k, v in params.items()}
    buffers = {k: v.to(device) for k, v in buffers.items()}
    base = copy.deepcopy(models[0]).to("meta")
    return base, params, buffers


@torch.no_grad()
def unstack(models: Sequence[nn.Module], params: dict[str, torch.Tensor],
            buffers: dict[str, torch.Tensor]) -> None:
    """Copy slice ``i`` of the stacked tensors into ``models[i]``."""
    for i, model in enumerate(models):
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            stacked = params.get(name, buffers.get(name))
            if stacked is not None:
                tensor.copy_(stacked[i])


def memory_per_seed(model: nn.Module, activations: int) -> int:
    """Bytes one more seed costs: weights, grads and two optimizer moments, buffers, and
    the activations of one batch (``activations`` elements) kept for backward."""
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    return 4 * params + buffers + 2 * 4 * activations


def free_memory(device: torch.device) -> int | None:
    """Bytes free on ``device`` for new tensors: CUDA's count, None elsewhere (no limit)."""
    return torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None


def chunk_size(k: int, max_parallel: int | None, per_seed: int, free: int | None = None,
               where: str = "the device") -> tuple[int, str]:
    """How many of ``k`` seeds to train together, and why that many.

    At most ``max_parallel``, and as many as fit in 80% of ``free`` bytes (None: no limit)
    at ``per_seed`` bytes each; never fewer than one.

    Examples
    --------
    >>> chunk_size(10, None, per_seed=2**30, free=4 * 2**30, where="cuda:0")
    (3, '3 fit in 80% of the 4.00 GiB free on cuda:0 (about 1024.0 MiB per seed)')
    >>> chunk_size(10, 4, per_seed=2**20), chunk_size(10, None, per_seed=2**20)
    ((4, 'max_parallel=4'), (10, 'all 10 seeds at once'))
    """
    size, why = k, f"all {k} seeds at once"
    if max_parallel is not None and max_parallel < size:
        size, why = max_parallel, f"max_parallel={max_parallel}"
    if free is not None:
        fits = max(1, int(0.8 * free) // max(per_seed, 1))
        if fits < size:
            size = fits
            why = (f"{fits} fit in 80% of the {free / 2**30:.2f} GiB free on {where} "
                   f"(about {per_seed / 2**20:.1f} MiB per seed)")
    return size, why


def count_activations(model: nn.Module, run: Any) -> int:
    """Elements of every leaf module's output during ``run()`` (one forward)."""
    total = [0]

    def hook(_m: nn.Module, _a: Any, out: Any) -> None:
        if isinstance(out, torch.Tensor):
            total[0] += out.numel()

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return total[0]
