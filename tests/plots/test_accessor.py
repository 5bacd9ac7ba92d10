"""``ds.mushin``: registered once, compares like scipy, reaches every plot."""

from __future__ import annotations

import importlib
import warnings

import matplotlib.image
import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure
from scipy import stats

import mushin_nb.accessor
from mushin_nb.errors import MushinValueError


def _sweep() -> xr.Dataset:
    """A sweep over lr with 5 seeds, as %%mushin returns it."""
    rng = np.random.default_rng(3)
    acc = np.array([[0.80], [0.86], [0.90]]) + 0.01 * rng.standard_normal((3, 5))
    return xr.Dataset({"acc": (("lr", "seed"), acc)},
                      coords={"lr": [0.1, 0.03, 0.01], "seed": range(5)})


def test_registration_is_idempotent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # xarray warns when an accessor is overridden
        importlib.reload(mushin_nb.accessor)
        mushin_nb.accessor.register()
    assert type(_sweep().mushin).__name__ == "MushinAccessor"


def test_compare_equals_scipy():
    ds = _sweep()
    result = ds.mushin.compare(over="seed", test="welch")
    assert result.methods == ["0.1", "0.03", "0.01"]
    row = result.comparisons.query("method_a == '0.1' and method_b == '0.01'").iloc[0]
    reference = stats.ttest_ind(ds.acc.sel(lr=0.1).values, ds.acc.sel(lr=0.01).values,
                                equal_var=False)
    assert row.p_value == pytest.approx(reference.pvalue, rel=1e-9)


@pytest.mark.parametrize("kind", ["summary", "pvalues", "seeds", "curve"])
def test_every_kind_draws(kind, tmp_path):
    fig = _sweep().mushin.plot(kind, backend="matplotlib")
    assert isinstance(fig, Figure)
    fig.savefig(tmp_path / "fig.png", dpi=50)
    assert matplotlib.image.imread(tmp_path / "fig.png")[..., :3].std() > 0.05


def test_curve_defaults_and_errors():
    ds = _sweep()
    overlay = ds.mushin.plot("curve")  # metric 'acc' and x 'lr' are the only choices
    assert overlay.Curve.I.data["lr"].tolist() == [0.01, 0.03, 0.1]
    with pytest.raises(MushinValueError, match="`kind` must be one of"):
        ds.mushin.plot("violin")
    two = ds.assign(loss=1 - ds.acc)
    with pytest.raises(MushinValueError, match=r"`metric` must be one of \['acc', 'loss'\]"):
        two.mushin.plot("curve")
    assert two.mushin.plot("curve", "loss", "lr").Curve.I.data["mean"].iloc[0] == pytest.approx(
        float(1 - ds.acc.sel(lr=0.01).mean()))
