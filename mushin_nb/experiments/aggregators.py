"""Gradient aggregation rules of robust distributed SGD: average, median, Krum, Multi-Krum.

Every rule is ``rule(gradients, f, **kwargs) -> Tensor`` where ``gradients`` is a
sequence of ``n`` same-shaped tensors (or one tensor whose first dimension is ``n``),
``f`` the number of Byzantine gradients to tolerate, and the result has the shape of
one gradient. Unused keyword arguments are ignored, so one call site can switch rules.

This module is also the registry of the rules: ``aggregators["krum"]``,
``list(aggregators)``, ``aggregators.register("name")`` to add one.

Examples
--------
>>> from mushin_nb.experiments import aggregators
>>> sorted(aggregators)
['average', 'krum', 'median', 'multi-krum']
>>> aggregators["multi_krum"] is aggregators.multi_krum
True
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value
from mushin_nb.experiments.registry import Registry

__all__ = ["average", "median", "krum", "multi_krum", "register", "rules"]

Gradients = Sequence[torch.Tensor] | torch.Tensor

rules = Registry(
    "aggregator",
    normalize=lambda name: name.replace("_", "-"),
    register_hint='aggregators.register("name")',
)
register = rules.register


def _stack(gradients: Any) -> torch.Tensor:
    """The gradients as one (n, ...) tensor."""
    if isinstance(gradients, torch.Tensor):
        if gradients.dim() < 1 or len(gradients) == 0:
            raise bad_value(
                "gradients", gradients, "a tensor of shape (n, d) with n >= 1", cls=MushinValueError
            )
        return gradients
    if not isinstance(gradients, Sequence) or len(gradients) == 0:
        raise bad_value(
            "gradients",
            gradients,
            "a non-empty sequence of tensors, or a tensor of shape (n, d)",
            cls=MushinTypeError,
        )
    if not all(isinstance(gradient, torch.Tensor) for gradient in gradients):
        raise bad_value("gradients", gradients, "a sequence of torch.Tensor", cls=MushinTypeError)
    shapes = {tuple(gradient.shape) for gradient in gradients}
    if len(shapes) > 1:
        raise MushinValueError(
            f"`gradients` must all have the same shape, got shapes {sorted(shapes)}. "
            "Fix: pass flat gradients of one model (Model.get_gradient())."
        )
    return torch.stack(list(gradients))


def _check_f(f: Any, n: int, minimum: int, rule: str, bound: str) -> None:
    if isinstance(f, bool) or not isinstance(f, int) or f < 0:
        raise bad_value(
            "f", f, "an int >= 0 (the number of Byzantine gradients)", cls=MushinTypeError
        )
    if n < minimum:
        raise MushinValueError(
            f"`f` = {f} is too large for {rule} with n = {n} gradients: it requires {bound}. "
            f"Fix: use f <= {_largest_f(n, bound)} or send more gradients."
        )


def _largest_f(n: int, bound: str) -> int:
    # bounds are "n >= 2f+3" (Krum) and "n >= 2f+1" (median)
    offset = 3 if bound.endswith("3") else 1
    return max((n - offset) // 2, 0)


@rules.register("average")
def average(gradients: Gradients, f: int = 0, **kwargs: Any) -> torch.Tensor:
    """The arithmetic mean (not robust: one Byzantine gradient can move it anywhere).

    Examples
    --------
    >>> average([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0])])
    tensor([2., 4.])
    """
    stacked = _stack(gradients)
    _check_f(f, len(stacked), 1, "average", "n >= 1")
    return stacked.mean(dim=0)


@rules.register("median")
def median(gradients: Gradients, f: int = 0, **kwargs: Any) -> torch.Tensor:
    """The coordinate-wise median (mean of the two middle values when n is even).

    Requires ``n >= 2f + 1``.

    Examples
    --------
    >>> median(torch.tensor([[1.0, 10.0], [2.0, 30.0], [100.0, 20.0], [3.0, -5.0]]), f=1)
    tensor([ 2.5000, 15.0000])
    """
    stacked = _stack(gradients)
    n = len(stacked)
    _check_f(f, n, 2 * f + 1, "median", "n >= 2f+1")
    ordered = stacked.sort(dim=0).values
    middle = ordered[(n - 1) // 2]
    return middle if n % 2 else (middle + ordered[n // 2]) / 2


def _scores(flat: torch.Tensor, f: int) -> torch.Tensor:
    """Krum score of each row: sum of squared distances to its n - f - 2 nearest others."""
    n = len(flat)
    distances = torch.empty(n, n, dtype=flat.dtype, device=flat.device)
    for i in range(n):  # row by row keeps memory at O(n d), not O(n^2 d)
        distances[i] = (flat - flat[i]).pow(2).sum(dim=1)
    distances = torch.where(torch.isfinite(distances), distances, torch.inf)
    distances.fill_diagonal_(torch.inf)  # a gradient is not its own neighbour
    nearest = distances.sort(dim=1).values[:, : n - f - 2]
    return nearest.sum(dim=1)


@rules.register("multi-krum")
def multi_krum(gradients: Gradients, f: int, m: int | None = None, **kwargs: Any) -> torch.Tensor:
    """Multi-Krum (Blanchard et al., 2017): the mean of the ``m`` lowest-score gradients.

    The score of gradient i is the sum of the squared distances to its ``n - f - 2``
    nearest other gradients (non-finite distances count as infinite); ties keep the
    lower index. Requires ``n >= 2f + 3``; ``m`` defaults to ``n - f``.

    Examples
    --------
    >>> grads = torch.tensor([[0.0], [1.0], [2.0], [3.0], [100.0]])
    >>> multi_krum(grads, f=1, m=2)  # scores 5, 2, 2, 5, ...: gradients 1 and 2
    tensor([1.5000])
    """
    stacked = _stack(gradients)
    n = len(stacked)
    _check_f(f, n, 2 * f + 3, "Krum", "n >= 2f+3")
    m = n - f if m is None else m
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= n:
        raise bad_value("m", m, f"an int in [1, n={n}]", f"use e.g. m={n - f} (n - f)")
    scores = _scores(stacked.reshape(n, -1), f)
    selected = torch.argsort(scores, stable=True)[:m]
    return stacked[selected].mean(dim=0)


@rules.register("krum")
def krum(gradients: Gradients, f: int, **kwargs: Any) -> torch.Tensor:
    """Krum (Blanchard et al., 2017): the gradient of lowest score (Multi-Krum, m = 1).

    Requires ``n >= 2f + 3``.

    Examples
    --------
    >>> grads = [torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([2.0]),
    ...          torch.tensor([3.0]), torch.tensor([-50.0])]
    >>> krum(grads, f=1)
    tensor([1.])
    """
    kwargs.pop("m", None)
    return multi_krum(gradients, f, m=1)


class _RulesModule(types.ModuleType):
    """This module, readable as the mapping ``rule name -> rule`` of :data:`rules`."""

    def __getitem__(self, name: str) -> Any:
        return rules[name]

    def __iter__(self) -> Iterator[str]:
        return iter(rules)

    def __len__(self) -> int:
        return len(rules)

    def __contains__(self, name: object) -> bool:
        return name in rules


# one name for both the module and its registry, without one shadowing the other
sys.modules[__name__].__class__ = _RulesModule
