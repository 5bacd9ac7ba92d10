"""Fixtures of the training-loop tests: a small real digits split and small real models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mushin_nb.experiments.digits import digits_tensors
from mushin_nb.experiments.zoo import digits_cnn, digits_mlp
from tests.experiments.conftest import one_torch_thread  # noqa: F401 - autouse, one thread


def mlp() -> nn.Module:
    return digits_mlp(hidden=16)


def cnn() -> nn.Module:
    return digits_cnn(channels=4)


def batchnorm() -> nn.Module:
    # no bias before a BatchNorm: its gradient is zero up to rounding, which Adam would
    # scale up to full steps, so two float orders of the same sums would part ways
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4),
                         nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 16, bias=False),
                         nn.BatchNorm1d(16),
                         nn.ReLU(), nn.Linear(16, 10))


def dropout() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Dropout2d(0.25), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 8 * 8, 16), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(16, 10))


MODELS = {"mlp": mlp, "cnn": cnn, "batchnorm": batchnorm, "dropout": dropout}


@pytest.fixture(scope="session")
def digits_small() -> torch.utils.data.DataLoader:
    """200 digits training images, shuffled batches of 64 (the last one has 8)."""
    x, y = digits_tensors(train=True, seed=0)
    data = torch.utils.data.TensorDataset(x[:200], y[:200])
    return torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
