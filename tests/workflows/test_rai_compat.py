"""rai-toolbox's mushin workflow examples and tests, run with only the import changed.

Mirrors the docstring examples and the test-suite of ``rai_toolbox.mushin.workflows``
(rai-toolbox's MIT-licensed tests): the user code below is theirs, the import is ours.
"""

import pickle
import string
from collections.abc import Sequence
from pathlib import Path

import hypothesis.strategies as st
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch as tr  # noqa: E402
import xarray as xr  # noqa: E402
from hydra_zen import builds, load_from_yaml, make_config  # noqa: E402
from hydra_zen.errors import HydraZenValidationError  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402
from xarray.testing import assert_duckarray_equal, assert_identical  # noqa: E402

# the one changed line: ``from rai_toolbox.mushin.workflows import ...``
from mushin_nb.workflows import (  # noqa: E402
    BaseWorkflow,
    MultiRunMetricsWorkflow,
    RobustnessCurve,
    hydra_list,
    multirun,
)

pytestmark = pytest.mark.usefixtures("in_tmp", "no_progress")
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def no_progress(monkeypatch):
    monkeypatch.setenv("MUSHIN_NB_PROGRESS", "off")


class MyWorkflow(BaseWorkflow):
    @staticmethod
    def task():
        return dict(result=1)

    def jobs_post_process(self):
        return


def create_workflow(as_array=False):
    class LocalRobustness(RobustnessCurve):
        @staticmethod
        def task(epsilon):
            val = 100 - epsilon**2
            if as_array:
                val = [val]
            result = dict(result=val)
            tr.save(result, "test_metrics.pt")
            return result

    return LocalRobustness


def test_docs_example_local_robustness():
    class LocalRobustness(MultiRunMetricsWorkflow):
        @staticmethod
        def task(epsilon: float, scale: float) -> dict:
            epsilon *= scale
            val = 100 - epsilon**2
            result = dict(accuracies=val + 2, loss=epsilon**2)
            tr.save(result, "test_metrics.pt")
            return result

    wf = LocalRobustness()
    wf.run(epsilon=multirun([1.0, 2.0, 3.0]), scale=multirun([0.1, 1.0]))
    ds = wf.to_xarray()
    assert dict(ds.sizes) == {"epsilon": 3, "scale": 2}
    assert_allclose(ds.accuracies.values, [[101.99, 101.0], [101.96, 98.0], [101.91, 93.0]])
    assert_allclose(ds.loss.values, [[0.01, 1.0], [0.04, 4.0], [0.09, 9.0]])
    loaded = LocalRobustness().load_from_dir(wf.working_dir, "test_metrics.pt")
    assert_identical(loaded.to_xarray(), ds)
    # the records make the metrics file optional
    assert_identical(LocalRobustness().load_from_dir(wf.working_dir).to_xarray(), ds)
    assert_identical(LocalRobustness().load_from_dir(wf.working_dir, config_dir=".hydra",
                                                     metrics_filename="test_metrics.pt")
                     .to_xarray(), ds)


def test_docs_example_multirun_task_overrides():
    class WorkFlow(MultiRunMetricsWorkflow):
        @staticmethod
        def task(*args, **kwargs):
            return None

    wf = WorkFlow()
    wf.run(foo=hydra_list(["val"]), bar=multirun(["a", "b"]), apple=1)
    assert wf.multirun_task_overrides == {"foo": ["val"], "bar": ["a", "b"], "apple": 1}
    assert isinstance(wf.multirun_task_overrides["bar"], multirun)


def test_docs_example_load_metrics():
    class TorchWorkFlow(MultiRunMetricsWorkflow):
        @staticmethod
        def task(a, b):
            tr.save(dict(a=a, b=b), "metrics.pt")

    wf = TorchWorkFlow()
    wf.run(a=multirun([1, 2, 3]), b=False)
    assert wf.load_metrics("metrics.pt") == {"a": [1, 2, 3], "b": [False, False, False]}
    assert wf.metrics == {"a": [1, 2, 3], "b": [False, False, False]}


def test_docs_example_target_dir_multirun_overrides():
    class A(MultiRunMetricsWorkflow):
        @staticmethod
        def task(value: float, scale: float):
            pass

    class B(MultiRunMetricsWorkflow):
        @staticmethod
        def task():
            pass

    a = A()
    a.run(value=multirun([-1.0, 0.0, 1.0]), scale=multirun([11.0, 9.0]))
    b = B()
    b.run(target_job_dirs=a.multirun_working_dirs)
    assert b.target_dir_multirun_overrides == {
        "value": [-1.0, -1.0, 0.0, 0.0, 1.0, 1.0], "scale": [11.0, 9.0] * 3}


def test_robustnesscurve_raises_notimplemented():
    task = MyWorkflow()
    with pytest.raises(NotImplementedError):
        task.plot()
    with pytest.raises(NotImplementedError):
        task.to_xarray()


def test_robustnesscurve_validate():
    LocalRobustness = create_workflow()
    LocalRobustness(make_config(epsilon=0)).validate()
    with pytest.raises(HydraZenValidationError):
        LocalRobustness().validate()


@pytest.mark.parametrize("config", [None, make_config(epsilon=0), make_config(epsilon=None)])
@pytest.mark.parametrize("as_array", [True, False])
def test_robustnesscurve_run(config, as_array):
    epsilon = [0, 1, 2, 3.0]
    task = create_workflow(as_array)(config)
    task.run(epsilon=epsilon)
    assert "result" in task.metrics
    assert len(task.metrics["result"]) == len(epsilon)
    extracted_epsilon = task.multirun_task_overrides["epsilon"]
    assert isinstance(extracted_epsilon, Sequence)
    assert len(extracted_epsilon) == len(epsilon)
    task.plot("result")
    plt.close("all")


def test_robustnesscurve_working_dir():
    task = create_workflow()(make_config(epsilon=0))
    task.run(epsilon="0,1,2,3", working_dir="test_dir")
    assert str(task.working_dir).endswith("test_dir")
    assert Path("test_dir").exists()


@pytest.mark.parametrize("sweeper,launcher", [(None, None), (None, "basic"), ("basic", None)])
def test_robustnesscurve_hydra(sweeper, launcher):
    task = create_workflow()(make_config(epsilon=0))
    task.run(epsilon=[0, 1, 2, 3], sweeper=sweeper, launcher=launcher)
    assert task.to_xarray().result.values.tolist() == [100, 99, 96, 91]


def test_robustnesscurve_override():
    task = create_workflow()(make_config(epsilon=0))
    overrides = ["hydra.sweep.dir=test_sweep_dir"]
    task.run(epsilon=[0, 1, 2, 3], overrides=overrides)
    assert Path("test_sweep_dir").exists()
    assert len(overrides) == 1


@settings(max_examples=4, **SETTINGS)
@given(epsilon=arrays(shape=st.integers(1, 5), dtype="float", elements=st.floats(-1000, 1000),
                      unique=True))
def test_robustnesscurve_to_data(epsilon):
    task = create_workflow()(make_config(epsilon=0))
    task.run(epsilon=epsilon)
    xd = task.to_xarray(non_multirun_params_as_singleton_dims=True)
    assert isinstance(xd, xr.Dataset)
    assert len(xd["epsilon"]) == len(epsilon)


@pytest.mark.parametrize("fake_param_string", [True, False])
def test_robustnesscurve_extra_param(fake_param_string):
    class BadVal:
        pass

    task = create_workflow()(make_config(epsilon=0))
    if not fake_param_string:
        with pytest.raises(TypeError):
            task.run(epsilon=[0, 1, 2, 3], fake_param=BadVal)
        return
    task.run(epsilon=[0, 1, 2, 3], fake_param="some_value")
    assert task.multirun_task_overrides["fake_param"] == "some_value"
    task.plot("result", group="fake_param", non_multirun_params_as_singleton_dims=True)
    plt.close("all")


@pytest.mark.parametrize("fake_param_string", [True, False])
def test_robustnesscurve_extra_param_multirun(fake_param_string):
    task = create_workflow()(make_config(epsilon=0))
    if not fake_param_string:
        with pytest.raises(TypeError):
            task.run(epsilon=[0, 1, 2, 3], fake_param=[1, 2])
        return
    task.run(epsilon=[0, 1, 2, 3], fake_param="1,2")
    task.plot("result", group="fake_param")
    plt.close("all")
    extracted_fake_param = task.multirun_task_overrides["fake_param"]
    assert isinstance(extracted_fake_param, Sequence) and len(extracted_fake_param) == 2


@pytest.mark.parametrize("ax", [None, "given"])
def test_robustnesscurve_plot_save(ax):
    ax = plt.subplots()[1] if ax else None
    task = create_workflow()()
    task.run(epsilon=[0, 1, 2, 3])
    task.plot("result", save_filename="test_save.png", ax=ax)
    assert Path("test_save.png").exists()
    plt.close("all")


class MultiDimMetrics(RobustnessCurve):
    @staticmethod
    def task(epsilon):
        val = 100 - epsilon**2
        result = dict(images=[[val] * 1] * 4, accuracies=val + 2)
        tr.save(result, "test_metrics.pt")
        return result


@pytest.mark.parametrize("foo, foo_expected", [("val", "val"), (hydra_list(["val"]), "['val']")])
@pytest.mark.parametrize("bar", [multirun(["a", "b"]), multirun(["[a,b]", "[c,d]"])])
def test_robustness_with_multidim_metrics(foo, foo_expected, bar):
    wf = MultiDimMetrics()
    wf.run(epsilon=[1.0, 3.0, 2.0], foo=foo, bar=bar)
    xarray = wf.to_xarray()
    assert list(xarray.data_vars.keys()) == ["images", "accuracies"]
    assert list(xarray.coords.keys()) == ["bar", "epsilon", "images_dim0", "images_dim1"]
    assert xarray.accuracies.shape == (2, 3)
    assert xarray.images.shape == (2, 3, 4, 1)
    assert xarray.attrs == {"foo": foo_expected}
    for eps, expected in zip([1.0, 2.0, 3.0], [99.0, 96.0, 91.0]):
        sub_xray = xarray.sel(epsilon=eps)
        assert np.all(sub_xray.accuracies == expected + 2).item()
        assert np.all(sub_xray.images == expected).item()


class MultiDimIterationMetrics(MultiRunMetricsWorkflow):
    @staticmethod
    def task(epsilon, as_tensor: bool):
        assert isinstance(as_tensor, bool)
        backend = np if as_tensor else tr
        val = 100 * backend.ones(10) - epsilon**2
        epochs = backend.arange(10)
        images = 100 * backend.ones((10, 4, 4)) - epsilon**2
        result = dict(images=images, accuracies=val + 2, epochs=epochs)
        tr.save(result, "test_metrics.pt")
        return result


@pytest.mark.parametrize("as_tensor", [False, True])
def test_robustness_with_multidim_metrics_with_iteration(as_tensor):
    wf = MultiDimIterationMetrics()
    wf.run(epsilon=multirun([1.0, 3.0, 2.0]), foo="val", bar=multirun(["a", "b"]),
           as_tensor=as_tensor)
    xarray = wf.to_xarray(coord_from_metrics="epochs")
    assert list(xarray.data_vars.keys()) == ["images", "accuracies"]
    assert list(xarray.coords.keys()) == ["epsilon", "bar", "epochs", "images_dim1",
                                          "images_dim2"]
    assert xarray.accuracies.shape == (3, 2, 10)
    assert xarray.images.shape == (3, 2, 10, 4, 4)
    assert xarray.attrs == {"foo": "val", "as_tensor": as_tensor}
    for eps, expected in zip([1.0, 2.0, 3.0], [99.0, 96.0, 91.0]):
        sub_xray = xarray.sel(epsilon=eps)
        assert np.all(sub_xray.accuracies == expected + 2).item()
        assert np.all(sub_xray.images == expected).item()
    with pytest.raises(ValueError):
        wf.to_xarray(coord_from_metrics="key_not_in_metrics")


def test_xarray_from_loaded_workflow():
    wf = MultiDimMetrics()
    wf.run(epsilon=[1.0, 3.0, 2.0], foo="val", bar=multirun(["a", "b"]))
    xarray1 = wf.to_xarray()
    xarray2 = MultiDimMetrics().load_from_dir(wf.working_dir, "test_metrics.pt").to_xarray()
    assert_identical(xarray1, xarray2)
    wf3 = MultiDimMetrics(working_dir=wf.working_dir)
    assert_identical(xarray1, wf3.to_xarray(metrics_filename="test_metrics.pt"))
    wf4 = MultiDimMetrics().load_from_dir(wf.working_dir, metrics_filename=None)
    assert_identical(xarray1, wf4.to_xarray(metrics_filename="test_metrics.pt"))


class FirstMultiRun(RobustnessCurve):
    @staticmethod
    def task(epsilon, acc):
        val = 100 - epsilon**2
        result = dict(images=np.array([[val] * 1] * 4), accuracies=acc)
        tr.save(result, "test_metrics.pt")
        return result


class ScndMultiRun(MultiRunMetricsWorkflow):
    @staticmethod
    def task(job_dir, val):
        result = tr.load(f"{job_dir}/test_metrics.pt", weights_only=False)
        result = {k: v * val for k, v in result.items()}
        tr.save(result, "test_metrics.pt")
        return result


@pytest.mark.parametrize("load_from_working_dir", [False, True])
def test_multirun_over_jobdir(load_from_working_dir):
    wf = FirstMultiRun()
    wf.run(epsilon=multirun([1.0, 2.0, 3.0]), acc=multirun([1, 2]),
           list_vals=multirun([[0, 1]]), working_dir="first")
    snd_wf = ScndMultiRun()
    snd_wf.run(target_job_dirs=wf.multirun_working_dirs, val=multirun([1, 2]),
               working_dir="second")
    if load_from_working_dir:
        snd_wf = ScndMultiRun().load_from_dir(snd_wf.working_dir, "test_metrics.pt")
    assert wf.target_dir_multirun_overrides == {}
    assert snd_wf.target_dir_multirun_overrides == {
        "acc": [1, 1, 1, 2, 2, 2], "epsilon": [1.0, 2.0, 3.0, 1.0, 2.0, 3.0],
        "list_vals": [[0, 1]] * 6}
    xr1, xr2 = wf.to_xarray(), snd_wf.to_xarray()
    assert dict(xr1.sizes) == {"acc": 2, "epsilon": 3, "images_dim0": 4, "images_dim1": 1}
    assert dict(xr2.sizes) == {"val": 2, "job_dir": 6, "images_dim0": 4, "images_dim1": 1}
    xr2 = xr2.set_index(job_dir=["epsilon", "acc", "list_vals"]).unstack("job_dir")
    xr2 = xr2.transpose("list_vals", "val", "acc", "epsilon", "images_dim0", "images_dim1")
    assert_identical(xr1.epsilon, xr2.epsilon)
    assert_identical(xr1.acc, xr2.acc)
    assert_duckarray_equal(xr1.images, xr2.images.sel(val=1, list_vals="[0, 1]"))
    assert_duckarray_equal(2 * xr1.images, xr2.images.sel(val=2, list_vals="[0, 1]"))
    assert_duckarray_equal(xr1.accuracies, xr2.accuracies.sel(val=1, list_vals="[0, 1]"))
    assert_duckarray_equal(2 * xr1.accuracies, xr2.accuracies.sel(val=2, list_vals="[0, 1]"))


class NoMetrics(MultiRunMetricsWorkflow):
    @staticmethod
    def task(x: int, y: int):
        pass


@pytest.mark.parametrize("load_from_working_dir", [False, True])
def test_multirun_metrics_workflow_no_metrics(load_from_working_dir):
    wf = NoMetrics()
    wf.run(x=multirun([-1, 0, 1]), y=multirun([-10, 10]))
    assert wf.multirun_task_overrides == {"x": [-1, 0, 1], "y": [-10, 10]}
    if load_from_working_dir:
        wf = NoMetrics().load_from_dir(wf.working_dir, metrics_filename=None)
    xdata = wf.to_xarray()
    assert dict(xdata.sizes) == {"x": 3, "y": 2}
    assert_allclose(xdata.coords["x"].data, [-1, 0, 1])
    assert_allclose(xdata.coords["y"].data, [-10, 10])
    assert len(xdata.data_vars) == 0


class GridMetrics(MultiRunMetricsWorkflow):
    @staticmethod
    def task(x: int, y: int):
        results = dict(xx=x, yy=y)
        tr.save(results, "test_metrics.pt")
        return results


@pytest.mark.parametrize("hydra_sweep_dir", [None, "cross_validation/", "."])
@pytest.mark.parametrize("hydra_sweep_subdir", [None, "x_${x}_y_${y}"])
def test_working_subdirs(hydra_sweep_dir, hydra_sweep_subdir):
    overrides = [f"{k.replace('_', '.')}={v}" for k, v in
                 dict(hydra_sweep_dir=hydra_sweep_dir,
                      hydra_sweep_subdir=hydra_sweep_subdir).items() if v is not None]
    wf = GridMetrics()
    wf.run(x=multirun([-1, 0, 1]), y=multirun([-10, 10]), overrides=overrides)
    for load_from_working_dir in (False, True):
        if load_from_working_dir:
            wf = GridMetrics().load_from_dir(wf.working_dir, metrics_filename="test_metrics.pt")
        xdata = wf.to_xarray(include_working_subdirs_as_data_var=True)
        yy, xx = np.meshgrid([-10, 10], [-1, 0, 1])
        assert_allclose(actual=xdata.xx.data, desired=xx)
        assert_allclose(actual=xdata.yy.data, desired=yy)
        for x_coord in xdata.x:
            for y_coord in xdata.y:
                dd = Path(xdata.working_subdir.sel(x=x_coord, y=y_coord).item())
                if hydra_sweep_subdir:
                    assert dd.name == f"x_{x_coord.item()}_y_{y_coord.item()}"
                cfg = load_from_yaml(dd / ".hydra" / "config.yaml")
                assert cfg == dict(x=x_coord.item(), y=y_coord.item())
        xdata.to_netcdf("tmp.nc")


@pytest.mark.parametrize("file_pattern",
                         ["*.pt", ("*.pt",), ("images.pt", "acc.pt"), ("images.*", "acc.*")])
def test_globbed_xarray(file_pattern):
    class MultiSaveFile(MultiRunMetricsWorkflow):
        @staticmethod
        def task(epsilon, acc):
            val = 100 - epsilon**2
            result = dict(images=np.array([[val] * 1] * 4), accuracies=acc)
            tr.save(dict(images=result["images"]), "images.pt")
            tr.save(dict(accuracies=result["accuracies"]), "acc.pt")
            return result

    wf = MultiSaveFile()
    wf.run(epsilon=multirun([1, 2, 3]), acc=multirun([0.9, 0.95, 0.99]))
    xdata1 = wf.to_xarray()
    xdata2 = MultiSaveFile(working_dir=wf.working_dir).to_xarray(metrics_filename=file_pattern)
    assert_identical(xdata1, xdata2)


@pytest.mark.parametrize("seed", [0, 123])
def test_pre_task_seeding(seed: int):
    class HasPreTask(MultiRunMetricsWorkflow):
        @staticmethod
        def pre_task(seed: int):
            np.random.seed(seed)  # the anchor's example seeds NumPy's global RNG

        @staticmethod
        def task(rand_val: int):
            return {"rand_val": rand_val}

    wf = HasPreTask(make_config(rand_val=builds(np.random.rand)))
    wf.run(seed=seed)
    actual = wf.jobs[0].return_value["rand_val"]
    expected = np.random.RandomState(seed).rand()
    assert expected == actual


def test_raises_on_non_static_method():
    class NonStaticEvalTask(MultiRunMetricsWorkflow):
        def task(self):
            pass

    class NonStaticPreTask(MultiRunMetricsWorkflow):
        def pre_task(self):
            pass

    with pytest.raises(TypeError, match="task must be a static method"):
        NonStaticEvalTask().run()
    with pytest.raises(TypeError, match="pre_task must be a static method"):
        NonStaticPreTask().run()


@settings(max_examples=4, **SETTINGS)
@given(int_=st.integers(), bool_=st.booleans(), float_=st.floats(-10, 10),
       list_=st.lists(st.integers(), max_size=3),
       str_=st.text(alphabet=string.ascii_lowercase, min_size=1).filter(
           lambda x: x not in {"true", "false", "null", "nan", "inf"}),
       mrun=st.lists(st.booleans() | st.lists(st.integers(), max_size=2), min_size=2,
                     max_size=4, unique_by=str).map(multirun))
def test_overrides_roundtrip(int_, bool_, float_, str_, list_, mrun):
    class WorkFlow(MultiDimIterationMetrics):
        @staticmethod
        def task():
            pass

    overrides = dict(int_=int_, float_=float_, str_=str_, bool_=bool_, list_=hydra_list(list_),
                     mrun=mrun)
    wf = WorkFlow()
    wf.run(**overrides)
    assert wf.multirun_task_overrides == overrides
    xdata = wf.to_xarray(non_multirun_params_as_singleton_dims=True)
    assert xdata.int_.item() == int_
    assert xdata.bool_.item() == bool_
    assert xdata.str_.item() == str_
    if not isinstance(mrun[0], list) and all(isinstance(i, type(mrun[0])) for i in mrun):
        assert xdata.mrun.data.tolist() == mrun
    else:
        assert xdata.mrun.data.tolist() == [str(i) for i in mrun]


def test_evaluation_task_is_deprecated():
    class OldWorkflow(MultiRunMetricsWorkflow):
        @staticmethod
        def evaluation_task(a: int):
            return dict(a=a)

    with pytest.warns(FutureWarning):
        wf = OldWorkflow()
    wf.run(a=10)
    assert wf.jobs[0].return_value == dict(a=10)


def test_custom_metric_load_fn():
    class PickleWorkFlow(MultiRunMetricsWorkflow):
        def metric_load_fn(self, file_path: Path):
            with file_path.open("rb") as f:
                return pickle.load(f)

        @staticmethod
        def task(a, b):
            with open("./metrics.pkl", "wb") as f:
                pickle.dump(dict(a=[[a] * 2], b=b), f)

    wf = PickleWorkFlow()
    wf.run(a=multirun([1, 2, 3]), b=False)
    wf.load_metrics("metrics.pkl")
    assert wf.metrics == dict(a=[[1] * 2, [2] * 2, [3] * 2], b=[False] * 3)


def test_regression_68():
    class Blank(MultiRunMetricsWorkflow):
        @staticmethod
        def task():
            pass

    wf1 = Blank()
    wf1.run(list_vals=multirun([[0, 1], [2, 3]]), working_dir="first")
    wf2 = Blank()
    wf2.run(target_job_dirs=wf1.multirun_working_dirs, val=multirun([1, 2]),
            working_dir="second")
    assert np.all(wf1.to_xarray().list_vals.data == wf2.to_xarray().list_vals.data)
