"""The example notebooks of ``notebooks/``: each runs without error, and does what it teaches.

Every notebook is executed by papermill (kernel ``python3``) in a temporary copy of
``notebooks/``, two at a time, with the small parameters of ``TINY`` injected after its
``parameters`` cell.  The checks read what the notebooks wrote (result files, sweep
directories, checkpoints) and recorded (``mushin_nb.record`` outputs); numbers are checked
against scikit-learn and scipy.
"""

import ast
import itertools
import json
import math
import shutil
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import papermill
import pytest
import torch
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from mushin_nb.batch._papermill import read_records
from mushin_nb.compare import BenchmarkResult
from mushin_nb.results import load_results

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

#: Parameters that make each notebook small; keys are the notebooks' names.
TINY = {
    "01_quickstart": {"out": "runs/quickstart", "seeds": 2, "epochs": 1},
    "02_sweeps_and_magics": {"lrs": "0.3,0.03", "seeds": 2, "more_seeds": 3, "steps": 5,
                             "epsilons": [0.0, 0.5], "sweep_dir": "runs/lr_sweep",
                             "curve_dir": "runs/noise_curve"},
    "03_tuning_rounds": {"widths": [16], "lrs": [0.01, 0.1], "weight_decays": [0.0],
                         "rounds": [1, 2], "seeds": [0], "steps_per_epoch": 2,
                         "working_dir": "runs/tune"},
    "04_krum": {"seeds": 2, "steps": 3, "out": "runs/krum"},
    "05_batch": {"lrs": [0.3, 0.03], "seeds": 2, "epochs": 2, "jobs": 2,
                 "working_dir": "runs/batch"},
    "05_batch_train": {"lr": 0.1, "seed": 1, "epochs": 2},
    "06_study_builder": {"seeds": "0-1", "epochs": 1, "working_dir": "runs/builder"},
    "07_many_methods": {"datasets": ["wine", "iris", "breast_cancer"], "seeds": 3, "reps": 200,
                        "out": "runs/many_methods.nc"},
}
#: Longest first, so that two workers finish together.
ORDER = ["05_batch", "01_quickstart", "04_krum", "06_study_builder", "02_sweeps_and_magics",
         "03_tuning_rounds", "07_many_methods", "05_batch_train"]

pytestmark = pytest.mark.timeout(1200)  # the first test also waits for every notebook


def _execute(work: Path, name: str) -> SimpleNamespace:
    """Run one notebook with papermill's command line; keep its output notebook and log."""
    out = work / f"{name}.executed.ipynb"
    command = [sys.executable, "-m", "papermill", str(work / f"{name}.ipynb"), str(out),
               "-k", "python3", "--cwd", str(work), "-y", json.dumps(TINY[name]),
               "--no-progress-bar"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    nb = nbformat.read(out, as_version=4) if out.exists() else None
    return SimpleNamespace(returncode=done.returncode, log=done.stderr[-4000:], nb=nb)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every notebook executed once; ``runs.dir`` is their working directory."""
    work = tmp_path_factory.mktemp("notebooks")
    for path in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(path, work / path.name)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_execute, work, name) for name in ORDER}
        executed = {name: future.result() for name, future in futures.items()}
    return SimpleNamespace(dir=work, **{_key(name): run for name, run in executed.items()})


def _key(name: str) -> str:
    return "nb" + name.split("_", 1)[0] + ("_train" if name.endswith("_train") else "")


def _cell(nb, snippet: str):
    """The code cell whose source contains ``snippet``."""
    cells = [c for c in nb.cells if c.cell_type == "code" and snippet in c.source]
    assert len(cells) == 1, f"{len(cells)} cells contain {snippet!r}"
    return cells[0]


def _text(cell) -> str:
    """Everything a cell printed or returned as plain text."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
    return "\n".join(parts)


def _digits_test_set():
    """The test split of the notebooks' ``digits`` data, rebuilt with scikit-learn alone."""
    images, labels = load_digits(return_X_y=True)
    _, x_test, _, y_test = train_test_split(images / 16.0, labels, test_size=0.25,
                                            random_state=0, stratify=labels)
    return torch.tensor(x_test, dtype=torch.float32).reshape(-1, 1, 8, 8), y_test


def _scores(checkpoint: Path) -> dict[str, float]:
    """Accuracy and macro F1 of a whole-model checkpoint, by scikit-learn."""
    model = torch.load(checkpoint, weights_only=False)  # a file this test's run just made
    x, y = _digits_test_set()
    with torch.no_grad():
        predicted = model(x).argmax(dim=1).numpy()
    return {"accuracy": accuracy_score(y, predicted),
            "f1": f1_score(y, predicted, average="macro")}


def _welch(rows: np.ndarray) -> list[float]:
    """Welch's p-value of every pair of rows, in the order of the comparisons table."""
    with warnings.catch_warnings():  # tiny runs may give seeds identical scores
        warnings.simplefilter("ignore", RuntimeWarning)
        return [stats.ttest_ind(a, b, equal_var=False).pvalue
                for a, b in itertools.combinations(rows, 2)]


# ----------------------------------------------------------------------------- every notebook


def test_every_notebook_has_tiny_parameters():
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == sorted(TINY)
    assert sorted(ORDER) == sorted(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_notebook_is_saved_clean_with_a_parameters_cell(name):
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    tagged = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1
    # papermill reads every default (a comment it cannot parse would hide a parameter)
    defaults = papermill.inspect_notebook(str(path))
    assert set(TINY[name]) <= set(defaults)
    assert len(defaults) == sum(1 for line in tagged[0].source.splitlines()
                                if line and not line.startswith("#"))
    assert any(cell.cell_type == "markdown" for cell in nb.cells[:2])


@pytest.mark.parametrize("name", ORDER)
def test_notebook_runs_without_error(runs, name):
    run = getattr(runs, _key(name))
    assert run.returncode == 0, run.log
    errors = [output for cell in run.nb.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert errors == []
    assert run.nb.metadata.papermill.parameters == TINY[name]


# ----------------------------------------------------------------------------- 01 quickstart


def test_quickstart_writes_its_results(runs):
    out = runs.dir / TINY["01_quickstart"]["out"]
    for name in ("results.nc", "comparisons.csv", "summary.csv", "summary.png", "pvalues.png",
                 "seeds.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not list(out.glob(".*.tmp*"))  # every temporary file was renamed
    result = BenchmarkResult.load(out / "results.nc")
    assert result.methods == ["cnn", "mlp"]
    assert result.data["seed"].values.tolist() == [0, 1]
    assert not np.isnan(result.data["accuracy"].values).any()


def test_quickstart_scores_equal_scikit_learn_on_its_checkpoints(runs):
    out = runs.dir / TINY["01_quickstart"]["out"]
    data = BenchmarkResult.load(out / "results.nc").data
    for method in ("cnn", "mlp"):
        for seed in (0, 1):
            expected = _scores(out / "study" / "checkpoints" / f"{method}_seed{seed}.pt")
            cell = data.sel({"method": method, "seed": seed})
            assert cell["accuracy"].item() == pytest.approx(expected["accuracy"], abs=1e-9)
            assert cell["f1"].item() == pytest.approx(expected["f1"], abs=1e-9)


def test_quickstart_tables_agree_with_scipy(runs):
    import pandas as pd

    out = runs.dir / TINY["01_quickstart"]["out"]
    data = BenchmarkResult.load(out / "results.nc").data["accuracy"].values
    comparisons = pd.read_csv(out / "comparisons.csv").query("metric == 'accuracy'")
    assert comparisons["p_value"].tolist() == pytest.approx(_welch(data), rel=1e-9)
    summary = pd.read_csv(out / "summary.csv").query("metric == 'accuracy'")
    assert summary["mean"].tolist() == pytest.approx(data.mean(axis=1).tolist(), rel=1e-12)
    records = read_records(runs.nb01.nb)
    assert records["methods"] == ["cnn", "mlp"]
    np.testing.assert_allclose(records["mean_accuracy"], data.mean(axis=1))
    assert records["p_holm_accuracy"] == pytest.approx(_welch(data)[0], rel=1e-9)


def test_quickstart_draws_with_both_backends(runs):
    interactive = _cell(runs.nb01.nb, 'result.plot("summary")')
    assert any("application/vnd.holoviews_exec.v0+json" in output.get("data", {})
               for output in interactive.outputs)
    static = _cell(runs.nb01.nb, 'backend="matplotlib"')
    assert any("image/png" in output.get("data", {}) for output in static.outputs)


# ----------------------------------------------------------------------------- 02 sweeps


def test_sweep_is_resumed_with_more_seeds(runs):
    params = TINY["02_sweeps_and_magics"]
    lrs = [float(v) for v in params["lrs"].split(",")]
    ds = load_results(runs.dir / params["sweep_dir"])
    assert ds["accuracy"].dims == ("lr", "seed")
    assert ds["lr"].values.tolist() == lrs
    assert ds["seed"].values.tolist() == list(range(params["more_seeds"]))
    assert not np.isnan(ds["accuracy"].values).any()
    resumed = _text(_cell(runs.nb02.nb, "seed=range(0,$more_seeds)"))
    total, earlier = len(lrs) * params["more_seeds"], len(lrs) * params["seeds"]
    assert f"{total} jobs" in resumed and f"{total} done ({earlier} from earlier runs)" in resumed
    assert _text(_cell(runs.nb02.nb, 'reloaded["accuracy"].equals')).strip() == "True"


def test_sweep_comparison_agrees_with_scipy(runs):
    params = TINY["02_sweeps_and_magics"]
    accuracy = load_results(runs.dir / params["sweep_dir"])["accuracy"]
    records = read_records(runs.nb02.nb)
    np.testing.assert_allclose(records["p_value_accuracy"], _welch(accuracy.values), rtol=1e-9)
    np.testing.assert_allclose(records["mean_accuracy"], accuracy.values.mean(axis=1))
    best = accuracy["lr"].values[np.argmax(accuracy.values.mean(axis=1))]
    assert records["best_lr"] == best
    compare_cell = _cell(runs.nb02.nb, "%mushin compare")
    assert any("text/html" in output.get("data", {}) for output in compare_cell.outputs)


def test_robustness_curve_starts_from_the_clean_accuracy(runs):
    params = TINY["02_sweeps_and_magics"]
    curve = load_results(runs.dir / params["curve_dir"])["accuracy"]
    assert curve.dims == ("seed", "epsilon")
    assert curve["epsilon"].values.tolist() == sorted(params["epsilons"])
    sweep = load_results(runs.dir / params["sweep_dir"])["accuracy"]
    best = read_records(runs.nb02.nb)["best_lr"]
    seeds = list(range(params["seeds"]))
    # epsilon 0 adds no noise: the same models, the same accuracy as in the sweep
    np.testing.assert_array_equal(curve.sel(epsilon=0.0).values,
                                  sweep.sel(lr=best, seed=seeds).values)
    assert any("image/png" in output.get("data", {})
               for output in _cell(runs.nb02.nb, 'curve.plot("accuracy")').outputs)


# ----------------------------------------------------------------------------- 03 tuning


def test_tuning_spends_epochs_by_rounds(runs):
    params = TINY["03_tuning_rounds"]
    records = read_records(runs.nb03.nb)
    n = len(params["widths"]) * len(params["lrs"]) * len(params["weight_decays"])
    assert records["candidates"] == n
    expected, alive = [], n
    rounds = params["rounds"]
    for k, budget in enumerate(rounds):
        advancing = math.ceil(alive / 4) if k + 1 < len(rounds) else 0
        expected += [budget] * (alive - advancing)
        alive = advancing
    assert sorted(records["epochs_trained"]) == sorted(expected)
    full = n * len(params["seeds"]) * rounds[-1]
    assert records["epochs_fraction"] == pytest.approx(sum(expected) * len(params["seeds"])
                                                       / full)
    values = list(records["metric_values"])
    assert values == sorted(values, reverse=True)  # best first
    assert _text(_cell(runs.nb03.nb, "again = tune(")).strip() == "True"
    assert (runs.dir / params["working_dir"]).is_dir()


# ----------------------------------------------------------------------------- 04 krum


def test_krum_study_compares_the_three_rules(runs):
    out = runs.dir / TINY["04_krum"]["out"]
    result = BenchmarkResult.load(out / "results.nc")
    assert result.methods == ["average", "median", "krum"]
    assert result.data["seed"].values.tolist() == list(range(TINY["04_krum"]["seeds"]))
    for rule in result.methods:
        for seed in result.data["seed"].values.tolist():
            expected = _scores(out / "study" / "checkpoints" / f"{rule}_seed{seed}.pt")
            assert result.data["accuracy"].sel({"method": rule, "seed": seed}).item() == \
                pytest.approx(expected["accuracy"], abs=1e-9)
    accuracy = result.comparisons.query("metric == 'accuracy'")
    np.testing.assert_allclose(accuracy["p_value"], _welch(result.data["accuracy"].values),
                               rtol=1e-9, equal_nan=True)
    assert read_records(runs.nb04.nb)["rules"] == ["average", "median", "krum"]


def test_krum_toy_example_shows_robust_rules_near_the_honest_gradients(runs):
    toy = ast.literal_eval(_text(_cell(runs.nb04.nb, "toy = honest")))
    assert toy["average"][0] < 0  # dragged across zero by the attackers
    assert all(abs(v - 1.0) < 0.5 for rule in ("median", "krum") for v in toy[rule])


# ----------------------------------------------------------------------------- 05 batch


def test_batch_gathers_every_executed_notebook(runs):
    params = TINY["05_batch"]
    folder = runs.dir / params["working_dir"]
    ds = load_results(folder / "batch.nc")
    assert ds["accuracy"].dims == ("lr", "seed")
    assert ds["loss"].dims == ("lr", "seed", "epoch")
    assert dict(ds.sizes) == {"lr": len(params["lrs"]), "seed": params["seeds"],
                              "epoch": params["epochs"]}
    assert ds.attrs["epochs"] == params["epochs"]
    executed = sorted(folder.glob("*/05_batch_train.ipynb"))
    assert len(executed) == len(params["lrs"]) * params["seeds"]
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        injected = nb.metadata.papermill.parameters
        records = read_records(nb)
        cell = ds.sel(lr=injected["lr"], seed=injected["seed"])
        assert cell["accuracy"].item() == records["accuracy"]
        np.testing.assert_array_equal(cell["loss"].values, records["loss"])
    assert read_records(runs.nb05.nb)["lr"].tolist() == params["lrs"]


def test_batch_training_notebook_runs_alone(runs):
    records = read_records(runs.nb05_train.nb)
    assert 0.0 <= records["accuracy"] <= 1.0
    assert len(records["loss"]) == TINY["05_batch_train"]["epochs"]


# ----------------------------------------------------------------------------- 06 builder


def _widget_states(nb) -> list[dict]:
    bundle = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return [model["state"] for model in bundle.get("state", {}).values()]


def test_builder_form_is_shown_with_its_results(runs):
    nb = runs.nb06.nb
    form = _cell(nb, "builder = StudyBuilder()")
    assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {})
               for output in form.outputs)
    states = _widget_states(nb)
    classes = {c for state in states for c in state.get("_dom_classes", [])}
    assert {"mushin-builder-run", "mushin-builder-methods"} <= classes
    titles = [state.get("titles") for state in states if state.get("_model_name") == "TabModel"]
    assert ["Summary", "Comparisons", "Plots", "Show code"] in [list(t or []) for t in titles]
    assert _text(_cell(nb, "builder.errors")).strip() == "{}"
    assert _text(_cell(nb, "exec(builder.code()")).strip().endswith("True")
    reopened = _cell(nb, "StudyBuilder.from_study(")
    assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {})
               for output in reopened.outputs)


def test_builder_study_trains_every_method_and_agrees_with_scipy(runs):
    params = TINY["06_study_builder"]
    records = read_records(runs.nb06.nb)
    assert records["methods"] == ["SmallCNN", "wide_mlp", "sgd_mlp"]
    accuracy = np.asarray(records["accuracy"])
    assert accuracy.shape == (3, 2) and not np.isnan(accuracy).any()
    np.testing.assert_allclose(records["p_value_accuracy"], _welch(accuracy), rtol=1e-9)
    checkpoints = runs.dir / params["working_dir"] / "checkpoints"
    for seed in (0, 1):
        assert (checkpoints / "module-SmallCNN" / f"seed{seed}.pt").is_file()
        assert (checkpoints / "module-wide_mlp" / f"seed{seed}.pt").is_file()
        expected = _scores(checkpoints / f"sgd_mlp_seed{seed}.pt")
        assert accuracy[2, seed] == pytest.approx(expected["accuracy"], abs=1e-9)


# ----------------------------------------------------------------------------- 07 many methods


def test_many_methods_scores_equal_scikit_learn_and_its_tables_scipy(runs):
    import xarray as xr
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    params = TINY["07_many_methods"]
    acc = xr.load_dataarray(runs.dir / params["out"])
    assert acc.dims == ("method", "task", "seed") and list(acc["task"]) == params["datasets"]
    x, y = load_wine(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=1, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_tr, y_tr)
    expected = float((model.predict(x_te) == y_te).mean())
    assert float(acc.sel({"method": "logreg", "task": "wine", "seed": 1})) == expected
    blocks = acc.mean("seed").values.T  # (task, method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        friedman = stats.friedmanchisquare(*(-blocks).T)
    ranking = _text(_cell(runs.nb07.nb, "stats.rank_methods(acc"))
    assert f"chi2={friedman.statistic:.4g}, p={friedman.pvalue:.4g}" in ranking
    iqm = _text(_cell(runs.nb07.nb, "tables = {s: stats.aggregate"))
    for m in acc["method"].values:
        value = stats.trim_mean(acc.sel({"method": m}).values, 0.25, axis=None)
        assert f"{m}" in iqm and f"{value:.4f}" in iqm
    verdicts = _text(_cell(runs.nb07.nb, '"p_equivalence", "verdict"'))
    assert any(v in verdicts for v in ("equivalent", "inconclusive", "better", "worse"))
    assert "seeds_needed" in _text(_cell(runs.nb07.nb, "plan = result.plan"))

