"""Loss (differentiable, composable with ``+`` and ``*``) and Criterion (accuracy counts)."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import torch

from mushin_nb.errors import MushinKeyError, MushinTypeError, MushinValueError, bad_value

__all__ = ["Loss", "Criterion"]

LossFn = Callable[[Any, Any, torch.Tensor], torch.Tensor]


def _drop_params(module: Callable[[Any, Any], torch.Tensor]) -> LossFn:
    def loss(output: Any, target: Any, params: torch.Tensor) -> torch.Tensor:
        return module(output, target)

    return loss


def _torch_losses() -> dict[str, type]:
    found = {}
    for attr in dir(torch.nn.modules.loss):
        value = getattr(torch.nn.modules.loss, attr)
        if (
            len(attr) > 4
            and not attr.startswith("_")
            and attr.endswith("Loss")
            and isinstance(value, type)
            and issubclass(value, torch.nn.Module)
        ):
            found[attr[:-4].lower()] = value
    return found


def _l1(output: Any, target: Any, params: torch.Tensor) -> torch.Tensor:
    return params.norm(p=1)


def _l2(output: Any, target: Any, params: torch.Tensor) -> torch.Tensor:
    return params.norm()


def _names() -> list[str]:
    return sorted(set(_torch_losses()) | {"l1", "l2"})


class Loss:
    """A differentiable loss ``loss(output, target, params) -> scalar tensor``.

    Parameters
    ----------
    name_build : str, loss class or callable
        A lower-case torch loss name without the ``Loss`` suffix (``"nll"``,
        ``"crossentropy"``, ``"mse"``, ``"bce"``...), ``"l1"`` / ``"l2"`` (the L1 norm /
        Euclidean norm of the flat parameter vector ``params``: regularizers), a
        ``torch.nn`` loss class, or a builder returning ``fn(output, target, params)``.
    *args, **kwargs
        Forwarded to the loss class or builder (e.g. ``reduction="sum"``).

    Notes
    -----
    ``loss_a + loss_b`` and ``factor * loss`` (``loss * factor``, ``loss *= factor``)
    build new losses; ``sum(losses)`` works.

    Examples
    --------
    >>> params = torch.tensor([3.0, -4.0])
    >>> output, target = torch.tensor([[0.0, 2.0]]), torch.tensor([1])
    >>> reg = 0.5 * Loss("l2")
    >>> print(Loss("crossentropy") + reg)
    loss (crossentropy + 0.5 × l2)
    >>> float(reg(output, target, params))  # 0.5 * ||(3, -4)||
    2.5
    """

    def __init__(self, name_build: str | type | Callable[..., LossFn], *args: Any, **kwargs: Any):
        if isinstance(name_build, type) and issubclass(name_build, torch.nn.Module):
            fn, name = _drop_params(name_build(*args, **kwargs)), name_build.__name__
            uses_params = False
        elif callable(name_build):
            fn, name = name_build(*args, **kwargs), getattr(name_build, "__qualname__", "loss")
            if not callable(fn):
                raise bad_value(
                    "name_build",
                    name_build,
                    "a builder returning a callable fn(output, target, params)",
                    cls=MushinTypeError,
                )
            uses_params = True
        elif isinstance(name_build, str):
            uses_params = name_build in ("l1", "l2")
            if name_build in ("l1", "l2"):
                if args or kwargs:
                    raise MushinTypeError(
                        f"Loss {name_build!r} takes no arguments, got {args!r} {kwargs!r}. "
                        f"Fix: scale it instead, e.g. 0.01 * Loss({name_build!r})."
                    )
                fn = _l1 if name_build == "l1" else _l2
            else:
                losses = _torch_losses()
                if name_build not in losses:
                    raise MushinKeyError(
                        f"Unknown loss name {name_build!r}. Known loss names: "
                        f"{', '.join(_names())}. Fix: use one of them, or pass a callable."
                    )
                fn = _drop_params(losses[name_build](*args, **kwargs))
            name = name_build
        else:
            raise bad_value(
                "name_build",
                name_build,
                "a loss name or a callable",
                'use e.g. "nll"',
                MushinTypeError,
            )
        self._fn: LossFn = fn
        self._fact = 1.0
        self._name = name
        self._uses_params = uses_params

    @classmethod
    def _make(cls, fn: LossFn, fact: float, name: str, uses_params: bool) -> Loss:
        loss = cls.__new__(cls)
        loss._fn, loss._fact, loss._name, loss._uses_params = fn, fact, name, uses_params
        return loss

    @property
    def uses_params(self) -> bool:
        """Whether the loss reads ``params`` (then :meth:`Model.loss` passes a flat vector
        that gradients flow through)."""
        return self._uses_params

    def _label(self) -> str:
        return self._name if self._fact == 1.0 else f"{self._fact:g} × {self._name}"

    def __str__(self) -> str:
        return f"loss {self._label()}"

    def __repr__(self) -> str:
        return f"<Loss {self._label()}>"

    def __call__(self, output: Any, target: Any, params: torch.Tensor) -> torch.Tensor:
        """The loss of ``output`` against ``target`` at the flat parameters ``params``."""
        value = self._fn(output, target, params)
        return value if self._fact == 1.0 else value * self._fact

    def __add__(self, other: Loss) -> Loss:
        if not isinstance(other, Loss):
            raise bad_value("other", other, "a Loss", "wrap it: Loss(...)", MushinTypeError)

        def total(output: Any, target: Any, params: torch.Tensor) -> torch.Tensor:
            return self(output, target, params) + other(output, target, params)

        label = f"({self._label()} + {other._label()})"
        return Loss._make(total, 1.0, label, self._uses_params or other._uses_params)

    def __radd__(self, other: Any) -> Loss:
        if isinstance(other, numbers.Number) and other == 0:  # sum() starts from 0
            return self
        return self.__add__(other)

    def __mul__(self, factor: float) -> Loss:
        return Loss._make(self._fn, self._fact * _factor(factor), self._name, self._uses_params)

    __rmul__ = __mul__

    def __imul__(self, factor: float) -> Loss:
        self._fact *= _factor(factor)
        return self


def _factor(factor: Any) -> float:
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
        raise bad_value("factor", factor, "a real number", "use e.g. 0.01 * loss", MushinTypeError)
    return float(factor)


class _TopK:
    def __init__(self, k: int = 1) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise bad_value("k", k, "a positive int", "use e.g. k=1")
        self.k = k

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.dim() != 2 or output.shape[1] < self.k:
            raise MushinValueError(
                f"`output` must be (batch, classes) with classes >= k={self.k}, got shape "
                f"{tuple(output.shape)}. Fix: pass logits or scores of shape (N, C)."
            )
        top = output.topk(self.k, dim=1).indices
        correct = (top == target.reshape(-1, 1)).any(dim=1).sum()
        return torch.stack([correct, torch.tensor(len(target), device=correct.device)])


class _Sigmoid:
    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.numel() != target.numel():
            raise MushinValueError(
                f"`output` ({output.numel()} values) and `target` ({target.numel()} values) "
                "must have one value per sample. Fix: pass (N,) or (N, 1) tensors."
            )
        correct = (target.reshape(-1).to(output.dtype) - output.reshape(-1)).abs() < 0.5
        return torch.tensor(
            [int(correct.sum()), correct.numel()], dtype=output.dtype, device=output.device
        )


class Criterion:
    """A non-differentiable score returning ``tensor([num_correct, batch_size])``.

    Parameters
    ----------
    name_build : str or callable
        ``"top-k"`` (``k=1`` by default: the target is among the k largest outputs) or
        ``"sigmoid"`` (outputs in [0, 1] against 0/1 targets, correct when within 0.5),
        or a builder returning ``fn(output, target)``.
    *args, **kwargs
        Forwarded to the builder (e.g. ``k=5``).

    Examples
    --------
    >>> output = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    >>> Criterion("top-k")(output, torch.tensor([1, 1, 1]))
    tensor([2, 3])
    >>> Criterion("sigmoid")(torch.tensor([0.9, 0.2]), torch.tensor([1, 1]))
    tensor([1., 2.])
    """

    _builders: dict[str, Callable[..., Callable[[Any, Any], torch.Tensor]]] = {
        "top-k": _TopK,
        "sigmoid": _Sigmoid,
    }

    def __init__(self, name_build: str | Callable[..., Any], *args: Any, **kwargs: Any):
        if isinstance(name_build, str):
            if name_build not in self._builders:
                raise MushinKeyError(
                    f"Unknown criterion name {name_build!r}. Known criterion names: "
                    f"{', '.join(self._builders)}. Fix: use one of them, or pass a callable."
                )
            build, name = self._builders[name_build], name_build
        elif callable(name_build):
            build, name = name_build, getattr(name_build, "__qualname__", "criterion")
        else:
            raise bad_value(
                "name_build", name_build, "a criterion name or a callable", cls=MushinTypeError
            )
        self._crit = build(*args, **kwargs)
        self._name = name

    def __str__(self) -> str:
        return f"criterion {self._name}"

    def __call__(self, output: Any, target: Any) -> torch.Tensor:
        """``tensor([num_correct, batch_size])`` of ``output`` against ``target``."""
        return self._crit(output, target)
