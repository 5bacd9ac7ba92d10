"""Fixtures of the Study tests: the real digits data and tiny real trainings on it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mushin_nb.experiments import digits_tensors
from mushin_nb.experiments.zoo import digits_cnn, digits_mlp

BUILDERS = {"cnn": lambda: digits_cnn(channels=4), "mlp": lambda: digits_mlp(hidden=16)}


def _train_tiny(arch: str, seed: int, steps: int = 6) -> torch.nn.Module:
    """A few Adam steps on the digits training split, seeded, without the global RNG."""
    x, y = digits_tensors(train=True, seed=0)
    batches = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BUILDERS[arch]()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for step in range(steps):
        index = batches[step * 64:(step + 1) * 64]
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[index]), y[index]).backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="session")
def test_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The digits test split as a re-iterable list of two batches (450 images)."""
    x, y = digits_tensors(train=False, seed=0)
    return [(x[:225], y[:225]), (x[225:], y[225:])]


@pytest.fixture
def counter(tmp_path: Path):
    """A side-effect file counting trainings: ``counter.log(m, s)``, ``counter.lines()``."""

    class Counter:
        path = tmp_path / "trainings.log"

        def log(self, method: str, seed: int) -> None:
            with open(self.path, "a") as fh:
                fh.write(f"{method} {seed}\n")

        def lines(self) -> list[str]:
            return self.path.read_text().splitlines() if self.path.exists() else []

    return Counter()


@pytest.fixture(scope="session")
def train_tiny():
    """``train_tiny(arch, seed, steps=6) -> model``: a few seeded Adam steps on digits."""
    return _train_tiny


@pytest.fixture(scope="session")
def builders():
    """Architecture name -> builder of the untrained model."""
    return BUILDERS


@pytest.fixture(scope="session")
def saver():
    """``saver(arch, counter=None, steps=2)``: a train_fn saving whole models under
    ``checkpoint_dir()`` (counting its calls in ``counter``)."""
    from mushin_nb.study import checkpoint_dir

    def make(arch: str, counter=None, steps: int = 2):
        def train(seed: int) -> Path:
            if counter is not None:
                counter.log(arch, seed)
            path = checkpoint_dir() / f"{arch}_{seed}.pt"
            torch.save(_train_tiny(arch, seed, steps), path)
            return path

        return train

    return make


@pytest.fixture(scope="session")
def sklearn_scores():
    """``sklearn_scores(path, load_fn) -> {"accuracy", "f1"}`` on the digits test split."""
    from sklearn.metrics import accuracy_score, f1_score

    from mushin_nb.study import load_checkpoint

    def scores(path, load_fn=load_checkpoint):
        x, y = digits_tensors(train=False, seed=0)
        with torch.no_grad():
            predicted = load_fn(path)(x).argmax(dim=1).numpy()
        return {"accuracy": accuracy_score(y.numpy(), predicted),
                "f1": f1_score(y.numpy(), predicted, average="macro")}

    return scores
