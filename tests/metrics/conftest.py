"""Fixtures of the metrics and compare tests: generated data and really trained models."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes on concentric rings in 2-D: a linear model cannot separate them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    radius = 1.0 + 1.5 * y + rng.normal(0, 0.45, n)  # rings overlap a little
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def make_model(kind: str) -> torch.nn.Module:
    if kind == "linear":
        return torch.nn.Linear(2, 3)
    return torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))


def train(kind: str, seed: int, steps: int) -> torch.nn.Module:
    """Full-batch Adam on 600 ring samples; the seed sets both init and data order."""
    torch.manual_seed(seed)
    model = make_model(kind)
    x, y = blobs(600, 100 + seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model


@pytest.fixture(scope="session")
def model_factory():
    """``kind -> untrained model`` ("linear" or "mlp"), to load checkpoints into."""
    return make_model


@pytest.fixture(scope="session")
def ring_test_data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The held-out ring data, in four batches."""
    x, y = blobs(800, 7)
    return [(x[i:i + 200], y[i:i + 200]) for i in range(0, 800, 200)]


@pytest.fixture(scope="session")
def trained() -> dict[str, list[torch.nn.Module]]:
    """A linear model trained 15 steps and an MLP trained 150 steps, 5 seeds each."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # models this small only lose time to thread hand-offs
    try:
        return {"linear": [train("linear", s, 15) for s in range(5)],
                "mlp": [train("mlp", s, 150) for s in range(5)]}
    finally:
        torch.set_num_threads(threads)
