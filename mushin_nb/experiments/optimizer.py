"""Optimizer: a torch optimizer chosen by name, with learning-rate control."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from mushin_nb.errors import MushinKeyError, MushinTypeError, bad_value
from mushin_nb.experiments.model import Model

__all__ = ["Optimizer"]


def _optimizers() -> dict[str, type]:
    return {
        attr.lower(): value
        for attr, value in vars(torch.optim).items()
        if isinstance(value, type)
        and issubclass(value, torch.optim.Optimizer)
        and value is not torch.optim.Optimizer
    }


class Optimizer:
    """A ``torch.optim`` optimizer over the parameters of a :class:`Model`.

    Parameters
    ----------
    name_build : str or callable
        A lower-case ``torch.optim`` class name (``"sgd"``, ``"adam"``, ``"adamw"``...)
        or a callable ``(params, *args, **kwargs) -> torch.optim.Optimizer``.
    model : Model or torch.nn.Module
        Whose parameters to optimize.
    *args, **kwargs
        Forwarded to the optimizer (``lr=0.1``, ``momentum=0.9``...).

    Notes
    -----
    Every other attribute (``step``, ``state_dict``, ``param_groups``...) is the
    wrapped optimizer's. :meth:`zero_grad` zeroes in place, which keeps the model's
    flat gradient linked.

    Examples
    --------
    >>> model = Model("digits-mlp", seed=0)
    >>> optimizer = Optimizer("sgd", model, lr=0.1)
    >>> optimizer.set_lr(0.01)
    >>> optimizer.get_lr()
    0.01
    >>> print(optimizer)
    optimizer sgd
    """

    def __init__(
        self,
        name_build: str | Callable[..., torch.optim.Optimizer],
        model: Model | torch.nn.Module,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if isinstance(name_build, str):
            known = _optimizers()
            if name_build not in known:
                raise MushinKeyError(
                    f"Unknown optimizer name {name_build!r}. Known optimizer names: "
                    f"{', '.join(sorted(known))}. Fix: use one of them, or pass a callable."
                )
            build, name = known[name_build], name_build
        elif callable(name_build):
            build, name = name_build, getattr(name_build, "__qualname__", "optimizer")
        else:
            raise bad_value(
                "name_build",
                name_build,
                "an optimizer name or a callable",
                'use e.g. "sgd"',
                MushinTypeError,
            )
        if isinstance(model, Model):
            module = model.module
        elif isinstance(model, torch.nn.Module):
            module = model
        else:
            raise bad_value("model", model, "a Model or a torch.nn.Module", cls=MushinTypeError)
        self._optim = build(module.parameters(), *args, **kwargs)
        self._name = name

    def __getattr__(self, name: str) -> Any:
        if name == "_optim":  # not yet set (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self._optim, name)

    def __str__(self) -> str:
        return f"optimizer {self._name}"

    def zero_grad(self) -> None:
        """Zero every gradient in place (never ``None``: the flat gradient stays linked)."""
        self._optim.zero_grad(set_to_none=False)

    def get_lr(self) -> float:
        """The learning rate (of the first parameter group)."""
        return self._optim.param_groups[0]["lr"]

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of every parameter group."""
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr >= 0:
            raise bad_value("lr", lr, "a number >= 0", "use e.g. lr=0.1")
        for group in self._optim.param_groups:
            group["lr"] = lr

    @property
    def lr(self) -> float:
        """The learning rate; assigning it calls :meth:`set_lr`."""
        return self.get_lr()

    @lr.setter
    def lr(self, value: float) -> None:
        self.set_lr(value)
