"""Study: real tiny trainings on digits through a real Hydra sweep, then compare().

Reference numbers come from scikit-learn (metrics) and scipy (Welch's test), computed on
the checkpoints the study saved, loaded independently of the study.
"""

from __future__ import annotations

import html
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats as sps

from mushin_nb.errors import (
    MushinFileNotFoundError,
    MushinTypeError,
    MushinValueError,
    NotRunError,
    SweepFailedError,
)
from mushin_nb.experiments import digits_tensors
from mushin_nb.progress import read_events
from mushin_nb.study import Study, TrainingFailure, checkpoint_dir, load_checkpoint

QUIET = {"progress": False}


def test_the_seed_document_example_runs_as_written(in_tmp, capsys, train_tiny, builders,
                                                  sklearn_scores):
    from mushin_nb import Study
    from mushin_nb.study import state_dict_loader

    x, y = digits_tensors(train=False, seed=0)
    test_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                              batch_size=150)

    def train_cnn(seed):
        model = train_tiny("cnn", seed)
        torch.save(model, f"checkpoints/cnn_{seed}.pt")
        return f"checkpoints/cnn_{seed}.pt"

    def train_mlp(seed):
        model = train_tiny("mlp", seed)
        torch.save(model.state_dict(), f"checkpoints/mlp_{seed}.pt")
        return f"checkpoints/mlp_{seed}.pt"

    def load_model(path):
        if Path(path).name.startswith("cnn"):
            return load_checkpoint(path)
        return state_dict_loader(builders["mlp"])(path)

    # -- the seed document's lines, as written --
    study = Study(methods={"cnn": train_cnn, "mlp": train_mlp}, load_fn=load_model,
                  seeds=[0, 1, 2], data=test_loader, num_classes=10, test="welch",
                  working_dir="experiments/cnn_vs_mlp")
    result = study.run()
    print(result.summary()); result.plot()  # noqa: E702
    # -- end --

    working_dir = (in_tmp / "experiments" / "cnn_vs_mlp").resolve()
    assert study.working_dir == working_dir
    assert study.checkpoints == {
        m: [str(working_dir / "checkpoints" / f"{m}_{s}.pt") for s in (0, 1, 2)]
        for m in ("cnn", "mlp")}
    assert result.data["accuracy"].dims == ("method", "seed")
    assert result.data["method"].values.tolist() == ["cnn", "mlp"]
    assert result.data["seed"].values.tolist() == [0, 1, 2]
    expected = {m: [sklearn_scores(p, load_model) for p in paths]
                for m, paths in study.checkpoints.items()}
    for method, rows in expected.items():
        for seed, row in enumerate(rows):
            for metric, value in row.items():
                assert result.data[metric].sel({"method": method, "seed": seed}) == pytest.approx(
                    value)
    accuracy = {m: [row["accuracy"] for row in rows] for m, rows in expected.items()}
    comparison = result.comparisons.query("metric == 'accuracy'").iloc[0]
    assert (comparison.method_a, comparison.method_b, comparison.test) == ("cnn", "mlp", "welch")
    assert comparison.p_value == pytest.approx(
        sps.ttest_ind(accuracy["cnn"], accuracy["mlp"], equal_var=False).pvalue, rel=1e-9)
    assert "accuracy" in capsys.readouterr().out
    assert study.failures == [] and study.missing == []


def test_a_rerun_trains_only_the_pairs_without_a_checkpoint(tmp_path, counter, test_batches,
                                                            saver):
    methods = {"cnn": saver("cnn", counter), "mlp": saver("mlp", counter)}
    kwargs = dict(data=test_batches, num_classes=10, metrics=["accuracy"],
                  working_dir=tmp_path / "wd", **QUIET)

    first = Study(methods, seeds=[0, 1], **kwargs).run()
    assert sorted(counter.lines()) == ["cnn 0", "cnn 1", "mlp 0", "mlp 1"]

    again = Study(methods, seeds=[0, 1], **kwargs).run()
    assert len(counter.lines()) == 4  # resumed: nothing trained
    np.testing.assert_array_equal(again.data["accuracy"], first.data["accuracy"])

    grown = Study(methods, seeds=[0, 1, 2], **kwargs)
    result = grown.run()
    assert sorted(counter.lines()[4:]) == ["cnn 2", "mlp 2"]  # only the new seed
    assert result.data["seed"].values.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(result.data["accuracy"].sel(seed=[0, 1]),
                                  first.data["accuracy"])

    Path(grown.checkpoints["mlp"][0]).unlink()  # a lost checkpoint is trained again
    Study(methods, seeds=[0, 1, 2], **kwargs).run()
    assert counter.lines()[6:] == ["mlp 0"]


def test_a_failing_train_fn_is_recorded_and_the_others_are_compared(tmp_path, test_batches,
                                                                    saver, sklearn_scores):
    def flaky(seed):
        if seed == 1:
            raise RuntimeError("diverged at step 3")
        return saver("mlp")(seed)

    study = Study({"cnn": saver("cnn"), "mlp": flaky}, seeds=[0, 1, 2], data=test_batches,
                  num_classes=10, metrics=["accuracy"], working_dir=tmp_path, **QUIET)
    with pytest.warns(UserWarning, match=r"\(mlp, seed 1\): RuntimeError: diverged at step 3"):
        result = study.run()

    assert study.missing == [("mlp", 1)]
    [failure] = study.failures
    assert isinstance(failure, TrainingFailure)
    assert (failure.method, failure.seed) == ("mlp", 1)
    assert failure.error == "RuntimeError: diverged at step 3"
    assert "diverged at step 3" in Path(failure.traceback_path).read_text()
    accuracy = result.data["accuracy"]
    assert np.isnan(accuracy.sel({"method": "mlp", "seed": 1}))
    assert np.isfinite(accuracy.sel({"method": "cnn"})).all()
    present = {m: [sklearn_scores(p)["accuracy"] for p in study.checkpoints[m]]
               for m in ("cnn", "mlp")}
    assert len(present["mlp"]) == 2
    row = result.comparisons.query("metric == 'accuracy'").iloc[0]
    assert (row.n_a, row.n_b) == (3, 2)
    assert row.p_value == pytest.approx(
        sps.ttest_ind(present["cnn"], present["mlp"], equal_var=False).pvalue, rel=1e-9)
    line = "mlp/seed=1 (RuntimeError: diverged at step 3)"
    assert line in repr(result)
    assert html.escape(line) in result._repr_html_()
    assert "missing (mlp, seed 1)" in repr(study)
    assert result.data.attrs["missing"] == "mlp/seed=1"


def test_a_method_left_with_one_checkpoint_is_left_out(tmp_path, test_batches, saver):
    def once(seed):
        if seed > 0:
            raise RuntimeError("out of memory")
        return saver("mlp")(seed)

    study = Study({"a": saver("mlp"), "b": once, "c": saver("cnn")}, seeds=[0, 1],
                  data=test_batches, num_classes=10, metrics=["accuracy"], working_dir=tmp_path,
                  **QUIET)
    with pytest.warns(UserWarning, match=r"left out entirely: \['b'\]"):
        result = study.run()
    assert result.methods == ["a", "c"]
    assert study.checkpoints["b"] == [str(tmp_path / "checkpoints" / "mlp_0.pt")]


@pytest.mark.parametrize(("returned", "match"), [
    (None, r"returned None for seed 0\. Fix: return the path"),
    (3, r"returned 3 \(type: int\) for seed 0, not a path"),
    (b"model.pt", r"returned b'model.pt' \(type: bytes\) for seed 0, not a path"),
    ("nowhere/model.pt", r"returned 'nowhere/model.pt' for seed 0, but '.*nowhere/model.pt' "
                         r"does not exist"),
])
def test_a_train_fn_must_return_an_existing_path(tmp_path, returned, match):
    study = Study({"bad": lambda seed: returned}, seeds=[0, 1], data=[(1, 2)], num_classes=10,
                  working_dir=tmp_path, **QUIET)
    with pytest.raises(SweepFailedError, match=r"\(bad, seed 0\): MushinValueError: train_fn of "
                                               r"method 'bad' " + match):
        study.run()
    assert [(f.method, f.seed) for f in study.failures] == [("bad", 0), ("bad", 1)]
    with pytest.raises(NotRunError, match="stopped before the comparison"):
        _ = study.result


def test_relative_checkpoint_paths_resolve_against_the_job_dir(tmp_path, test_batches,
                                                               train_tiny):
    cwd = os.getcwd()
    seen = []

    def in_job_dir(seed):
        torch.save(train_tiny("mlp", seed, 1), "model.pt")
        return "model.pt"

    def in_checkpoints(seed):
        seen.append(checkpoint_dir())
        path = Path("checkpoints") / f"cnn_{seed}.pt"
        torch.save(train_tiny("cnn", seed, 1), path)
        return path

    study = Study({"mlp": in_job_dir, "cnn": in_checkpoints}, seeds=[0, 1],
                  data=test_batches, num_classes=10, metrics=["accuracy"],
                  working_dir=tmp_path / "wd", **QUIET)
    study.run()
    assert os.getcwd() == cwd
    wd = (tmp_path / "wd").resolve()
    assert seen == [wd / "checkpoints"] * 2
    mlp = [Path(p) for p in study.checkpoints["mlp"]]
    assert len(set(mlp)) == 2
    for path in mlp:
        assert path.is_absolute() and path.is_file() and path.name == "model.pt"
        assert path.parent.parent == wd / "sweep"
    assert study.checkpoints["cnn"] == [str(wd / "checkpoints" / f"cnn_{s}.pt") for s in (0, 1)]


def test_a_study_run_from_a_background_thread_leaves_the_callers_dir_alone(
        in_tmp, test_batches, train_tiny):
    cwds = []

    def train(seed):
        cwds.append(os.getcwd())
        path = checkpoint_dir() / f"mlp_{seed}.pt"
        torch.save(train_tiny("mlp", seed, 1), path)
        return path

    study = Study({"mlp": train, "mlp2": train}, seeds=[0, 1], data=test_batches,
                  num_classes=10, metrics=["accuracy"], working_dir=in_tmp / "wd", **QUIET)
    errors = []
    worker = threading.Thread(target=lambda: errors.extend(_raised(study.run)))
    worker.start()
    worker.join()
    assert errors == []
    assert set(cwds) == {str(in_tmp)}  # never moved: the notebook's cwd is the process's
    assert sorted(p.name for p in in_tmp.iterdir()) == ["wd"]  # no stray checkpoints link
    job_dirs = [p.parent.parent for p in (in_tmp / "wd" / "sweep").rglob(".mushin/record.json")]
    assert len(job_dirs) == 4
    for job_dir in job_dirs:  # the link is made in each job's own dir
        assert (job_dir / "checkpoints").resolve() == (in_tmp / "wd" / "checkpoints")
    assert len(study.checkpoints["mlp"]) == 2


def _raised(fn):
    try:
        fn()
    except Exception as exc:  # handed back to the test's thread
        return [exc]
    return []


def test_method_names_become_safe_sweep_values(tmp_path, test_batches, saver):
    name = "../net v2, 'quoted' = x"
    study = Study({name: saver("mlp"), "mlp": saver("cnn")}, seeds=[0, 1], data=test_batches,
                  num_classes=10, metrics=["accuracy"], working_dir=tmp_path / "wd", **QUIET)
    result = study.run()
    assert result.methods == [name, "mlp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wd"]
    assert sorted(study.checkpoints) == sorted([name, "mlp"])


def test_results_are_asked_for_before_run(tmp_path, saver):
    study = Study({"a": saver("mlp")}, data=[(1, 2)], num_classes=10, working_dir=tmp_path)
    for attribute in ("checkpoints", "failures", "missing", "result"):
        with pytest.raises(NotRunError, match=rf"`study.{attribute}` is set by study.run\(\)"):
            getattr(study, attribute)
    assert repr(study).endswith("not run)")


def test_an_unknown_launcher_stops_before_any_training(tmp_path, counter, saver):
    study = Study({"a": saver("mlp", counter)}, data=[(1, 2)], num_classes=10,
                  working_dir=tmp_path, launcher="nope", **QUIET)
    with pytest.raises(MushinValueError, match=r"`launcher` must be one of"):
        study.run()
    assert counter.lines() == []


def test_from_checkpoints_evaluates_only(tmp_path, train_tiny, sklearn_scores, test_batches):
    paths = {}
    for arch, seeds in (("cnn", [0, 1, 2]), ("mlp", [5, 9])):
        for seed in seeds:
            paths[arch, seed] = tmp_path / f"{arch}{seed}.pt"
            torch.save(train_tiny(arch, seed), paths[arch, seed])
    study = Study.from_checkpoints(
        checkpoints={"cnn": [paths["cnn", s] for s in (0, 1, 2)],
                     "mlp": {9: paths["mlp", 9], 5: str(paths["mlp", 5])}},
        data=test_batches, num_classes=10, metrics=["accuracy"], working_dir=tmp_path / "wd",
        progress=False)
    result = study.run()
    assert not (tmp_path / "wd").exists()  # nothing trained, nothing written
    assert study.checkpoints == {"cnn": [str(paths["cnn", s]) for s in (0, 1, 2)],
                                 "mlp": [str(paths["mlp", s]) for s in (5, 9)]}
    assert study.missing == [] and study.failures == []
    assert result.data["seed"].values.tolist() == [0, 1, 2, 5, 9]
    for (arch, seed), path in paths.items():
        value = result.data["accuracy"].sel({"method": arch, "seed": seed})
        assert value == pytest.approx(sklearn_scores(path)["accuracy"])
    assert np.isnan(result.data["accuracy"].sel({"method": "mlp", "seed": 0}))


def test_from_checkpoints_errors(tmp_path):
    real = tmp_path / "a.pt"
    torch.save(torch.nn.Linear(1, 1), real)
    kwargs = dict(data=[(1, 2)], num_classes=10)
    with pytest.raises(MushinFileNotFoundError, match=r"`checkpoints\['a'\]\[1\]` must be an "
                                                      r"existing checkpoint file, got '.*b.pt'"):
        Study.from_checkpoints({"a": [real, tmp_path / "b.pt"]}, **kwargs)
    with pytest.raises(MushinValueError, match=r"`checkpoints\['a'\]` must be at least 2 "
                                               r"checkpoint paths"):
        Study.from_checkpoints({"a": [real]}, **kwargs)
    with pytest.raises(MushinTypeError, match=r"`checkpoints\['a'\]` must be a list of "
                                              r"checkpoint paths or a dict seed -> path"):
        Study.from_checkpoints({"a": str(real)}, **kwargs)
    with pytest.raises(MushinTypeError, match=r"`checkpoints` must be a non-empty dict"):
        Study.from_checkpoints([real, real], **kwargs)
    with pytest.raises(MushinTypeError, match=r"`seeds` must be a list of ints.*'x' is not an"):
        Study.from_checkpoints({"a": {"x": real, 1: real}}, **kwargs)


def test_a_process_launcher_trains_in_other_processes(tmp_path, test_batches):
    from functools import partial

    from mushin_nb._demo import train_digits

    study = Study({"cnn": partial(train_digits, "cnn", epochs=1),
                   "mlp": partial(train_digits, "mlp", epochs=1)}, seeds=[0, 1],
                  data=test_batches, num_classes=10, metrics=["accuracy"],
                  working_dir=tmp_path, launcher="joblib", **QUIET)
    result = study.run()
    assert study.checkpoints == {m: [str(tmp_path / "checkpoints" / f"{m}_seed{s}.pt")
                                     for s in (0, 1)] for m in ("cnn", "mlp")}
    assert np.isfinite(result.data["accuracy"]).all()
    # report() wrote to the job's event file: it ran outside this process's sweep
    event_files = sorted((tmp_path / "sweep").glob("*/.mushin/events.jsonl"))
    assert len(event_files) == 4
    for path in event_files:
        events, _ = read_events(path)
        assert [e["metrics"].keys() for e in events if e["event"] == "report"] == [{"loss"}]
