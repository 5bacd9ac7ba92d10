"""The main job: a quick real run of the demo writes every file; a re-run trains only what
is missing."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score

from mushin_nb import _demo
from mushin_nb.compare import BenchmarkResult
from mushin_nb.errors import MushinTypeError, MushinValueError
from mushin_nb.experiments import digits_tensors
from mushin_nb.stats import COMPARISON_COLUMNS, SUMMARY_COLUMNS
from mushin_nb.study import load_checkpoint

FILES = ["comparisons.csv", "pvalues.png", "report.html", "results.nc", "seeds.png",
         "study-quick", "summary.csv", "summary.png"]


def test_the_demo_writes_its_files_and_resumes(tmp_path, monkeypatch, capsys):
    calls, broken = [], {("mlp", 2)}
    train = _demo.train_digits

    def counted(arch, seed, **kwargs):
        calls.append((arch, seed))
        if (arch, seed) in broken:
            raise RuntimeError("out of memory")
        return train(arch, seed, **kwargs)

    monkeypatch.setattr(_demo, "train_digits", counted)
    out = tmp_path / "demo"
    assert _demo.main(out=out, seeds=3, quick=True) == 1  # one training failed
    assert sorted(calls) == [("cnn", 0), ("cnn", 1), ("cnn", 2), ("mlp", 0), ("mlp", 1),
                             ("mlp", 2)]
    assert "missing (training failed): mlp/seed=2" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == FILES

    broken.clear()
    calls.clear()
    assert _demo.main(out=out, seeds=3, quick=True) == 0
    assert calls == [("mlp", 2)]  # re-running resumes: only the failed pair trains again

    result = BenchmarkResult.load(out / "results.nc")
    assert result.methods == ["cnn", "mlp"]
    assert result.data["seed"].values.tolist() == [0, 1, 2]
    assert result.test == "welch"
    x, y = digits_tensors(train=False, seed=0)
    for arch in ("cnn", "mlp"):
        for seed in (0, 1, 2):
            with torch.no_grad():
                path = out / "study-quick" / "checkpoints" / f"{arch}_seed{seed}.pt"
                model = load_checkpoint(path)
                predicted = model(x).argmax(dim=1)
            assert result.data["accuracy"].sel({"method": arch, "seed": seed}) == pytest.approx(
                accuracy_score(y, predicted))

    comparisons = pd.read_csv(out / "comparisons.csv")
    assert list(comparisons.columns) == list(COMPARISON_COLUMNS)
    assert comparisons["metric"].tolist() == list(_demo.QUICK_METRICS) == result.metrics
    pd.testing.assert_series_equal(comparisons["p_holm"], result.comparisons["p_holm"],
                                   check_dtype=False)
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    pd.testing.assert_series_equal(summary["mean"], result.summary()["mean"])
    for name in ("summary.png", "pvalues.png", "seeds.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert "Bokeh" in page and "cdn.bokeh.org" not in page  # interactive, works offline
    printed = capsys.readouterr().out
    assert "accuracy" in printed and f"written to {out.resolve()}" in printed
    assert "* = differs from 'cnn' after Holm correction (welch test" in printed


def test_byzantine_workers_break_averaging_but_not_krum_or_median(tmp_path):
    x, y = digits_tensors(train=False, seed=0)
    accuracy = {}
    for rule in ("average", "median", "krum"):
        model = load_checkpoint(_demo.train_byzantine(rule, seed=0, steps=30, folder=tmp_path))
        with torch.no_grad():
            accuracy[rule] = accuracy_score(y, model(x).argmax(dim=1))
    assert accuracy["average"] < 0.2  # the reversed gradients win: chance level
    assert accuracy["median"] > 0.6 and accuracy["krum"] > 0.6


def test_krum_demo_defaults_to_its_own_folder(monkeypatch, in_tmp):
    seen = {}

    def fake_study(krum, seeds, quick, working_dir):
        seen.update(krum=krum, seeds=seeds, working_dir=working_dir)
        raise RuntimeError("stop here")

    monkeypatch.setattr(_demo, "_study", fake_study)
    with pytest.raises(RuntimeError, match="stop here"):
        _demo.main(krum=True, quick=True)
    assert seen == {"krum": True, "seeds": 3,
                    "working_dir": _demo.Path("runs/demo-krum/study-quick")}


@pytest.mark.parametrize(("seeds", "error", "match"), [
    (1, MushinValueError, r"`seeds` must be at least 2 \(a test needs two seeds per method\)"),
    ("5", MushinTypeError, r"`seeds` must be an int, got '5'"),
    (True, MushinTypeError, r"`seeds` must be an int, got True"),
])
def test_demo_seeds_are_checked(tmp_path, seeds, error, match):
    with pytest.raises(error, match=match):
        _demo.main(out=tmp_path, seeds=seeds)
    assert list(tmp_path.iterdir()) == []
