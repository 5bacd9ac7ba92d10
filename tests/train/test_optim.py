"""The stacked optimizers equal k independent torch.optim optimizers."""

from __future__ import annotations

import pytest
import torch

from mushin_nb.errors import MushinError
from mushin_nb.train import StackedOptimizer
from mushin_nb.train._optim import check_optimizer

SETTINGS = [
    ("adam", {"lr": 0.01}, torch.optim.Adam),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}, torch.optim.Adam),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1}, torch.optim.AdamW),
    ("sgd", {"lr": 0.1}, torch.optim.SGD),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}, torch.optim.SGD),
]


@pytest.mark.parametrize(("name", "kwargs", "reference"), SETTINGS)
def test_stacked_update_equals_one_torch_optimizer_per_model(name, kwargs, reference):
    k, gen = 4, torch.Generator().manual_seed(0)
    start = [torch.randn(k, 3, 5, generator=gen), torch.randn(k, 7, generator=gen)]
    stacked = [t.clone().requires_grad_(True) for t in start]
    singles = [[t[i].clone().requires_grad_(True) for t in start] for i in range(k)]
    ours = StackedOptimizer(name, stacked, **kwargs)
    theirs = [reference(params, **kwargs) for params in singles]
    for _ in range(5):
        grads = [torch.randn(t.shape, generator=gen) for t in start]
        ours.zero_grad()
        for t, g in zip(stacked, grads):
            t.grad = g.clone()
        ours.step()
        for i, (params, opt) in enumerate(zip(singles, theirs)):
            opt.zero_grad()
            for p, g in zip(params, grads):
                p.grad = g[i].clone()
            opt.step()
    for i, params in enumerate(singles):
        for t, p in zip(stacked, params):
            torch.testing.assert_close(t.detach()[i], p.detach(), rtol=0, atol=1e-6)
    assert not torch.equal(stacked[0].detach(), start[0])


def test_a_parameter_without_grad_is_left_alone():
    w = torch.ones(2, 3, requires_grad=True)
    StackedOptimizer("adam", [w], lr=0.1).step()
    assert torch.equal(w.detach(), torch.ones(2, 3))


@pytest.mark.parametrize(("args", "match"), [
    (("rmsprop", 0.1, 0.0, 0.0), r"`optimizer` must be one of \['adam', 'adamw', 'sgd'\]"),
    (("adam", 0, 0.0, 0.0), r"`lr` must be a float > 0"),
    (("adam", -1.0, 0.0, 0.0), r"`lr` must be a finite float >= 0"),
    (("adam", "fast", 0.0, 0.0), r"`lr` must be a float, got 'fast'"),
    (("adam", 0.1, float("nan"), 0.0), r"`weight_decay` must be a finite float"),
    (("adam", 0.1, 0.0, 0.9), r"`momentum` must be 0 unless optimizer='sgd'"),
])
def test_bad_optimizer_settings(args, match):
    with pytest.raises(MushinError, match=match):
        check_optimizer(*args)
