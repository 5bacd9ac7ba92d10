"""Fixtures for the sweep-engine tests: tasks that leave a trace of every execution."""

import os
from pathlib import Path

import pytest


def _mark(root: str, label: str) -> None:
    folder = Path(root) / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / label, "a") as fh:  # one short line per execution
        fh.write(f"{os.getpid()}\n")


def _counts(root: Path) -> dict[str, int]:
    folder = Path(root) / "runs"
    if not folder.exists():
        return {}
    return {p.name: len(p.read_text().splitlines()) for p in folder.iterdir()}


@pytest.fixture
def mark():
    """``mark(root, label)``: record one execution of job ``label`` under ``root``."""
    return _mark


@pytest.fixture
def counts():
    """``counts(root) -> {label: executions}``."""
    return _counts


@pytest.fixture
def quiet_summary(capsys):
    """Return the sweep summary lines printed so far (and swallow them)."""

    def read() -> list[str]:
        return [line for line in capsys.readouterr().out.splitlines()
                if line.startswith("mushin_nb:")]

    return read
