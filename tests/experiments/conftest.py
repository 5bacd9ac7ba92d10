"""Fixtures of the experiments tests: a CPU configuration and registries restored after use."""

import pytest
import torch

from mushin_nb.experiments import Configuration, datasets, models
from mushin_nb.experiments.aggregators import rules


@pytest.fixture
def cpu():
    return Configuration(device="cpu", dtype=torch.float32)


@pytest.fixture
def clean_registries():
    """Whatever a test registers is gone afterwards."""
    saved = [(registry, dict(registry._items)) for registry in (models, datasets, rules)]
    yield
    for registry, items in saved:
        registry._items.clear()
        registry._items.update(items)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread, above all on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
