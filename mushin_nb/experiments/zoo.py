"""Built-in small models, registered by name: ``digits-*`` (logits) and ``simples-*``.

``digits-mlp`` and ``digits-cnn`` return logits for (N, 1, 8, 8) inputs (pair them with
the ``"crossentropy"`` loss). The ``simples-*`` family keeps the classic MNIST models of
robust-SGD papers; ``simples-full`` and ``simples-conv`` return log-probabilities (pair
them with ``"nll"``) and adapt to other image sizes through their arguments.
"""

from __future__ import annotations

import torch
from torch import nn

from mushin_nb.errors import bad_value
from mushin_nb.experiments.registry import register_model

__all__ = ["digits_mlp", "digits_cnn", "full", "conv", "logit", "linear"]


def _positive(arg: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_value(arg, value, "a positive int")


@register_model("digits-mlp")
def digits_mlp(hidden: int = 32, num_classes: int = 10, din: int = 64) -> nn.Module:
    """A one-hidden-layer perceptron for 8x8 digits: ``din -> hidden -> num_classes``.

    Examples
    --------
    >>> digits_mlp(hidden=8)(torch.zeros(5, 1, 8, 8)).shape
    torch.Size([5, 10])
    """
    for arg, value in (("hidden", hidden), ("num_classes", num_classes), ("din", din)):
        _positive(arg, value)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(din, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
    )


@register_model("digits-cnn")
def digits_cnn(channels: int = 8, num_classes: int = 10) -> nn.Module:
    """A two-convolution network for (N, 1, 8, 8) digits (8x8 -> 4x4 -> 2x2).

    Examples
    --------
    >>> digits_cnn()(torch.zeros(5, 1, 8, 8)).shape
    torch.Size([5, 10])
    """
    _positive("channels", channels)
    _positive("num_classes", num_classes)
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(channels, 2 * channels, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * channels * 2 * 2, num_classes),
    )


class _Full(nn.Module):
    def __init__(self, din: int, hidden: int, dout: int) -> None:
        super().__init__()
        self._din = din
        self._f1 = nn.Linear(din, hidden)
        self._f2 = nn.Linear(hidden, dout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self._f1(x.reshape(-1, self._din)))
        return torch.log_softmax(self._f2(x), dim=1)


@register_model("simples-full")
def full(din: int = 28 * 28, hidden: int = 100, dout: int = 10) -> nn.Module:
    """Fully connected ``din -> hidden -> dout`` returning log-probabilities.

    Examples
    --------
    >>> probabilities = full(din=64)(torch.zeros(3, 1, 8, 8)).detach().exp()
    >>> torch.allclose(probabilities.sum(dim=1), torch.ones(3))
    True
    """
    for arg, value in (("din", din), ("hidden", hidden), ("dout", dout)):
        _positive(arg, value)
    return _Full(din, hidden, dout)


class _Conv(nn.Module):
    def __init__(self, channels: int, dout: int) -> None:
        super().__init__()
        self._c1 = nn.Conv2d(channels, 20, 5, 1, padding=2)
        self._c2 = nn.Conv2d(20, 50, 5, 1, padding=2)
        # adaptive pooling gives the classic 50 x 4 x 4 = 800 features for any image size
        self._pool = nn.AdaptiveMaxPool2d(4)
        self._f1 = nn.Linear(800, 500)
        self._f2 = nn.Linear(500, dout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.max_pool2d(torch.relu(self._c1(x)), 2, 2)
        x = self._pool(torch.relu(self._c2(x)))
        x = torch.relu(self._f1(x.flatten(1)))
        return torch.log_softmax(self._f2(x), dim=1)


@register_model("simples-conv")
def conv(channels: int = 1, dout: int = 10) -> nn.Module:
    """Two 5x5 convolutions and two dense layers returning log-probabilities; any
    image of side >= 8 (MNIST 28x28, digits 8x8).

    Examples
    --------
    >>> conv()(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    _positive("channels", channels)
    _positive("dout", dout)
    return _Conv(channels, dout)


class _Linear(nn.Module):
    def __init__(self, din: int, dout: int, sigmoid: bool) -> None:
        super().__init__()
        self._din = din
        self._sigmoid = sigmoid
        self._linear = nn.Linear(din, dout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._linear(x.reshape(-1, self._din))
        return torch.sigmoid(x) if self._sigmoid else x


@register_model("simples-logit")
def logit(din: int, dout: int = 1) -> nn.Module:
    """Logistic regression: probabilities in (0, 1), for the ``"sigmoid"`` criterion."""
    _positive("din", din)
    _positive("dout", dout)
    return _Linear(din, dout, sigmoid=True)


@register_model("simples-linear")
def linear(din: int, dout: int = 1) -> nn.Module:
    """A linear model ``din -> dout`` (regression with ``"mse"``)."""
    _positive("din", din)
    _positive("dout", dout)
    return _Linear(din, dout, sigmoid=False)
