"""Optimizer by name, and Checkpoint / Storage round-trips with their overwrite guards."""

import pytest
import torch

from mushin_nb.errors import (
    MushinFileExistsError,
    MushinFileNotFoundError,
    MushinKeyError,
    MushinRuntimeError,
    MushinTypeError,
    MushinValueError,
)
from mushin_nb.experiments import Checkpoint, Dataset, Loss, Model, Optimizer, Storage


def trained(cpu, seed=0, steps=3):
    model = Model("digits-mlp", cpu, seed=seed)
    optimizer = Optimizer("sgd", model, lr=0.1, momentum=0.9)
    data = Dataset((torch.rand(8, 1, 8, 8), torch.arange(8) % 10))
    for _ in range(steps):
        model.update(model.backprop(data, Loss("crossentropy")), optimizer)
    return model, optimizer, data


def test_optimizer_by_name_with_learning_rate_control(cpu):
    model = Model("digits-mlp", cpu, seed=0)
    optimizer = Optimizer("adam", model, lr=0.01)
    assert isinstance(optimizer._optim, torch.optim.Adam) and str(optimizer) == "optimizer adam"
    assert optimizer.get_lr() == 0.01 and optimizer.lr == 0.01
    optimizer.set_lr(0.5)
    assert [group["lr"] for group in optimizer.param_groups] == [0.5]
    optimizer.lr = 0.25
    assert optimizer.get_lr() == 0.25
    assert Optimizer(torch.optim.SGD, model.module, lr=1.0).get_lr() == 1.0
    with pytest.raises(
        MushinKeyError,
        match=r"Unknown optimizer name 'sgdm'. Known optimizer "
        r"names: .*adam.*sgd",
    ):
        Optimizer("sgdm", model, lr=0.1)
    with pytest.raises(MushinTypeError, match=r"`model` must be a Model or a torch.nn.Module"):
        Optimizer("sgd", [1, 2], lr=0.1)
    with pytest.raises(MushinValueError, match=r"`lr` must be a number >= 0, got -1"):
        optimizer.set_lr(-1)


def test_round_trip_on_disk_restores_model_and_optimizer(cpu, tmp_path):
    model, optimizer, data = trained(cpu)
    storage = Storage(step=3, name="run")
    path = tmp_path / "checkpoint.pt"
    Checkpoint().snapshot(model, deepcopy=True).snapshot(optimizer, deepcopy=True).snapshot(
        storage, deepcopy=True
    ).save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left

    # continue training the original one more step: the reference for the restored copy
    expected = model.get().clone()
    model.update(model.backprop(data, Loss("crossentropy")), optimizer)
    reference = model.get().clone()

    other = Model("digits-mlp", cpu, seed=5)
    other_optimizer = Optimizer("sgd", other, lr=0.1, momentum=0.9)
    other_storage = Storage()
    Checkpoint().load(path).restore(other).restore(other_optimizer).restore(other_storage)
    assert torch.equal(other.get(), expected)
    assert next(other.module.parameters()).data_ptr() == other.get().data_ptr()  # still linked
    assert other_storage == {"step": 3, "name": "run"}
    # momentum buffers came back: one more identical step lands on the same parameters
    other.update(other.backprop(data, Loss("crossentropy")), other_optimizer)
    assert torch.allclose(other.get(), reference, atol=1e-6)


def test_reference_snapshots_follow_training_and_warn(cpu):
    model, optimizer, data = trained(cpu, steps=1)
    checkpoint = Checkpoint().snapshot(model)
    model.update(model.backprop(data, Loss("crossentropy")), optimizer)
    with pytest.warns(UserWarning, match=r"Restoring a referenced \(not copied\) state dict"):
        checkpoint.restore(model)
    frozen = Checkpoint().snapshot(model, deepcopy=True)
    before = model.get().clone()
    model.get().zero_()
    frozen.restore(model)
    assert torch.equal(model.get(), before)


def test_overwrite_guards(cpu, tmp_path):
    model, _, _ = trained(cpu, steps=1)
    checkpoint = Checkpoint().snapshot(model, deepcopy=True)
    with pytest.raises(
        MushinRuntimeError,
        match=r"A snapshot of 'mushin_nb.experiments.model.Model'"
        r" is already in this checkpoint. Fix: pass overwrite=True",
    ):
        checkpoint.snapshot(model)
    checkpoint.snapshot(model, overwrite=True, deepcopy=True)
    path = tmp_path / "ckpt.pt"
    checkpoint.save(path)
    original = path.read_bytes()
    with pytest.raises(MushinFileExistsError, match=r"`filepath` '.*ckpt.pt' already exists"):
        Checkpoint().snapshot(Storage(a=1), deepcopy=True).save(path)
    assert path.read_bytes() == original  # nothing on disk was lost
    checkpoint.save(path, overwrite=True)
    with pytest.raises(MushinRuntimeError, match=r"Cannot load .* into a non-empty checkpoint"):
        checkpoint.load(path)
    checkpoint.load(path, overwrite=True)


def test_restore_and_load_errors(cpu, tmp_path):
    model = Model("digits-mlp", cpu, seed=0)
    with pytest.raises(MushinKeyError, match=r"No snapshot of 'mushin_nb.experiments.model.Model'"):
        Checkpoint().restore(model)
    assert isinstance(Checkpoint().restore(model, nothrow=True), Checkpoint)
    with pytest.raises(MushinTypeError, match=r"`instance` must be a checkpoint-able object"):
        Checkpoint().snapshot(object())
    with pytest.raises(MushinFileNotFoundError, match=r"`filepath` '.*missing.pt' does not exist"):
        Checkpoint().load(tmp_path / "missing.pt")
    with pytest.raises(MushinFileNotFoundError, match=r"The directory of `filepath`"):
        Checkpoint().save(tmp_path / "no" / "dir.pt")
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"key": Storage(a=1)}, unsafe)  # a custom class: refused by weights_only
    with pytest.raises(
        MushinRuntimeError, match=r"weights_only=True refuses.*pass weights_only=False"
    ):
        Checkpoint().load(unsafe)
    assert isinstance(Checkpoint().load(unsafe, weights_only=False), Checkpoint)
