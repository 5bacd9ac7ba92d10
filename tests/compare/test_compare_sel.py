"""The seed document's ``sel(method=...)`` lines on what compare() returns."""

from __future__ import annotations

import pytest


def test_compare_result_selects_a_method(result):
    by_mapping = result.data.sel({"method": "mlp"})  # xarray's own spelling, for reference
    mlp = result.data.sel(method="mlp")
    assert dict(mlp.sizes) == {"seed": 5} and mlp.identical(by_mapping)
    assert float(result.data["accuracy"].sel(method="linear", seed=1)) == pytest.approx(
        float(result.data["accuracy"].isel(method=0, seed=1)))
