"""TuneResults: best-first sequence, per-candidate facts, tables and arrays, default dirs."""

from __future__ import annotations

import math
import re
from datetime import timedelta

import numpy as np
import pytest

from mushin_nb.tune import Candidate, Params, TuneResults, tune
from tests.tune.conftest import Scripted, score


@pytest.fixture
def seeded(wd):
    params = [{"q": q, "tag": t, "layers": [q, q]} for q, t in ((1.0, "<b>a</b>"), (2.0, "b"),
                                                                (3.0, "c"))]
    return tune(Scripted(curve="seeded", fail={"q": 1.0, "epoch": 1}), params,
                rounds=[2, 3], reduction=2, seeds=[0, 1, 2], working_dir=wd, progress=False)


def test_sequence_protocol_and_best(seeded):
    assert isinstance(seeded, TuneResults) and len(seeded) == 3
    assert [c.params.q for c in seeded] == [3.0, 2.0, 1.0]
    assert seeded.best is seeded[0] and seeded[-1].failed
    assert [c.params.q for c in seeded[:2]] == [3.0, 2.0]
    assert seeded.metric_value == seeded.best.metric_value == pytest.approx(3.0)
    assert [c.params.q for c in seeded.errors] == [1.0]
    assert seeded.metric == "score" and seeded.seeds == (0, 1, 2)


def test_candidate_facts(seeded):
    best = seeded.best
    assert isinstance(best, Candidate)
    assert (best.index, best.round, best.epochs, best.best_epoch) == (2, 1, 3, 0)
    assert best.metric_values == [{"score": pytest.approx(3.0), "epoch_seen": float(e)}
                                  for e in range(3)]
    assert best.best_epoch_metrics["score"] == pytest.approx(
        np.mean([score("seeded", 3.0, 0, s) for s in (0, 1, 2)]))
    assert best.last_epoch_metrics["epoch_seen"] == 2.0
    per_epoch = [sum(r.epochs[e].duration.total_seconds() for r in best.runs) for e in range(3)]
    assert [d.total_seconds() for d in best.durations] == pytest.approx(per_epoch)
    assert best.duration == sum(best.durations, timedelta())
    assert set(best.checkpoints) == {0, 1, 2} and best.checkpoint == best.checkpoints[0]
    assert all(p.is_file() and p.name == "epoch-0000" for p in best.checkpoints.values())
    assert best.checkpoint.parent.parent.name == "c0002-seed0"
    assert re.fullmatch(r"<Candidate #2 round 1, 3 epochs; score=3; Params\(q=3.0, .*\)>",
                        repr(best))
    failed = seeded[-1]
    assert failed.error == "RuntimeError: boom at q=1.0 epoch=1"
    assert failed.runs[0].traceback and failed.runs[1].epochs == ()
    assert "failed: RuntimeError" in repr(failed)


def test_to_df_flat_columns_best_first(seeded):
    df = seeded.to_df()
    assert list(df["candidate"]) == [2, 1, 0]
    assert list(df.columns[:5]) == ["candidate", "params.q", "params.tag", "params.layers",
                                    "metric_value"]
    assert df["params.layers"].iloc[0] == [3.0, 3.0]
    assert df["round"].tolist() == [1, 1, 0] and df["epochs"].tolist() == [3, 3, 0]
    assert df["error"].isna().tolist() == [True, True, False]
    assert df["error"].iloc[2].startswith("RuntimeError: boom")
    assert math.isnan(df["metric_value"].iloc[2])
    assert df["duration"].iloc[0] == seeded.best.duration
    assert df["checkpoint"].iloc[0] == str(seeded.best.checkpoint)


def test_to_xarray_with_seeds(seeded):
    ds = seeded.to_xarray()
    assert ds["score"].dims == ("candidate", "epoch", "seed")
    assert ds.sizes == {"candidate": 3, "epoch": 3, "seed": 3}
    assert ds["candidate"].values.tolist() == [2, 1, 0]
    assert ds["seed"].values.tolist() == [0, 1, 2]
    for c in seeded:
        for run in c.runs:
            got = ds["score"].sel(candidate=c.index, seed=run.seed).values
            want = [e.metric_values["score"] for e in run.epochs]
            np.testing.assert_array_equal(got[:len(want)], want)
            assert np.isnan(got[len(want):]).all()
    np.testing.assert_allclose(ds["score"].mean("seed").max("epoch").values[:2],
                               [c.metric_value for c in seeded[:2]])
    assert ds["failed"].values.tolist() == [False, False, True]
    assert ds["tag"].values.tolist() == ["c", "b", "<b>a</b>"]
    assert ds["layers"].values[0] == [3.0, 3.0]
    assert ds["duration"].dims == ("candidate", "epoch", "seed")


def test_param_named_like_a_metric_is_prefixed(wd):
    class Named(Scripted):
        def create_model(self, params):
            super().create_model(Params({"q": params.score}))

    results = tune(Named(), [{"score": 0.2}, {"score": 0.4}], rounds=[1], working_dir=wd,
                   progress=False)
    assert not results.errors
    ds = results.to_xarray()
    assert ds["param_score"].values.tolist() == [0.4, 0.2]
    assert ds["score"].dims == ("candidate", "epoch")


def test_repr_and_html_escape(seeded):
    text = repr(seeded)
    assert text.startswith("<TuneResults: 3 candidates, 1 failed; best score=3 with Params(q=3.0")
    html = seeded._repr_html_()
    assert "&lt;b&gt;a&lt;/b&gt;" in html and "<b>a</b>" not in html
    assert "&lt;TuneResults: 3 candidates" in html


def test_default_working_dirs_are_unique(in_tmp):
    first = tune(Scripted(), [{"q": 0.5}], rounds=[1], progress=False)
    second = tune(Scripted(), [{"q": 0.5}], rounds=[1], progress=False)
    assert first.working_dir != second.working_dir
    for results in (first, second):
        assert results.working_dir.parent == in_tmp / "tune"
        assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", results.working_dir.name)
        assert (results.working_dir / "tune.json").is_file()
