"""Real tiny trainings on digits: plain SGD, and a Byzantine loop with robust aggregation."""

import pytest
import torch

from mushin_nb.experiments import (
    Criterion,
    Dataset,
    Loss,
    Model,
    Optimizer,
    aggregators,
    make_datasets,
)


def accuracy(model, testset):
    counts = sum(model.eval(Dataset(batch), Criterion("top-k")) for batch in testset.epoch())
    correct, total = counts.tolist()
    assert total == 450  # the whole digits test split, once
    return correct / total


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
def test_twenty_sgd_steps_on_digits_improve_accuracy(cpu, name):
    model = Model(name, cpu, seed=0)
    trainset, testset = make_datasets("digits", train_batch=64, test_batch=150, seed=0)
    model.default("trainset", trainset)
    model.default("loss", Loss("crossentropy"))
    model.default("optimizer", Optimizer("sgd", model, lr=0.5, momentum=0.5))
    before = accuracy(model, testset)
    losses = []
    for _ in range(20):
        gradient, loss = model.backprop(outloss=True)
        losses.append(loss.item())
        model.update(gradient)
    after = accuracy(model, testset)
    assert after > before + 0.2 and after > 0.4
    assert sum(losses[-5:]) < sum(losses[:5])


def byzantine_run(cpu, rule, steps=30, workers=7, f=2, seed=0):
    """``workers - f`` honest gradients and ``f`` huge sign-flipped ones, aggregated by ``rule``."""
    model = Model("digits-mlp", cpu, seed=seed)
    trainset, testset = make_datasets("digits", train_batch=32, test_batch=450, seed=seed)
    optimizer = Optimizer("sgd", model, lr=0.5)
    loss = Loss("crossentropy")
    for _ in range(steps):
        honest = [model.backprop(trainset, loss).clone() for _ in range(workers - f)]
        attack = -100.0 * torch.stack(honest).mean(dim=0)
        aggregated = aggregators[rule](honest + [attack] * f, f=f)
        model.update(aggregated, optimizer)
    return accuracy(model, testset)


@pytest.mark.parametrize("rule", ["krum", "median", "multi-krum"])
def test_robust_rules_train_despite_byzantine_workers(cpu, rule):
    assert byzantine_run(cpu, rule) > 0.6


def test_averaging_is_derailed_by_byzantine_workers(cpu):
    assert byzantine_run(cpu, "average") < 0.2
