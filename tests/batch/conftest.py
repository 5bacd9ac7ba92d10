"""Fixtures of the batch tests: the fixture notebook and the command-line entry point."""

import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="session")
def grid_nb() -> Path:
    """A notebook: parameters a, b, label, fail_flag, counter, barrier, parties; it records
    value = a * 10 + b, square = arange(3) * a, pair = [a, b], text (= label),
    kernel_parent, at_once."""
    return NOTEBOOKS / "batch_grid.ipynb"


@pytest.fixture(scope="session")
def mushin_nb_cmd() -> str:
    """The installed ``mushin-nb`` console script of this environment."""
    script = Path(sys.executable).parent / "mushin-nb"
    assert script.exists(), "install the package (pip install -e .) to get mushin-nb"
    return str(script)
