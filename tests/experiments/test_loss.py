"""Loss (torch losses by name, l1/l2 regularizers, + and * algebra) and Criterion."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import top_k_accuracy_score

from mushin_nb.errors import MushinKeyError, MushinTypeError, MushinValueError
from mushin_nb.experiments import Criterion, Dataset, Loss, Model

F = torch.nn.functional


def data(seed=0, n=12, classes=5):
    generator = torch.Generator().manual_seed(seed)
    output = torch.randn(n, classes, generator=generator)
    target = torch.randint(0, classes, (n,), generator=generator)
    params = torch.randn(20, generator=generator)
    return output, target, params


def test_torch_losses_by_lower_case_name():
    output, target, params = data()
    assert torch.allclose(
        Loss("crossentropy")(output, target, params), F.cross_entropy(output, target)
    )
    log_probs = F.log_softmax(output, dim=1)
    assert torch.allclose(Loss("nll")(log_probs, target, params), F.nll_loss(log_probs, target))
    assert torch.allclose(Loss("mse")(output, output + 1.0, params), torch.tensor(1.0))
    summed = Loss("crossentropy", reduction="sum")(output, target, params)
    assert torch.allclose(summed, F.cross_entropy(output, target, reduction="sum"))
    assert torch.allclose(
        Loss(torch.nn.SmoothL1Loss)(output, output * 2, params),
        F.smooth_l1_loss(output, output * 2),
    )


def test_regularizers_are_norms_of_the_flat_parameters():
    output, target, params = data()
    assert torch.allclose(Loss("l1")(output, target, params), params.abs().sum())
    assert torch.allclose(Loss("l2")(output, target, params), params.pow(2).sum().sqrt())


@settings(max_examples=40, deadline=None)
@given(
    a=st.floats(-5, 5, allow_nan=False),
    b=st.floats(-5, 5, allow_nan=False),
    c=st.integers(-3, 3),
    seed=st.integers(0, 2**16),
)
def test_sum_and_scale_equal_the_hand_sum(a, b, c, seed):
    output, target, params = data(seed)
    ce = F.cross_entropy(output, target)
    l1, l2 = params.abs().sum(), params.norm()
    combined = a * Loss("crossentropy") + Loss("l1") * b + c * (Loss("l2") + Loss("l1"))
    expected = a * ce + b * l1 + c * (l2 + l1)
    assert torch.allclose(combined(output, target, params), expected, rtol=1e-5, atol=1e-5)
    scaled = Loss("l2")
    scaled *= a
    scaled *= 2
    assert torch.allclose(scaled(output, target, params), 2 * a * l2, rtol=1e-5, atol=1e-6)
    total = sum([Loss("l1"), Loss("l2")])
    assert torch.allclose(total(output, target, params), l1 + l2)


def test_names_print_the_composition():
    assert str(Loss("nll") + 0.01 * Loss("l2")) == "loss (nll + 0.01 × l2)"
    assert str(Loss("l1") * 3 * 2) == "loss 6 × l1"


def test_l2_regularizer_has_a_gradient_through_the_model(cpu):
    model = Model("digits-mlp", cpu, seed=0)
    plain = model.get().clone().requires_grad_(True)
    plain.norm().backward()  # reference: d||w||/dw = w / ||w||
    loss = Loss("crossentropy") * 0.0 + Loss("l2")
    gradient = model.backprop(
        Dataset((torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))), loss
    )
    assert torch.allclose(gradient, plain.grad, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_top_k_counts_match_scikit_learn(k, seed):
    output, target, _ = data(seed, n=30, classes=6)
    result = Criterion("top-k", k=k)(output, target)
    expected = top_k_accuracy_score(
        target.numpy(), output.numpy(), k=k, normalize=False, labels=np.arange(6)
    )
    assert result.tolist() == [int(expected), 30]


def test_sigmoid_counts_outputs_within_half_of_the_target():
    output = torch.tensor([[0.9], [0.4], [0.6], [0.1]])
    target = torch.tensor([[1.0], [1.0], [0.0], [0.0]])
    assert Criterion("sigmoid")(output, target).tolist() == [2.0, 4.0]
    custom = Criterion(lambda: lambda out, tgt: torch.tensor([len(out), len(out)]))
    assert custom(output, target).tolist() == [4, 4] and str(custom).startswith("criterion ")


def test_errors_list_known_names_and_say_the_fix():
    with pytest.raises(
        MushinKeyError,
        match=r"Unknown loss name 'cross-entropy'. Known loss names: "
        r".*crossentropy.*l1, l2.*nll",
    ):
        Loss("cross-entropy")
    with pytest.raises(
        MushinKeyError,
        match=r"Unknown criterion name 'top1'. Known criterion "
        r"names: top-k, sigmoid",
    ):
        Criterion("top1")
    with pytest.raises(MushinTypeError, match=r"`factor` must be a real number, got 'x'"):
        Loss("l1") * "x"
    with pytest.raises(MushinTypeError, match=r"`other` must be a Loss, got 1"):
        Loss("l1") + 1
    with pytest.raises(MushinTypeError, match=r"Loss 'l2' takes no arguments"):
        Loss("l2", 0.1)
    with pytest.raises(MushinTypeError, match=r"`name_build` must be a loss name or a callable"):
        Loss(3)
    with pytest.raises(
        MushinTypeError, match=r"`name_build` must be a builder returning a callable"
    ):
        Loss(lambda: 0.5)
    with pytest.raises(
        MushinTypeError, match=r"`name_build` must be a criterion name or a callable"
    ):
        Criterion(None)
    with pytest.raises(MushinValueError, match=r"`k` must be a positive int, got 0"):
        Criterion("top-k", k=0)
    with pytest.raises(
        MushinValueError,
        match=r"`output` must be \(batch, classes\) with classes "
        r">= k=3, got shape \(4, 2\)",
    ):
        Criterion("top-k", k=3)(torch.zeros(4, 2), torch.zeros(4))
    with pytest.raises(MushinValueError, match=r"`output` \(3 values\) and `target` \(2 values\)"):
        Criterion("sigmoid")(torch.zeros(3), torch.zeros(2))
