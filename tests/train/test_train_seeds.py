"""train_seeds: the vectorized loop gives the weights and curves of the loop over seeds."""

from __future__ import annotations

import pytest
import torch

from mushin_nb.train import train_seeds
from tests.train.conftest import MODELS, mlp

OPTIMIZERS = [("adam", {}), ("adamw", {"weight_decay": 0.05}),
              ("sgd", {"momentum": 0.9, "weight_decay": 0.01})]


def _train(build, data, vectorize, **kwargs):
    kwargs = {"epochs": 2, "lr": 0.01, "progress": False, **kwargs}
    return train_seeds(build, data, [0, 1, 2], vectorize=vectorize, **kwargs)


def _assert_same(one, other, atol=1e-5):
    assert sorted(one) == sorted(other) == [0, 1, 2]
    for seed in one:
        a, b = one[seed].state_dict(), other[seed].state_dict()
        assert list(a) == list(b)
        for name in a:
            torch.testing.assert_close(a[name].float(), b[name].float(), rtol=1e-4, atol=atol)
        assert len(one.curves[seed]) == 2
        torch.testing.assert_close(torch.tensor(one.curves[seed]),
                                   torch.tensor(other.curves[seed]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("arch", sorted(MODELS))
@pytest.mark.parametrize(("optimizer", "extra"), OPTIMIZERS, ids=[o for o, _ in OPTIMIZERS])
def test_vectorized_equals_one_seed_after_another(arch, optimizer, extra, digits_small):
    build = MODELS[arch]
    sequential = _train(build, digits_small, False, optimizer=optimizer, **extra)
    vectorized = _train(build, digits_small, True, optimizer=optimizer, **extra)
    assert (sequential.vectorized, vectorized.vectorized) == (False, True)
    # batch statistics are sums in another order under vmap; Adam turns the rounding of
    # near-zero gradient entries into steps of up to lr times a few 1e-3
    _assert_same(sequential, vectorized, atol=2e-4 if arch == "batchnorm" else 1e-5)
    untrained = build()
    moved = [float((p - q).detach().abs().max()) for p, q in
             zip(vectorized[0].parameters(), untrained.parameters())]
    assert max(moved) > 1e-3  # it did train


def test_batchnorm_running_statistics_are_trained_per_seed(digits_small):
    models = _train(MODELS["batchnorm"], digits_small, True)
    bn = [models[seed][1] for seed in (0, 1)]
    assert int(bn[0].num_batches_tracked) == 2 * 4  # 2 epochs of 4 batches
    assert not torch.allclose(bn[0].running_mean, torch.zeros(4))
    assert not torch.allclose(bn[0].running_mean, bn[1].running_mean)


def test_dropout_drops_and_differs_by_seed(digits_small):
    kept = _train(lambda: torch.nn.Sequential(*[m for m in MODELS["dropout"]()
                                                if not isinstance(m, torch.nn.modules.dropout
                                                                  ._DropoutNd)]),
                  digits_small, True)
    dropped = _train(MODELS["dropout"], digits_small, True)
    # the same weights start both; dropout changes the path (and raises the training loss)
    assert dropped.curves[0][1] > kept.curves[0][1]
    assert dropped[0].training and dropped[0][6].training  # dropout is back on after training


def test_different_seeds_give_different_weights_and_a_seed_repeats(digits_small):
    first = _train(mlp, digits_small, True)
    again = _train(mlp, digits_small, True)
    weights = [first[seed][1].weight for seed in (0, 1, 2)]
    assert not torch.allclose(weights[0], weights[1], atol=1e-3)
    assert not torch.allclose(weights[1], weights[2], atol=1e-3)
    for seed in first:
        assert torch.equal(first[seed][1].weight, again[seed][1].weight)


def test_the_seed_decides_the_initial_weights(digits_small):
    torch.manual_seed(0)
    reference = mlp()  # torch's own seeding of the same builder
    models = train_seeds(mlp, digits_small, [0], epochs=1, lr=1e-12, optimizer="sgd",
                         progress=False)
    torch.testing.assert_close(models[0][1].weight, reference[1].weight, rtol=0, atol=1e-9)


def test_the_seed_decides_the_batch_order_not_the_global_rng(digits_small):
    torch.manual_seed(1)
    one = _train(mlp, digits_small, True)
    torch.manual_seed(2)
    other = _train(mlp, digits_small, False)
    _assert_same(one, other)


def test_max_parallel_trains_in_chunks_with_the_same_weights(digits_small):
    whole = _train(mlp, digits_small, True)
    chunked = _train(mlp, digits_small, True, max_parallel=2)
    assert "2 chunk(s) of up to 2 (max_parallel=2)" in chunked.note
    _assert_same(whole, chunked, atol=1e-6)


def test_progress_is_called_for_every_seed_and_epoch(digits_small):
    calls = []
    models = _train(mlp, digits_small, True, progress=lambda *a: calls.append(a))
    assert sorted((s, e, n) for s, e, n, _ in calls) == [(s, e, 2) for s in range(3)
                                                         for e in (1, 2)]
    for seed, epoch, _, loss in calls:
        assert loss == models.curves[seed][epoch - 1]


def test_the_reference_loop_is_torchs_own_loop_bit_for_bit(digits_small):
    """Seed s: torch.manual_seed(s) for the weights, DataLoader(generator=seed s) order."""
    models = train_seeds(mlp, digits_small, [4], epochs=2, lr=0.01, vectorize=False,
                         progress=False)
    with torch.random.fork_rng(devices=[]):
        model = (torch.manual_seed(4), mlp())[1]
    adam = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = torch.utils.data.DataLoader(digits_small.dataset, batch_size=64, shuffle=True,
                                         generator=torch.Generator().manual_seed(4))
    batches = [batch for _epoch in range(2) for batch in loader]  # two passes, in order
    for inputs, targets in batches:
        adam.zero_grad()
        torch.nn.functional.cross_entropy(model(inputs), targets).backward()
        adam.step()
    for name, value in model.state_dict().items():
        assert torch.equal(models[4].state_dict()[name], value), name


class _Sink:
    """The progress sink contract's job_report, kept (what a SweepMonitor receives)."""

    def __init__(self) -> None:
        self.reports = []

    def job_report(self, index, step, total, metrics):
        self.reports.append((index, step, total, metrics))


def test_inside_a_job_every_seed_reports_its_loss_to_the_monitor(digits_small):
    from mushin_nb.progress import job_context

    sink = _Sink()
    with job_context(7, sink=sink):
        models = train_seeds(mlp, digits_small, [0, 1], epochs=2, lr=0.01)
    assert [(i, step, total) for i, step, total, _ in sink.reports] == [
        (7, step, 4) for step in (1, 2, 3, 4)]
    seen = {name: value for *_, metrics in sink.reports for name, value in metrics.items()}
    assert seen == {"loss_seed0": models.curves[0][1], "loss_seed1": models.curves[1][1]}


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_plain_feed_forward_nets_take_the_batched_kernels_and_others_vmap(arch):
    from torch import nn
    from torch.func import functional_call, stack_module_state, vmap

    from mushin_nb.train._batched import batched_forward

    unflattened = nn.Sequential(  # Unflatten is not batched: the net takes vmap, as BatchNorm
        nn.Flatten(), nn.Unflatten(1, (4, 16)), nn.Conv1d(4, 6, 3, stride=2, padding=2),
        nn.ReLU(), nn.AdaptiveMaxPool1d(3), nn.Tanh(), nn.Flatten(), nn.Linear(18, 10))
    assert batched_forward(unflattened) is None
    torch.manual_seed(0)
    models = [MODELS[arch]() for _ in range(3)]
    params, buffers = stack_module_state(models)
    params = {k: v.detach().requires_grad_() for k, v in params.items()}
    x = torch.randn(3, 7, 1, 8, 8)
    fast = batched_forward(models[0])
    assert fast is not None and batched_forward(MODELS["batchnorm"]()) is None
    reference = vmap(lambda p, b, xi: functional_call(models[0], (p, b), (xi,)))(params, buffers, x)
    out = fast(params, x)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-6)
    shared = fast(params, x[0], shared=True)  # one batch that every model reads
    for i, model in enumerate(models):  # and each model's own forward and gradients
        torch.testing.assert_close(out[i], model(x[i]), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(shared[i], model(x[0]), rtol=1e-5, atol=1e-6)
    grads = torch.autograd.grad(out.square().sum(), list(params.values()))
    for i, model in enumerate(models):
        own = torch.autograd.grad(model(x[i]).square().sum(), list(model.parameters()))
        for stacked, one in zip(grads, own):
            torch.testing.assert_close(stacked[i], one, rtol=1e-4, atol=1e-5)


def test_conv_pooling_nets_match_each_model_in_every_layout():
    from torch import nn
    from torch.func import stack_module_state

    from mushin_nb.train._batched import batched_forward

    torch.manual_seed(1)
    build = lambda: nn.Sequential(  # noqa: E731
        nn.Conv1d(2, 4, 3, stride=2, padding=2), nn.ReLU(), nn.MaxPool1d(2, padding=1),
        nn.Conv1d(4, 4, 1, groups=2), nn.AvgPool1d(2), nn.GELU(), nn.Flatten(),
        nn.Linear(8, 3), nn.Sigmoid())
    models = [build() for _ in range(4)]
    params, _ = stack_module_state(models)
    x = torch.randn(4, 5, 2, 11)
    out = batched_forward(models[0])(params, x)
    assert out.shape == (4, 5, 3)
    for i, model in enumerate(models):
        torch.testing.assert_close(out[i], model(x[i]), rtol=1e-5, atol=1e-6)


def test_the_batched_cross_entropy_equals_each_seeds_own():
    import torch.nn.functional as F

    from mushin_nb.train._batched import batched_loss

    out, labels = torch.randn(4, 9, 5), torch.randint(0, 5, (4, 9))
    per_seed = batched_loss(F.cross_entropy)
    expected = torch.stack([F.cross_entropy(out[i], labels[i]) for i in range(4)])
    torch.testing.assert_close(per_seed(out, labels), expected)
    soft = torch.softmax(torch.randn(4, 9, 5), -1)  # class probabilities: the vmap path
    torch.testing.assert_close(per_seed(out, soft), torch.stack(
        [F.cross_entropy(out[i], soft[i]) for i in range(4)]))
    assert batched_loss(F.mse_loss) is None
