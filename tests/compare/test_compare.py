"""compare() on really trained models, compare_dataset() on a sweep, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from scipy import stats as sps
from sklearn.metrics import accuracy_score

from mushin_nb.compare import compare, compare_dataset
from mushin_nb.errors import MushinKeyError, MushinTypeError, MushinValueError
from mushin_nb.stats import COMPARISON_COLUMNS, SUMMARY_COLUMNS


def _accuracy(model, batches):
    """Per-model accuracy computed independently: argmax predictions scored by sklearn."""
    with torch.no_grad():
        pred = torch.cat([model(x).argmax(1) for x, _ in batches]).numpy()
    return accuracy_score(torch.cat([y for _, y in batches]).numpy(), pred)


def test_compare_finds_the_trained_mlp_better_than_the_linear_model(result, trained,
                                                                    ring_test_data):
    assert result.data["accuracy"].dims == ("method", "seed")
    assert result.methods == ["linear", "mlp"] and result.data["seed"].values.tolist() == [
        0, 1, 2, 3, 4]
    acc = {m: [_accuracy(model, ring_test_data) for model in models]
           for m, models in trained.items()}
    np.testing.assert_allclose(result.data["accuracy"].values, [acc["linear"], acc["mlp"]])
    assert {k: result.data.attrs[k] for k in ("test", "alpha", "task")} == {
        "test": "welch", "alpha": 0.05, "task": "classification"}
    row = result.comparisons.set_index("metric").loc["accuracy"]
    assert (row["method_a"], row["method_b"]) == ("linear", "mlp")
    ref = sps.ttest_ind(acc["linear"], acc["mlp"], equal_var=False)
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert row["diff"] < 0 and row["diff_ci_high"] < 0 and bool(row["significant"])
    assert row["prob_improvement"] == 0.0 and row["effect_size"] < -1
    summary = result.summary().set_index(["method", "metric"])
    assert summary.loc[("mlp", "accuracy"), "significant_vs_ref"] == "*"
    assert summary.loc[("linear", "accuracy"), "significant_vs_ref"] == ""


def test_tables_have_exactly_the_design_columns(result):
    assert tuple(result.comparisons.columns) == COMPARISON_COLUMNS == (
        "metric", "method_a", "method_b", "mean_a", "mean_b", "diff", "diff_ci_low",
        "diff_ci_high", "statistic", "p_value", "p_holm", "significant", "effect_size",
        "prob_improvement", "test", "n_a", "n_b")
    assert tuple(result.summary().columns) == SUMMARY_COLUMNS == (
        "method", "metric", "mean", "ci_low", "ci_high", "significant_vs_ref")
    assert len(result.comparisons) == 3 and len(result.summary()) == 6


def test_checkpoint_paths_are_loaded_one_at_a_time_with_load_fn(tmp_path, trained,
                                                               ring_test_data, result,
                                                               model_factory):
    paths = {}
    for method, models in trained.items():
        paths[method] = []
        for seed, model in enumerate(models):
            path = tmp_path / f"{method}-{seed}.pt"
            torch.save(model.state_dict(), path)
            paths[method].append(str(path) if seed % 2 else path)  # str and PathLike
    loaded = []

    def load_fn(path):
        kind = os.path.basename(path).split("-")[0]
        model = model_factory(kind)
        model.load_state_dict(torch.load(path, weights_only=True))
        loaded.append(os.path.basename(path))
        return model

    again = compare(paths, ring_test_data, num_classes=3, load_fn=load_fn,
                    metrics=["accuracy", "f1", "ece"])
    assert loaded == [f"{m}-{s}.pt" for m in ("linear", "mlp") for s in range(5)]
    xr.testing.assert_allclose(again.data, result.data)
    pd.testing.assert_frame_equal(again.comparisons, result.comparisons)


def test_seed_ids_pair_the_scores_of_a_paired_test(trained, ring_test_data):
    linear, mlp = trained["linear"], trained["mlp"]
    models = {"linear": {4: linear[4], 0: linear[0], 2: linear[2]},
              "mlp": {2: mlp[2], 4: mlp[4], 0: mlp[0]}}
    out = compare(models, ring_test_data, num_classes=3, metrics=["accuracy"], test="paired-t")
    assert out.data["seed"].values.tolist() == [0, 2, 4]
    a = [_accuracy(linear[s], ring_test_data) for s in (0, 2, 4)]
    b = [_accuracy(mlp[s], ring_test_data) for s in (0, 2, 4)]
    ref = sps.ttest_rel(a, b)
    row = out.comparisons.iloc[0]
    assert row.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert row.statistic == pytest.approx(ref.statistic, rel=1e-9)
    unpaired = {"linear": {0: linear[0], 1: linear[1]}, "mlp": {1: mlp[1], 2: mlp[2]}}
    with pytest.raises(MushinValueError, match=r"only 'linear' has seeds \[0\], only 'mlp' has "
                       r"seeds \[2\]"):
        compare(unpaired, ring_test_data, num_classes=3, metrics=["accuracy"], test="wilcoxon")


class Recorder:
    """A progress sink that writes down every call of the sink contract."""

    def __init__(self):
        self.events = []

    def start(self, labels, title=""):
        self.events.append(("start", list(labels), title))

    def job_start(self, index):
        self.events.append(("job_start", index))

    def job_report(self, index, step, total, metrics):
        self.events.append(("report", index))

    def job_end(self, index, status, error=None):
        self.events.append(("job_end", index, status, error))

    def watch(self, index, event_file):
        pass

    def close(self, ok=True):
        self.events.append(("close", ok))


def test_progress_shows_one_job_per_model_and_a_failure(trained, ring_test_data):
    sink = Recorder()
    models = {"linear": trained["linear"][:2], "mlp": trained["mlp"][:2]}
    compare(models, ring_test_data, num_classes=3, metrics=["accuracy"], progress=sink)
    assert sink.events[0] == ("start", ["linear seed=0", "linear seed=1", "mlp seed=0",
                                        "mlp seed=1"], "compare")
    assert sink.events[1:] == [e for i in range(4)
                               for e in (("job_start", i), ("job_end", i, "done", None))] + [
        ("close", True)]
    sink = Recorder()
    broken = {"linear": trained["linear"][:2], "bad": [torch.nn.Linear(2, 5)] * 2}
    with pytest.raises(MushinValueError, match="`num_classes` is 3"):
        compare(broken, ring_test_data, num_classes=3, metrics=["accuracy"], progress=sink)
    assert sink.events[-2][:3] == ("job_end", 2, "failed") and "num_classes" in sink.events[-2][3]
    assert sink.events[-1] == ("close", False)


def test_bad_input_is_refused_before_anything_runs(trained, ring_test_data):
    ok = {"linear": trained["linear"][:2], "mlp": trained["mlp"][:2]}

    def run(models=ok, data=ring_test_data, **kw):
        kw.setdefault("num_classes", 3)
        return compare(models, data, **kw)

    with pytest.raises(MushinTypeError, match="`data` must be re-iterable batches.*read once per"
                       " model.*pass list\\(data\\)"):
        run(data=iter(ring_test_data))
    with pytest.raises(MushinTypeError, match="`data` must be re-iterable"):
        run(data=(batch for batch in ring_test_data))
    with pytest.raises(MushinValueError, match="`data` must be a non-empty iterable"):
        run(data=[])
    labels_out = [(x, y + 1) for x, y in ring_test_data]
    with pytest.raises(MushinValueError, match=r"target label 3 is outside \[0, num_classes=3\)"):
        run(data=labels_out)
    with pytest.raises(MushinValueError, match=r"shape \(200, 3\) but `num_classes` is 4"):
        run(num_classes=4)
    with pytest.raises(MushinValueError, match=r"`models\['mlp'\]` must be at least 2 models "
                       r"\(seeds\) per method"):
        run(models={"linear": ok["linear"], "mlp": ok["mlp"][:1]})
    with pytest.raises(MushinValueError, match="`test` must be one of 'welch', 'student', "
                       "'mannwhitney', 'wilcoxon', 'paired-t', 'permutation', got 'ttest'"):
        run(test="ttest")
    with pytest.raises(MushinKeyError, match="unknown metric 'acc' in `metrics`. Known "
                       "metrics: accuracy"):
        run(metrics=["acc"])
    with pytest.raises(MushinKeyError, match="unknown task 'detection'. Known tasks: "):
        run(task="detection")
    with pytest.raises(MushinKeyError, match="unknown reference method 'cnn'. Known methods: "
                       "'linear', 'mlp'"):
        run(reference="cnn")
    with pytest.raises(MushinValueError, match="`load_fn` must be a callable path -> model, "
                       "since models\\['linear'\\] holds checkpoint paths"):
        run(models={"linear": ["a.pt", "b.pt"], "mlp": ok["mlp"]})
    with pytest.raises(MushinTypeError, match="`models\\['mlp'\\]` must be a list of models"):
        run(models={"linear": ok["linear"], "mlp": ok["mlp"][0]})
    with pytest.raises(MushinTypeError, match="`models` must be a non-empty dict"):
        run(models=[ok["linear"], ok["mlp"]])
    with pytest.raises(MushinTypeError, match="`models\\['mlp'\\]` must be seed ids that are "
                       "ints, got 'a'"):
        run(models={"linear": ok["linear"], "mlp": {"a": ok["mlp"][0], "b": ok["mlp"][1]}})
    with pytest.raises(MushinTypeError, match="`seed` must be a non-negative int"):
        run(seed=np.random.default_rng(0))


def test_a_nan_score_is_refused_with_the_cell_it_came_from(trained, ring_test_data):
    one_class = [(x[y == 0], y[y == 0]) for x, y in ring_test_data]
    with pytest.raises(MushinValueError, match="metric 'auroc' of method 'linear', seed 0 is "
                       "nan.*leave the metric out"):
        compare({"linear": trained["linear"][:2], "mlp": trained["mlp"][:2]}, one_class,
                num_classes=3, metrics=["auroc"])


def test_compare_dataset_compares_the_levels_of_any_sweep_dimension():
    rng = np.random.default_rng(1)
    sweep = xr.Dataset({"loss": (("lr", "rep", "opt"), rng.normal(0, 1, (3, 5, 1))
                                 + np.array([0, 2, 4])[:, None, None])},
                       coords={"lr": [0.1, 0.01, 0.001], "rep": range(5), "opt": ["sgd"]})
    out = compare_dataset(sweep, over="rep")
    assert out.methods == ["0.1", "0.01", "0.001"] and out.data["loss"].dims == ("method",
                                                                                 "seed")
    assert out.data.attrs["compared"] == "lr" and out.data.attrs["replicates"] == "rep"
    row = out.comparisons.iloc[0]
    ref = sps.ttest_ind(sweep["loss"][0, :, 0], sweep["loss"][1, :, 0], equal_var=False)
    assert row.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    with pytest.raises(MushinKeyError, match="`over` must be a dimension of ds, got 'seed'"):
        compare_dataset(sweep)
    wide = xr.concat([sweep, sweep.assign_coords(opt=["adam"])], dim="opt")
    with pytest.raises(MushinValueError, match="`by` must be the dimension to compare, one of "
                       "\\['lr', 'opt'\\]"):
        compare_dataset(wide, over="rep")
    with pytest.raises(MushinValueError, match="\\['opt'\\] have several levels.*ds.sel\\(opt"):
        compare_dataset(wide, over="rep", by="lr")


def test_warnings_of_the_statistics_reach_the_caller(trained, ring_test_data):
    models = {m: v[:3] for m, v in trained.items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compare(models, ring_test_data, num_classes=3, metrics=["accuracy"],
                test="mannwhitney")
    assert any("can never give p < alpha" in str(w.message) for w in caught)


def test_mushin_nb_compare_stays_callable_after_the_submodule_is_imported():
    code = ("import mushin_nb\n"
            "from mushin_nb.compare import BenchmarkResult\n"  # rebinds mushin_nb.compare
            "print(callable(mushin_nb.compare), mushin_nb.compare.BenchmarkResult is "
            "BenchmarkResult)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["True", "True"]
