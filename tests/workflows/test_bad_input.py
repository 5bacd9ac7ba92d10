"""Bad input: each raises a MushinError naming the argument and the fix, before any job."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mushin_nb.errors import (
    MushinError,
    MushinFileNotFoundError,
    MushinKeyError,
    MushinNotADirectoryError,
    MushinTypeError,
    MushinValueError,
    NotRunError,
)
from mushin_nb.results import build_dataset, load_results, save_netcdf
from mushin_nb.workflows import (
    MultiRunMetricsWorkflow,
    RobustnessCurve,
    hydra_list,
    load_from_dir,
    multirun,
    sweep,
)


def noop(**params):
    return {}


class Unsupported:
    pass


unsupported = st.one_of(
    st.builds(Unsupported), st.just(noop), st.sets(st.integers(), max_size=2),
    st.builds(lambda n: np.zeros(n), st.integers(1, 3)),
    st.builds(lambda n: torch.ones(n), st.integers(1, 3)), st.binary(max_size=3),
    st.complex_numbers(allow_nan=False, allow_infinity=False))
# inside multirun([...]) a list is one value of the sweep; alone it is ambiguous
bare_lists = st.one_of(st.lists(st.integers(), max_size=3), st.tuples(st.integers()))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(unsupported, bare_lists), swept=st.booleans())
def test_unsupported_param_values(in_tmp, value, swept):
    swept = swept and not isinstance(value, (list, tuple))
    param = multirun([1, value]) if swept else value
    with pytest.raises(MushinTypeError, match=r"`model(\[1\])?` must be a bool, int, float, "
                                              r"str, dict, multirun.*Fix: "):
        sweep(noop, {"model": param}, progress=False)
    assert not (in_tmp / "multirun").exists()  # nothing ran, nothing was created


def test_bare_list_says_how_to_wrap_it(in_tmp):
    with pytest.raises(MushinTypeError, match=r"Fix: wrap it: seeds=multirun\(\[...\]\) sweeps"):
        sweep(noop, {"seeds": [0, 1]}, progress=False)


@pytest.mark.parametrize("params", [{"lr": None}, {"lr": multirun([0.1, None])},
                                    {"lr": hydra_list([1, None])}, {"lr": {"a": None}}])
def test_none_values(in_tmp, params):
    with pytest.raises(MushinValueError, match=r"`lr.*` must be a value \(None cannot be "
                                               r"swept or passed\), got None.*Fix: omit"):
        sweep(noop, params, progress=False)


def test_empty_and_nested_multirun(in_tmp):
    with pytest.raises(MushinValueError, match=r"`lr` must be a non-empty multirun.*Fix"):
        sweep(noop, {"lr": multirun([])}, progress=False)
    with pytest.raises(MushinTypeError, match=r"multirun cannot be nested.*Fix"):
        sweep(noop, {"lr": multirun([multirun([1])])}, progress=False)


def test_repeated_swept_values(in_tmp):
    with pytest.raises(MushinValueError, match=r"parameter `seed` sweeps over repeated values "
                                               r"\['1'\]. Fix: list each value once"):
        sweep(noop, {"seed": multirun([1, 2, 1])}, progress=False)


def test_task_must_be_a_static_method(in_tmp):
    class NotStatic(MultiRunMetricsWorkflow):
        def task(self, x):
            return {}

    class PreNotStatic(MultiRunMetricsWorkflow):
        @staticmethod
        def task(x):
            return {}

        def pre_task(self):
            pass

    with pytest.raises(MushinTypeError, match=r"NotStatic.task must be a static method "
                                              r"\(got function\). Fix: decorate"):
        NotStatic().run(x=multirun([1]), progress=False)
    with pytest.raises(TypeError, match="pre_task must be a static method"):
        PreNotStatic().run(x=multirun([1]), progress=False)


def test_missing_task_parameter_is_caught_before_any_job(in_tmp, mark, counts):
    class Flow(MultiRunMetricsWorkflow):
        @staticmethod
        def task(lr, seed, root):
            mark(root, "ran")
            return {}

    with pytest.raises(MushinTypeError, match=r"`task` parameter `seed` has no value.*"
                                              r"Fix: pass seed=\.\.\. to run\(\)"):
        Flow().run(lr=multirun([0.1, 0.2]), root=str(in_tmp), working_dir="w",
                   progress=False)
    assert counts(in_tmp) == {} and not (in_tmp / "w").exists()

    def fn(lr, seed):
        return {}

    with pytest.raises(MushinTypeError, match=r"`params` must be a value for `seed`, a "
                                              r"required parameter of task_fn 'fn'.*Fix: add"):
        sweep(fn, {"lr": multirun([0.1])}, progress=False)
    with pytest.raises(MushinTypeError, match=r"`params` must be a parameter task_fn accepts "
                                              r"\(\['lr', 'seed'\]\), got 'sed'.*Fix: remove"):
        sweep(fn, {"lr": 1, "seed": 2, "sed": 3}, progress=False)


def test_unknown_launcher_lists_the_known_ones(in_tmp):
    with pytest.raises(MushinValueError, match=r"`launcher` must be one of \['mushin', "
                                               r"'basic', .*'joblib'.*'submitit_local'.*\], "
                                               r"got 'jobllib'.*Fix"):
        sweep(noop, {"a": multirun([1])}, launcher="jobllib", progress=False)


def test_unknown_sweeper(in_tmp):
    with pytest.raises(MushinValueError, match=r"`sweeper` must be None or 'basic'.*Fix"):
        MultiRunMetricsWorkflow().run(sweeper="optuna", progress=False)


def test_working_dir_that_is_a_file(in_tmp):
    (in_tmp / "results.txt").write_text("precious")
    with pytest.raises(MushinNotADirectoryError, match=r"`working_dir` must be a directory.*"
                                                       r"results.txt is a file"):
        sweep(noop, {"a": multirun([1])}, working_dir="results.txt", progress=False)
    with pytest.raises(NotADirectoryError):
        sweep(noop, {"a": multirun([1])}, working_dir="results.txt/sub", progress=False)
    assert (in_tmp / "results.txt").read_text() == "precious"


def test_metric_shapes_must_agree(in_tmp):
    wf = sweep(lambda n: {"m": np.ones((2, n))}, {"n": multirun([1, 2])}, progress=False)
    with pytest.raises(MushinValueError, match=r"metric `m` has shape \(2, 1\) in job 'n=1' "
                                               r"but \(2, 2\) in job 'n=2'.*Fix: return the "
                                               r"same shape"):
        wf.to_xarray()


def test_metric_named_like_a_parameter(in_tmp):
    wf = sweep(lambda n: {"n": n}, {"n": multirun([1, 2])}, progress=False)
    with pytest.raises(MushinValueError, match=r"metric `n` has the name of a swept "
                                               r"parameter.*Fix: return it under another"):
        wf.to_xarray()


def test_results_before_run():
    with pytest.raises(NotRunError, match=r"`to_xarray\(\)` needs results: call run"):
        MultiRunMetricsWorkflow().to_xarray()
    with pytest.raises(NotRunError, match=r"`working_dir` is not set"):
        MultiRunMetricsWorkflow().working_dir  # noqa: B018


def test_sweep_argument_types(in_tmp):
    with pytest.raises(MushinTypeError, match=r"`task_fn` must be a callable.*Fix"):
        sweep("train.py", {"a": 1}, progress=False)
    with pytest.raises(MushinTypeError, match=r"`params` must be a mapping.*Fix"):
        sweep(noop, [("a", 1)], progress=False)
    with pytest.raises(MushinTypeError, match=r"`params` must be identifier names.*'my-lr'"):
        sweep(noop, {"my-lr": 1}, progress=False)
    with pytest.raises(MushinTypeError, match=r"`overrides` must be a list of override "
                                              r"strings.*Fix"):
        sweep(noop, {"a": 1}, overrides="hydra.launcher.n_jobs=2", progress=False)
    with pytest.raises(MushinTypeError, match=r"`opt key` must be an identifier string.*Fix"):
        sweep(noop, {"opt": {1: "a"}}, progress=False)


def test_overrides_that_do_not_compose(in_tmp):
    with pytest.raises(MushinValueError, match=r"`overrides` .* do not compose.*Fix"):
        sweep(noop, {"a": 1}, overrides=["hydra.no_such_key=3"], progress=False)


def test_target_job_dirs(in_tmp):
    with pytest.raises(MushinTypeError, match=r"`target_job_dirs` must be a sequence of job "
                                              r"directories.*Fix"):
        MultiRunMetricsWorkflow().run(target_job_dirs="multirun/0", progress=False)
    with pytest.raises(MushinFileNotFoundError, match=r"`target_job_dirs` must be existing"):
        MultiRunMetricsWorkflow().run(target_job_dirs=["nope"], progress=False)


def test_loading_something_that_is_not_a_sweep(in_tmp):
    with pytest.raises(MushinFileNotFoundError, match=r"`working_dir` must be a sweep "
                                                      r"directory holding multirun.yaml.*Fix"):
        load_from_dir(in_tmp)
    with pytest.raises(MushinFileNotFoundError, match=r"`path` must be an existing .nc file"):
        load_results(in_tmp / "missing.nc")
    with pytest.raises(MushinValueError, match=r"`ds` must be an xarray.Dataset"):
        save_netcdf({"a": 1}, in_tmp / "x.nc")
    with pytest.raises(MushinFileNotFoundError, match=r"`path` must be a file in an existing "
                                                      r"directory.*Fix: create"):
        save_netcdf(build_dataset({}, {"a": [1]}), in_tmp / "no" / "x.nc")


def test_plot_and_coordinate_names(in_tmp):
    class Curve(RobustnessCurve):
        @staticmethod
        def task(epsilon):
            return {"acc": 1 - epsilon}

    wf = Curve()
    wf.run(epsilon=[0.0, 0.5], progress=False)
    with pytest.raises(MushinKeyError, match=r"`metric` must be one of \['acc'\], got 'loss'"):
        wf.plot("loss")
    with pytest.raises(MushinKeyError, match=r"`group` must be one of"):
        wf.plot("acc", group="seed")
    with pytest.raises(MushinValueError, match=r"`coord_from_metrics` must be one of the "
                                               r"metrics \['acc'\].*Fix"):
        wf.to_xarray(coord_from_metrics="epoch")
    assert isinstance(MushinKeyError("x"), KeyError) and isinstance(MushinKeyError("x"),
                                                                     MushinError)
