"""train_seeds: what it cannot vectorize it trains one by one and says why; NaN seeds fail alone."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mushin_nb.errors import MushinError, MushinRuntimeError
from mushin_nb.stats import MushinWarning
from mushin_nb.train import train_seeds
from tests.train.conftest import mlp


class DataDependent(nn.Module):
    """A forward with Python control flow on a value: vmap cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(x.flatten(1))
        return out if float(out.detach().sum()) > -1e9 else -out


def test_data_that_is_not_a_dataset_of_tensors_trains_one_by_one(digits_small):
    batches = list(digits_small)
    with pytest.warns(MushinWarning, match=r"one after another: the data is not a map-style"):
        models = train_seeds(mlp, batches, [0, 1], epochs=1, progress=False)
    assert sorted(models) == [0, 1] and not models.vectorized
    assert not torch.allclose(models[0][1].weight, models[1][1].weight)
    with pytest.raises(MushinError, match=r"`vectorize` must be False or 'auto' for this data"):
        train_seeds(mlp, batches, [0, 1], epochs=1, vectorize=True)


def test_a_model_vmap_cannot_trace_falls_back_with_the_reason(digits_small):
    with pytest.warns(MushinWarning, match=r"one after another: vmap cannot run the model"):
        models = train_seeds(DataDependent, digits_small, [0, 1], epochs=1, progress=False)
    reference = train_seeds(DataDependent, digits_small, [0, 1], epochs=1, progress=False,
                            vectorize=False)
    assert not models.vectorized and "vmap cannot run" in models.note
    torch.testing.assert_close(models[1].linear.weight, reference[1].linear.weight)
    with pytest.raises(MushinError, match=r"`vectorize` must be False or 'auto' for this model"):
        train_seeds(DataDependent, digits_small, [0, 1], epochs=1, vectorize=True)


def _poisoned(seed_to_poison: int):
    def build():
        model = mlp()
        if torch.initial_seed() == seed_to_poison:
            with torch.no_grad():
                model[3].bias.fill_(float("nan"))
        return model
    return build


@pytest.mark.parametrize("vectorize", [False, True])
def test_a_nan_loss_fails_its_seed_and_the_others_train_on(vectorize, digits_small):
    with pytest.warns(MushinWarning, match=r"seed 1: the training loss became NaN in epoch 1"):
        models = train_seeds(_poisoned(1), digits_small, [0, 1, 2], epochs=2, progress=False,
                             vectorize=vectorize)
    assert sorted(models) == [0, 2] and list(models.failures) == [1]
    error = models.failures[1]
    assert isinstance(error, MushinRuntimeError) and "Fix: lower `lr`" in str(error)
    assert models.curves[1] == [] and len(models.curves[2]) == 2
    clean = train_seeds(mlp, digits_small, [0, 2], epochs=2, progress=False, vectorize=vectorize)
    torch.testing.assert_close(models[2][1].weight, clean[2][1].weight, rtol=0, atol=1e-6)


class Seeded(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(64, 10 + torch.initial_seed() % 2)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"build": lambda: "model"}, r"`build` must be a function that returns an nn.Module "
                                 r"\(it returned str\)"),
    ({"build": 3}, r"`build` must be a function \(\) -> nn.Module, got 3"),
    ({"build": Seeded}, r"`build` must be a function that returns models of one structure.*"
                        r"seed 0 gives \('linear.weight', \(10, 64\)"),
    ({"seeds": [0, 1, 1]}, r"`seeds` must be unique ints.*remove the repeated seed\(s\) \[1\]"),
    ({"seeds": [0, 1.5]}, r"`seeds` must be a list of ints.*1.5 is not an int"),
    ({"seeds": 5}, r"`seeds` must be a list of ints, got 5"),
    ({"seeds": []}, r"`seeds` must be a non-empty list of ints"),
    ({"epochs": 0}, r"`epochs` must be a positive int, got 0"),
    ({"loss": "hinge"}, r"`loss` must be one of \['cross_entropy', 'nll', 'mse'\]"),
    ({"vectorize": "yes"}, r"`vectorize` must be True, False or 'auto'"),
    ({"max_parallel": 0}, r"`max_parallel` must be None or a positive int"),
    ({"progress": "bar"}, r"`progress` must be None, False or a callable"),
    ({"device": "gpu7"}, r"`device` must be a torch device"),
    ({"data": torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long)))},
     r"`data` must be data that yields at least one batch"),
    ({"data": iter([])}, r"`data` must be re-iterable"),
    ({"data": None}, r"`data` must be a DataLoader or a dataset of \(inputs, targets\)"),
])
def test_bad_input_names_the_argument_and_the_fix(kwargs, match, digits_small):
    arguments = {"build": mlp, "data": digits_small, "seeds": [0, 1], "epochs": 1, **kwargs}
    with pytest.raises(MushinError, match=match):
        train_seeds(arguments.pop("build"), arguments.pop("data"), arguments.pop("seeds"),
                    **arguments)


def test_a_stream_that_yields_nothing_is_an_error():
    with pytest.raises(MushinError, match=r"`data` must be data that yields at least one batch"):
        train_seeds(mlp, [], [0], epochs=1, progress=False)
