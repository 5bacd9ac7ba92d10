"""Dataset from a name, a DataLoader, a generator or one batch; helpers; the digits set."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torchvision import transforms

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinKeyError,
    MushinRuntimeError,
    MushinTypeError,
    MushinValueError,
)
from mushin_nb.experiments import (
    Configuration,
    Dataset,
    batch_dataset,
    digits_loaders,
    digits_tensors,
    get_default_transform,
    make_datasets,
    make_sampler,
)


def tensor_loader(n=10, batch_size=4):
    data = torch.utils.data.TensorDataset(torch.arange(n, dtype=torch.float32), torch.arange(n))
    return torch.utils.data.DataLoader(data, batch_size=batch_size)


def test_single_batch_is_returned_forever_and_is_one_epoch():
    batch = (torch.ones(3, 2), torch.tensor([0, 1, 2]))
    dataset = Dataset(batch)
    assert all(dataset.sample() is batch for _ in range(3))
    assert [b is batch for b in dataset.epoch()] == [True]
    assert str(dataset) == "dataset <single batch>"


def test_generator_feeds_samples_and_has_no_epoch():
    def counter():
        step = 0
        while True:
            yield torch.tensor([step]), torch.tensor([step])
            step += 1

    dataset = Dataset(counter(), name="counter")
    assert [int(dataset.sample()[0]) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(
        MushinRuntimeError,
        match=r"epoch\(\) needs a DataLoader-backed dataset, "
        r"but dataset counter comes from a generator",
    ):
        dataset.epoch()
    finite = Dataset(iter([(torch.zeros(1), torch.zeros(1))]))
    finite.sample()
    with pytest.raises(MushinRuntimeError, match=r"is exhausted: its generator stopped"):
        finite.sample()


def test_dataloader_loops_forever_and_epoch_is_one_pass():
    dataset = Dataset(tensor_loader())
    sizes = [len(dataset.sample()[1]) for _ in range(5)]
    assert sizes == [4, 4, 2, 4, 4]
    for _ in range(2):  # epochs are re-iterable
        labels = torch.cat([y for _, y in dataset.epoch()])
        assert labels.tolist() == list(range(10))


def test_sample_and_epoch_move_to_the_configuration():
    config = Configuration("cpu", dtype=torch.float64)
    dataset = Dataset(tensor_loader())
    inputs, labels = dataset.sample(config)
    assert inputs.dtype == torch.float64 and labels.dtype == torch.int64  # labels keep int
    assert all(x.dtype == torch.float64 for x, _ in dataset.epoch(config))


def test_digits_by_name_matches_scikit_learn_split():
    bunch = load_digits()
    _, x_test, _, y_test = train_test_split(
        bunch.images, bunch.target, test_size=0.25, random_state=3, stratify=bunch.target
    )
    testset = Dataset("digits", train=False, batch_size=100, seed=3)
    inputs = torch.cat([x for x, _ in testset.epoch()])
    labels = torch.cat([y for _, y in testset.epoch()])
    assert inputs.shape == (450, 1, 8, 8) and inputs.dtype == torch.float32
    assert labels.dtype == torch.int64
    np.testing.assert_allclose(inputs.numpy()[:, 0], x_test / 16.0, rtol=1e-6)
    np.testing.assert_array_equal(labels.numpy(), y_test)
    assert float(inputs.min()) == 0.0 and float(inputs.max()) == 1.0
    x_train, _ = digits_tensors(train=True, seed=3)
    assert len(x_train) + len(inputs) == 1797
    assert str(testset) == "dataset digits"


def test_digits_loaders_are_deterministic_and_reiterable():
    first_train, first_test = digits_loaders(batch_size=64, seed=1)
    second_train, _ = digits_loaders(batch_size=64, seed=1)
    epoch_a = [y for _, y in first_train]
    epoch_b = [y for _, y in second_train]
    assert all(torch.equal(a, b) for a, b in zip(epoch_a, epoch_b, strict=True))
    again = torch.cat([y for _, y in first_train])  # a second pass reshuffles
    assert sorted(again.tolist()) == sorted(torch.cat(epoch_a).tolist())
    assert not torch.equal(again, torch.cat(epoch_a))
    assert [len(y) for _, y in first_test][-1] == 450 - 7 * 64
    other_seed = torch.cat([y for _, y in digits_loaders(batch_size=64, seed=2)[0]])
    assert not torch.equal(other_seed, torch.cat(epoch_a))


def test_make_datasets_builds_train_and_test():
    trainset, testset = make_datasets("digits", train_batch=32, test_batch=0, seed=0)
    inputs, labels = trainset.sample()
    assert inputs.shape == (32, 1, 8, 8)
    (whole,) = list(testset.epoch())
    assert len(whole[1]) == 450


def test_torchvision_dataset_by_name_without_download(tmp_path):
    dataset = Dataset(
        "fakedata",
        root=tmp_path,
        size=10,
        image_size=(1, 8, 8),
        batch_size=4,
        transform=transforms.ToTensor(),
    )
    inputs, labels = dataset.sample()
    assert inputs.shape == (4, 1, 8, 8) and labels.dtype == torch.int64
    assert [len(y) for _, y in dataset.epoch()] == [4, 4, 2]


def test_missing_torchvision_data_names_the_root_and_never_downloads(tmp_path):
    with pytest.raises(
        MushinFileNotFoundError,
        match=rf"Dataset 'mnist' is not in root "
        rf"'{tmp_path}' and this machine does not download it",
    ):
        Dataset("mnist", root=tmp_path, train=True)
    assert list(tmp_path.iterdir()) == []  # nothing was fetched or created
    with pytest.raises(MushinFileNotFoundError, match=r"Dataset 'cifar10' is not in root"):
        make_datasets("cifar10", root=tmp_path)
    with pytest.raises(MushinValueError, match=r"`download` must be False, got True"):
        Dataset("mnist", root=tmp_path, download=True)


def test_default_transforms():
    mnist = get_default_transform("mnist", train=True)
    image = transforms.ToPILImage()(torch.zeros(1, 4, 4))
    assert torch.allclose(mnist(image), torch.full((1, 4, 4), -0.1307 / 0.3081))
    assert len(get_default_transform("cifar10", train=False).transforms) == 3
    assert get_default_transform("digits", train=True) is None
    assert get_default_transform(None, train=False) is None


def test_make_sampler_cycles_a_loader():
    sampler = make_sampler(tensor_loader(n=5, batch_size=2))
    assert [y.tolist() for _, y in (next(sampler) for _ in range(4))] == [
        [0, 1],
        [2, 3],
        [4],
        [0, 1],
    ]
    with pytest.raises(MushinRuntimeError, match=r"yielded no batch"):
        next(make_sampler([]))
    with pytest.raises(MushinTypeError, match=r"`loader` must be a re-iterable"):
        make_sampler(iter([1]))


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 40),
    split=st.floats(0.05, 0.95),
    batch=st.integers(0, 12),
    seed=st.integers(0, 1000),
)
def test_batch_dataset_splits_and_covers(n, split, batch, seed):
    inputs, labels = torch.arange(n, dtype=torch.float32), torch.arange(n)
    position = min(max(1, int(n * split)), n - 1)
    train = batch_dataset(inputs, labels, train=True, batch_size=batch, split=split, seed=seed)
    size = min(batch or position, position)
    seen = torch.cat([next(train)[1] for _ in range(-(-position // size))])
    # one pass of the training part covers it exactly once before reshuffling
    assert sorted(seen[:position].tolist()) == list(range(position))
    again = batch_dataset(inputs, labels, train=True, batch_size=batch, split=split, seed=seed)
    assert torch.equal(next(again)[1], seen[:size])  # same seed, same order
    test = batch_dataset(inputs, labels, train=False, batch_size=batch, split=split)
    test_size = min(batch or n - position, n - position)
    assert next(test)[1].tolist() == list(range(position, position + test_size))


def test_bad_inputs_say_the_fix(tmp_path):
    with pytest.raises(
        MushinKeyError,
        match=r"Unknown dataset name 'digit'. Did you mean "
        r"'digits'.*Known dataset names: digits, .*mnist",
    ):
        Dataset("digit")
    with pytest.raises(
        MushinTypeError,
        match=r"Dataset 'digits' cannot take the arguments "
        r"\['colour', 'root'\]",
    ):
        Dataset("digits", colour=True)
    with pytest.raises(MushinValueError, match=r"`inputs` and `labels` must have the same length"):
        batch_dataset(torch.zeros(4), torch.zeros(3))
    with pytest.raises(MushinValueError, match=r"`split` must be a fraction in \(0, 1\)"):
        batch_dataset(torch.zeros(4), torch.zeros(4), split=0)
    with pytest.raises(MushinValueError, match=r"`batch_size` must be a positive int"):
        batch_dataset(torch.zeros(4), torch.zeros(4), batch_size=-1)
    with pytest.raises(MushinValueError, match=r"`num_workers` must be an int >= 0 or a pair"):
        make_datasets("digits", num_workers=-1)
    with pytest.raises(MushinValueError, match=r"`test_size` must be a float in \(0, 1\), got 2.0"):
        digits_loaders(test_size=2.0)
    with pytest.raises(MushinValueError, match=r"`batch_size` must be a positive int, got 0"):
        digits_loaders(batch_size=0)
    with pytest.raises(MushinTypeError, match=r"`seed` must be an int >= 0, got -1"):
        digits_loaders(seed=-1)
    with pytest.raises(MushinValueError, match=r"`batch_size` must be a positive int, or None/0"):
        Dataset("digits", batch_size=2.5)


def test_default_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MUSHIN_NB_DATA", str(tmp_path))
    assert Dataset.get_default_root() == tmp_path
    monkeypatch.delenv("MUSHIN_NB_DATA")
    assert Dataset.get_default_root().parts[-2:] == ("mushin_nb", "datasets")
