"""Model: parameters and gradients are flat vectors sharing storage with the module."""

import copy

import pytest
import torch

from mushin_nb.errors import MushinKeyError, MushinRuntimeError, MushinTypeError, MushinValueError
from mushin_nb.experiments import Configuration, Criterion, Dataset, Loss, Model, Optimizer
from mushin_nb.experiments.model import flatten, relink


def batch(n=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.rand(n, 1, 8, 8, generator=generator)
    return inputs, torch.randint(0, 10, (n,), generator=generator)


def test_parameters_are_views_of_the_flat_vector(cpu):
    model = Model("digits-cnn", cpu, seed=0)
    flat = model.get()
    params = list(model.module.parameters())
    assert flat.dim() == 1 and flat.numel() == sum(p.numel() for p in params)
    position = 0
    for param in params:
        segment = flat[position : position + param.numel()]
        assert param.data_ptr() == segment.data_ptr()
        assert torch.equal(param.detach().reshape(-1), segment)
        position += param.numel()
    flat.add_(1.0)  # writing the vector moves every parameter
    position = 0
    for param in params:
        assert torch.equal(param.detach().reshape(-1), flat[position : position + param.numel()])
        position += param.numel()


def test_set_copies_or_relinks_and_moves_the_module(cpu):
    model = Model("digits-mlp", cpu, seed=0)
    inputs, _ = batch()
    before = model.run(inputs).detach()
    target = torch.randn(model.get().numel(), generator=torch.Generator().manual_seed(1))
    flat = model.get()
    model.set(target)
    assert model.get() is flat and torch.equal(flat, target)  # copied into the same storage
    assert not torch.allclose(model.run(inputs), before)
    reference = copy.deepcopy(model.module)
    assert torch.allclose(model.run(inputs), reference(inputs))

    other = torch.zeros_like(target)
    model.set(other, relink=True)
    assert model.get() is other
    assert next(model.module.parameters()).data_ptr() == other.data_ptr()
    other.fill_(2.0)
    assert all(bool((p == 2.0).all()) for p in model.module.parameters())


def test_backprop_gives_the_flat_gradient_of_plain_autograd(cpu):
    model = Model("digits-cnn", cpu, seed=0)
    reference = copy.deepcopy(model.module)
    inputs, labels = batch()
    gradient = model.backprop(Dataset((inputs, labels)), Loss("crossentropy"))
    torch.nn.functional.cross_entropy(reference(inputs), labels).backward()
    expected = torch.cat([p.grad.reshape(-1) for p in reference.parameters()])
    assert torch.allclose(gradient, expected, atol=1e-6)
    assert gradient is model.get_gradient()
    position = 0
    for param in model.module.parameters():
        assert param.grad.data_ptr() == gradient[position:].data_ptr()
        position += param.numel()
    # a second backprop zeroes first: the gradient does not accumulate
    again = model.backprop(Dataset((inputs, labels)), Loss("crossentropy")).clone()
    assert torch.allclose(again, expected, atol=1e-6)


def test_update_moves_the_parameters_by_minus_lr_times_gradient(cpu):
    model = Model("digits-mlp", cpu, seed=0)
    optimizer = Optimizer("sgd", model, lr=0.5)
    start = model.get().clone()
    gradient = torch.randn(start.numel(), generator=torch.Generator().manual_seed(0))
    model.update(gradient, optimizer)
    assert torch.allclose(model.get(), start - 0.5 * gradient)
    assert torch.equal(model.get_gradient(), gradient)
    first = next(model.module.parameters())
    assert torch.allclose(first.detach().reshape(-1), (start - 0.5 * gradient)[: first.numel()])


def test_gradient_relinks_after_torch_sets_grads_to_none(cpu):
    model = Model("digits-mlp", cpu, seed=0)
    inputs, labels = batch()
    data, loss = Dataset((inputs, labels)), Loss("crossentropy")
    expected = model.backprop(data, loss).clone()
    model.module.zero_grad()  # torch's default set_to_none=True drops the views
    assert next(model.module.parameters()).grad is None
    assert torch.equal(model.get_gradient(), torch.zeros_like(expected))
    assert torch.allclose(model.backprop(data, loss), expected)
    Optimizer("sgd", model, lr=0.1).zero_grad()  # ours zeroes in place
    assert torch.equal(model.get_gradient(), torch.zeros_like(expected))


class ModeRecorder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(64, 10)
        self.dropout = torch.nn.Dropout(0.5)
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.linear(self.dropout(x.flatten(1)))


def test_loss_runs_in_training_mode_when_training_and_eval_in_eval(cpu):
    model = Model(ModeRecorder, cpu, seed=0)
    data, loss = Dataset(batch()), Loss("crossentropy")
    model.backprop(data, loss)
    model.loss(data, loss)  # gradients recorded: training
    with torch.no_grad():
        model.loss(data, loss)  # no gradients: evaluation
    model.loss(data, loss, training=False)
    model.eval(data, Criterion("top-k"))
    assert model.module.modes == [True, True, False, False, False]


def test_seed_builds_the_same_model_without_touching_the_global_rng(cpu):
    state = torch.random.get_rng_state()
    first = Model("digits-cnn", cpu, seed=7).get()
    second = Model("digits-cnn", cpu, seed=7).get()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(first, second)
    assert not torch.equal(first, Model("digits-cnn", cpu, seed=8).get())


def test_initializers_by_name_and_callable(cpu):
    model = Model("digits-mlp", cpu, "constant", {"val": 0.25}, "zeros", None, seed=0, hidden=5)
    for param in model.module.parameters():
        expected = 0.25 if param.dim() > 1 else 0.0
        assert bool((param == expected).all())
    model = Model("digits-mlp", cpu, init_mono=lambda t: t.fill_(3.0), seed=0)
    biases = [p for p in model.module.parameters() if p.dim() == 1]
    assert all(bool((b == 3.0).all()) for b in biases)


def test_torchvision_models_by_lower_case_name(cpu):
    plain = Model("resnet18", cpu, seed=0, num_classes=10)
    prefixed = Model("torchvision-resnet18", cpu, seed=0, num_classes=10)
    assert torch.equal(plain.get(), prefixed.get())
    assert plain.run(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert str(plain) == "model resnet18"


def test_float64_configuration_reaches_parameters_and_batches():
    config = Configuration("cpu", dtype=torch.float64)
    model = Model("digits-mlp", config, seed=0)
    assert model.get().dtype == torch.float64
    inputs, labels = batch()
    criterion = model.eval(Dataset((inputs, labels)), Criterion("top-k"))
    assert criterion.tolist()[1] == len(labels)


def test_defaults_stand_in_for_missing_arguments(cpu):
    model = Model("digits-mlp", cpu, seed=0)
    data = Dataset(batch())
    assert model.default("trainset", data) is None
    assert model.default("trainset") is data
    model.default("loss", Loss("crossentropy"))
    assert model.backprop().shape == model.get().shape
    with pytest.raises(MushinRuntimeError, match=r"No criterion given and no default criterion"):
        model.eval(data)
    assert model.default("trainset", erase=True) is data and model.default("trainset") is None
    with pytest.raises(MushinKeyError, match=r"Unknown model default 'lr'. Known defaults: "):
        model.default("lr")


def test_errors_name_the_argument_and_the_fix(cpu):
    with pytest.raises(
        MushinKeyError,
        match=r"Unknown model name 'digits-rnn'.*Known model names: "
        r".*digits-cnn, digits-mlp.*resnet18",
    ):
        Model("digits-rnn", cpu)
    with pytest.raises(MushinTypeError, match=r"`name_build` must be a builder of torch.nn.Module"):
        Model(lambda: 3, cpu)
    with pytest.raises(MushinTypeError, match=r"`config` must be a Configuration, got 'cpu'"):
        Model("digits-mlp", "cpu")
    with pytest.raises(MushinKeyError, match=r"Unknown initializer name 'xavier' for `init_multi`"):
        Model("digits-mlp", cpu, init_multi="xavier")
    with pytest.raises(MushinTypeError, match=r"`seed` must be an int or None, got 1.5"):
        Model("digits-mlp", cpu, seed=1.5)
    with pytest.raises(MushinValueError, match=r"`hidden` must be a positive int, got 0"):
        Model("digits-mlp", cpu, hidden=0)
    model = Model("digits-mlp", cpu, seed=0)
    size = model.get().numel()
    with pytest.raises(
        MushinValueError,
        match=rf"`params` must be a flat vector of shape \({size},\)"
        r".*got shape \(3, 4\)",
    ):
        model.set(torch.zeros(3, 4))
    with pytest.raises(MushinValueError, match=r"`gradient` must be a flat vector of shape"):
        model.set_gradient(torch.zeros(size + 1))
    with pytest.raises(MushinTypeError, match=r"`params` must be a torch.Tensor, got \[0.0\]"):
        model.set([0.0])
    double = torch.zeros(size, dtype=torch.float64)
    with pytest.raises(
        MushinValueError,
        match=r"`params` must be torch.float32 on cpu to be "
        r"relinked, got torch.float64 on cpu",
    ):
        model.set(double, relink=True)
    model.set(double)  # copying converts
    with pytest.raises(MushinValueError, match=r"`gradient` must be torch.float32 on cpu"):
        model.set_gradient(double, relink=True)
    with pytest.raises(MushinValueError, match=r"`batch` must be a pair \(inputs, targets\)"):
        model.loss(Dataset(torch.zeros(2, 64)), Loss("crossentropy"))


class Mixed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(2))
        self.count = torch.nn.Parameter(torch.zeros(2, dtype=torch.int64), requires_grad=False)


def test_models_that_cannot_be_flattened_are_refused(cpu):
    with pytest.raises(MushinValueError, match=r"`name_build` must be a model with parameters"):
        Model(torch.nn.ReLU, cpu)
    with pytest.raises(
        MushinValueError,
        match=r"mixes parameter dtypes \['torch.float32', "
        r"'torch.int64'\]",
    ):
        Model(Mixed, cpu)


def test_flatten_and_relink_helpers():
    a, b = torch.ones(2, 2), torch.zeros(3)
    flat = flatten([a, b])
    assert flat.tolist() == [1.0] * 4 + [0.0] * 3 and a.data_ptr() == flat.data_ptr()
    with pytest.raises(
        MushinValueError,
        match=r"`common` must be a flat \(1-D\) tensor of 7 "
        r"elements, not shape \(6,\)",
    ):
        relink([a, b], torch.zeros(6))
