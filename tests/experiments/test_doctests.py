"""The ``>>>`` examples of every experiments module run and hold."""

import doctest
import importlib

import pytest

MODULES = [
    "mushin_nb.experiments",
    "mushin_nb.experiments.aggregators",
    "mushin_nb.experiments.checkpoint",
    "mushin_nb.experiments.configuration",
    "mushin_nb.experiments.dataset",
    "mushin_nb.experiments.digits",
    "mushin_nb.experiments.loss",
    "mushin_nb.experiments.model",
    "mushin_nb.experiments.optimizer",
    "mushin_nb.experiments.registry",
    "mushin_nb.experiments.zoo",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
