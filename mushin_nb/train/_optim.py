"""Adam, AdamW and SGD over stacked parameters: one update equal to k torch.optim ones.

A stacked parameter holds the same tensor of k models along a leading dimension. Every
update of these optimizers is elementwise, so applying torch.optim's single-tensor
formulas to the stacked tensor updates each model exactly as its own optimizer would.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from mushin_nb.errors import MushinTypeError, bad_value

__all__ = ["OPTIMIZERS", "StackedOptimizer", "check_optimizer", "torch_optimizer"]

#: Names accepted by ``optimizer=``.
OPTIMIZERS = ("adam", "adamw", "sgd")


def check_optimizer(optimizer: Any, lr: Any, weight_decay: Any, momentum: Any) -> str:
    """Validate the optimizer settings; return the optimizer's lower-case name."""
    if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
        raise bad_value("optimizer", optimizer, f"one of {list(OPTIMIZERS)}",
                        "e.g. optimizer='adam'")
    for arg, value, low in (("lr", lr, 0.0), ("weight_decay", weight_decay, 0.0),
                            ("momentum", momentum, 0.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad_value(arg, value, "a float", f"e.g. {arg}={low or 1e-3}", MushinTypeError)
        if not value >= low or value != value or value == float("inf"):
            raise bad_value(arg, value, f"a finite float >= {low}", f"e.g. {arg}={low or 1e-3}")
    if lr == 0:
        raise bad_value("lr", lr, "a float > 0", "e.g. lr=1e-3")
    if momentum and optimizer.lower() != "sgd":
        raise bad_value("momentum", momentum, "0 unless optimizer='sgd'",
                        "use optimizer='sgd' or drop momentum")
    return optimizer.lower()


def torch_optimizer(name: str, params: Iterable[torch.Tensor], lr: float, weight_decay: float,
                    momentum: float) -> torch.optim.Optimizer:
    """The torch.optim optimizer that :class:`StackedOptimizer` reproduces, for one model."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, weight_decay=weight_decay)


class StackedOptimizer:
    """One optimizer over stacked parameters, equal to one torch.optim optimizer per model.

    Parameters
    ----------
    name : {"adam", "adamw", "sgd"}
        With torch.optim's defaults (betas 0.9, 0.999, eps 1e-8; SGD without dampening).
    params : iterable of Tensor
        The stacked leaf tensors (first dimension: the models).
    lr, weight_decay, momentum : float
        As for torch.optim (``momentum`` for SGD only).

    Examples
    --------
    >>> w = torch.ones(3, 2, requires_grad=True)  # 3 models of 2 weights each
    >>> w.grad = torch.ones(3, 2)
    >>> StackedOptimizer("sgd", [w], lr=0.5).step()
    >>> w.detach()[0].tolist()
    [0.5, 0.5]
    """

    def __init__(self, name: str, params: Iterable[torch.Tensor], lr: float,
                 weight_decay: float = 0.0, momentum: float = 0.0) -> None:
        self.name, self.lr = name, float(lr)
        self.weight_decay, self.momentum = float(weight_decay), float(momentum)
        self.params = list(params)
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self.betas, self.eps = (0.9, 0.999), 1e-8

    def zero_grad(self) -> None:
        """Forget the gradients (set them to None, as torch.optim does by default)."""
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Update every stacked parameter that has a gradient (one foreach call per formula
        step over all of them: the per-tensor formulas, with less Python per step)."""
        live = [(p, st) for p, st in zip(self.params, self.state) if p.grad is not None]
        if not live:
            return
        params = [p for p, _ in live]
        grads = [p.grad for p in params]
        states = [st for _, st in live]
        if self.name == "sgd":
            self._sgd(params, grads, states)
        else:
            self._adam(params, grads, states)

    def _sgd(self, params: list[torch.Tensor], grads: list[torch.Tensor],
             states: list[dict[str, Any]]) -> None:
        if self.weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum != 0:
            if "momentum_buffer" not in states[0]:
                for st, grad in zip(states, grads):
                    st["momentum_buffer"] = grad.detach().clone()
            else:
                bufs = [st["momentum_buffer"] for st in states]
                torch._foreach_mul_(bufs, self.momentum)
                torch._foreach_add_(bufs, grads)
            grads = [st["momentum_buffer"] for st in states]
        torch._foreach_add_(params, grads, alpha=-self.lr)

    def _adam(self, params: list[torch.Tensor], grads: list[torch.Tensor],
              states: list[dict[str, Any]]) -> None:
        for st, param in zip(states, params):
            if not st:
                st.update(step=0, exp_avg=torch.zeros_like(param),
                          exp_avg_sq=torch.zeros_like(param))
            st["step"] += 1
        if len({st["step"] for st in states}) > 1:  # steps differ: one group per step count
            for param, grad, st in zip(params, grads, states):
                st["step"] -= 1
                self._adam([param], [grad], [st])
            return
        beta1, beta2 = self.betas
        step = states[0]["step"]
        if self.weight_decay != 0:
            if self.name == "adamw":
                torch._foreach_mul_(params, 1 - self.lr * self.weight_decay)
            else:
                grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        exp_avgs = [st["exp_avg"] for st in states]
        exp_avg_sqs = [st["exp_avg_sq"] for st in states]
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
        step_size = self.lr / (1 - beta1**step)
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, (1 - beta2**step) ** 0.5)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, exp_avgs, denom, value=-step_size)
