"""Fixtures of the compare tests: the ring data and trained models of tests/metrics, and
compare() run once on them."""

from __future__ import annotations

import pytest

from mushin_nb.compare import compare
from tests.metrics import conftest as rings

# the fixtures of tests/metrics, offered here too (fixtures are found by name in a conftest)
model_factory, ring_test_data, trained = rings.model_factory, rings.ring_test_data, rings.trained


@pytest.fixture(scope="module")
def result(trained, ring_test_data):
    return compare(trained, ring_test_data, num_classes=3, metrics=["accuracy", "f1", "ece"])
