"""The two training loops: one seed after another (the reference) and all seeds at once.

Both draw each seed's batch order from ``seed_generator(seed)`` and its dropout masks
from ``seed_generator(seed, 1)``, call the loss on the same batches and update with
equal optimizers, so they give the same weights and curves to float tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from mushin_nb.errors import bad_value
from mushin_nb.train._batched import batched_forward, batched_loss
from mushin_nb.train._data import Stream, Tensors, seed_generator
from mushin_nb.train._dropout import MaskFeed, draw_mask
from mushin_nb.train._optim import StackedOptimizer, torch_optimizer
from mushin_nb.train._stack import count_activations, stack, unstack

__all__ = ["NotVectorizable", "Outcome", "Settings", "probe", "train_one", "train_stacked"]

#: ``on_epoch(seed, epoch, loss)`` after each epoch a seed finished.
OnEpoch = Callable[[int, int, float], None]


@dataclass(frozen=True)
class Settings:
    """What both loops need to know besides the models and the data."""

    epochs: int
    lr: float
    optimizer: str
    weight_decay: float
    momentum: float
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    device: torch.device


@dataclass
class Outcome:
    """One seed's training: its mean loss per epoch, and the epoch its loss became NaN."""

    curve: list[float] = field(default_factory=list)
    nan_epoch: int | None = None


class NotVectorizable(Exception):  # noqa: N818 - internal signal, caught by the trainer
    """vmap could not run the model's first step; the reason says why."""


def _no_batch(data: object) -> Exception:
    return bad_value("data", data, "data that yields at least one batch per epoch",
                     "pass a DataLoader over a non-empty dataset")


def _batches(data: Tensors | Stream, order: torch.Generator, device: torch.device):
    if isinstance(data, Stream):
        for x, y in data.epoch():
            yield x.to(device), y.to(device)
        return
    for idx in data.batches(order):
        idx = idx.to(device)
        yield data.inputs[idx], data.targets[idx]


def train_one(model: nn.Module, seed: int, data: Tensors | Stream, s: Settings,
              on_epoch: OnEpoch) -> Outcome:
    """Train ``model`` (built for ``seed``) with a torch.optim optimizer: the reference loop."""
    model.to(s.device).train()
    feed = MaskFeed(model)
    feed.mode, feed.generator = "draw", seed_generator(seed, 1)
    optimizer = torch_optimizer(s.optimizer, model.parameters(), s.lr, s.weight_decay,
                                s.momentum)
    order, out = seed_generator(seed), Outcome()
    try:
        for epoch in range(1, s.epochs + 1):
            total, count = 0.0, 0
            for x, y in _batches(data, order, s.device):
                optimizer.zero_grad()
                loss = s.loss(model(x), y)
                value = float(loss.detach())
                if not math.isfinite(value):
                    out.nan_epoch = epoch
                    return out
                loss.backward()
                optimizer.step()
                total, count = total + value * len(y), count + len(y)
            if count == 0:
                raise _no_batch(getattr(data, "data", data))
            out.curve.append(total / count)
            on_epoch(seed, epoch, out.curve[-1])
    finally:
        feed.remove()
    return out


def probe(model: nn.Module, x: torch.Tensor) -> tuple[list[tuple[nn.Module, tuple]], int]:
    """The dropout calls (module, mask shape) of one forward on ``x``, and its activations."""
    feed = MaskFeed(model)
    was = model.training
    model.eval()  # no running statistics change
    try:
        with torch.no_grad(), feed.probing() as calls:
            activations = count_activations(model, lambda: model(x))
    finally:
        model.train(was)
        feed.remove()
    return list(calls), activations


def train_stacked(models: Sequence[nn.Module], seeds: Sequence[int], data: Tensors,
                  s: Settings, on_epoch: OnEpoch) -> list[Outcome]:
    """Train the models of ``seeds`` together, in one vmapped step per batch."""
    from torch.func import functional_call, vmap

    base, params, buffers = stack(models, s.device)
    base.train()
    feed = MaskFeed(base)
    feed.mode = "feed"
    optimizer = StackedOptimizer(s.optimizer, params.values(), s.lr, s.weight_decay,
                                 s.momentum)
    orders = [seed_generator(seed) for seed in seeds]
    drops = [seed_generator(seed, 1) for seed in seeds]
    calls: dict[int, list] = {}

    def seed_loss(p, b, x, y, masks):
        feed.masks = list(masks)
        return s.loss(functional_call(base, (p, b), (x,)), y)

    fast = batched_forward(base)
    if fast is not None:  # a plain perceptron: batched products beat vmap's dispatch
        per_seed = batched_loss(s.loss) or vmap(s.loss)

        def step(p, b, x, y, masks):
            return per_seed(fast(p, x), y)
    else:
        step = vmap(seed_loss, randomness="different")
    outs, first = [Outcome() for _ in seeds], True
    for epoch in range(1, s.epochs + 1):
        batches = [data.batches(order) for order in orders]
        totals, count = [0.0] * len(seeds), 0
        for t in range(len(batches[0])):
            idx = torch.stack([b[t] for b in batches]).to(s.device)
            size = idx.shape[1]
            if size not in calls:
                calls[size] = probe(models[0], data.inputs[idx[0]])[0]
            masks = [torch.stack([draw_mask(m, shape, g) for g in drops]).to(s.device)
                     for m, shape in calls[size]]
            optimizer.zero_grad()
            try:
                losses = step(params, buffers, data.inputs[idx], data.targets[idx], masks)
                losses.sum().backward()
            except Exception as error:
                if first:  # nothing has changed yet: the caller may train one by one
                    raise NotVectorizable(f"vmap cannot run the model ({type(error).__name__}:"
                                          f" {str(error).splitlines()[0][:200]})") from error
                raise
            first = False
            optimizer.step()
            for i, value in enumerate(losses.tolist()):
                if outs[i].nan_epoch is None:
                    if math.isfinite(value):
                        totals[i] += value * size
                    else:
                        outs[i].nan_epoch = epoch
            count += size
        for i, seed in enumerate(seeds):
            if outs[i].nan_epoch is None:
                outs[i].curve.append(totals[i] / count)
                on_epoch(seed, epoch, outs[i].curve[-1])
    feed.remove()
    unstack(models, {k: v.detach() for k, v in params.items()}, buffers)
    return outs
