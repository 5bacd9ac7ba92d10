"""Suite-wide set-up: headless plotting, no live displays, and a clean working dir per test."""

import os

import pytest
from hypothesis import settings

# The same examples on every run, so a red run can be replayed;
# HYPOTHESIS_PROFILE=explore draws fresh ones (the way to hunt for new failures).
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HYDRA_FULL_ERROR", "1")
# two cores: one thread per process avoids oversubscription (40x slowdowns seen)
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run the test with ``tmp_path`` as the current directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
