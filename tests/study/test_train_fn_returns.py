"""What a Study does with what its train_fns return: no path at all is an error to fix, and
its results keep the seed documents' ``sel(method=...)`` lines."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from mushin_nb.errors import MushinValueError, SweepFailedError
from mushin_nb.study import Study, TrainFnReturnError

QUIET = {"progress": False}


@pytest.mark.parametrize(("returned", "says"), [
    (None, r"returned None for seed 0\. Fix: return the path"),
    ({"model": "x.pt"}, r"returned \{'model': 'x.pt'\} \(type: dict\) for seed 0, not a path"),
])
def test_a_train_fn_returning_no_path_raises_a_value_error_naming_method_and_seed(
        tmp_path, test_batches, saver, counter, returned, says):
    def forgot_return(seed):
        counter.log("forgot", seed)
        return returned

    study = Study({"cnn": saver("cnn", counter), "forgot": forgot_return}, seeds=[0, 1],
                  data=test_batches, num_classes=10, metrics=["accuracy"],
                  working_dir=tmp_path / "wd", **QUIET)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "compared what was left" warning: it stops
        with pytest.raises(MushinValueError, match=r"Study: 2 training\(s\) returned no "
                           r"checkpoint path: \(forgot, seed 0\): MushinValueError: train_fn "
                           r"of method 'forgot' " + says) as info:
            study.run()
    assert isinstance(info.value, ValueError) and isinstance(info.value, TrainFnReturnError)
    assert isinstance(info.value, SweepFailedError)  # as every study that stops
    assert "(forgot, seed 1)" in str(info.value)
    # every training ran to its end first: the good method's checkpoints are all there
    assert sorted(counter.lines()) == ["cnn 0", "cnn 1", "forgot 0", "forgot 1"]
    assert all(Path(p).is_file() for p in study.checkpoints["cnn"])
    assert [(f.method, f.seed) for f in study.failures] == [("forgot", 0), ("forgot", 1)]


def test_a_train_fn_that_raises_is_still_recorded_and_isolated(tmp_path, test_batches, saver):
    train_cnn = saver("cnn")

    def flaky(seed):
        if seed == 2:
            raise RuntimeError("out of memory at seed 2")
        return train_cnn(seed)

    study = Study({"mlp": saver("mlp"), "flaky": flaky}, seeds=[0, 1, 2], data=test_batches,
                  num_classes=10, metrics=["accuracy"], working_dir=tmp_path / "wd", **QUIET)
    with pytest.warns(UserWarning, match=r"1 \(method, seed\) pairs have no checkpoint"):
        result = study.run()
    assert [(f.method, f.seed) for f in study.failures] == [("flaky", 2)]
    assert "RuntimeError: out of memory at seed 2" in study.failures[0].error
    # the seed document's lines on a Study's result
    flaky_seeds = result.data.sel(method="flaky")
    assert dict(flaky_seeds.sizes) == {"seed": 3}
    assert flaky_seeds.identical(result.data.sel({"method": "flaky"}))
    assert float(result.data["accuracy"].sel(method="mlp", seed=1)) == float(
        result.data["accuracy"].sel({"method": "mlp", "seed": 1}))
