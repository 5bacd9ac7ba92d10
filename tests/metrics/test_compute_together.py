"""compute_together: k batteries computed at once equal k compute() calls and scikit-learn."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from mushin_nb.errors import MushinValueError
from mushin_nb.metrics import METRICS, Battery, _backend, battery, evaluate_many, evaluator
from mushin_nb.metrics.battery import compute_together, update_together


def _state(backend):
    """CPU state lives in numpy; without numpy dtypes it stays in torch tensors, the code
    path of every other device."""
    floats = _backend._NUMPY_FLOATS if backend == "numpy" else ()
    return mock.patch.object(_backend, "_NUMPY_FLOATS", floats)


def _fed(probs, targets, batches=3, **kwargs):
    """One battery per model of ``probs`` (k, N, C, ...), fed by update_together."""
    batteries = [Battery(probs.shape[2], **kwargs) for _ in range(probs.shape[0])]
    for part in np.array_split(np.arange(probs.shape[1]), batches):
        update_together(batteries, probs[:, part], targets[part])
    return batteries


def _sklearn_auroc(y, p):
    """scikit-learn's AUROC of one model: class 1's score for two classes, else the mean of
    the one-vs-rest AUCs over the classes that are neither absent nor everywhere."""
    y, p = np.asarray(y), np.asarray(p, dtype=np.float64)
    if p.shape[1] == 2:
        return roc_auc_score(y, p[:, 1]) if 0 < (y == 1).sum() < len(y) else math.nan
    defined = [c for c in range(p.shape[1]) if 0 < (y == c).sum() < len(y)]
    if not defined:
        return math.nan
    return float(np.mean([roc_auc_score(y == c, p[:, c]) for c in defined]))


def _probs(k, n, c, seed, spread=3.0):
    g = torch.Generator().manual_seed(seed)
    return (spread * torch.randn(k, n, c, generator=g)).softmax(2)


def _labels(n, c, seed):
    return torch.randint(0, c, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(("shape", "ignore"), [((90,), None), ((5, 4, 3), 1)])
def test_compute_together_equals_compute_one_at_a_time(backend, shape, ignore):
    k, c = 4, 5
    g = torch.Generator().manual_seed(3)
    probs = torch.randn(k, shape[0], c, *shape[1:], generator=g).softmax(2)
    targets = torch.randint(0, c, shape, generator=g)
    with _state(backend):
        batteries = _fed(probs, targets, metrics=list(METRICS), ignore_index=ignore)
        together = compute_together(batteries)
        alone = [b.compute() for b in batteries]
    assert [list(d) for d in together] == [list(METRICS)] * k
    assert together == [pytest.approx(d, abs=1e-12) for d in alone]
    assert len({d["auroc"] for d in together}) == k  # each model its own rows


@settings(max_examples=80, deadline=None)
@given(k=st.integers(2, 4), n=st.integers(1, 60), c=st.integers(2, 6),
       seed=st.integers(0, 2**32 - 1), decimals=st.sampled_from([None, 1, 2]),
       absent=st.booleans(), dtype=st.sampled_from([torch.float32, torch.float64]),
       backend=st.sampled_from(["numpy", "torch"]))
def test_auroc_of_each_model_equals_scikit_learn(k, n, c, seed, decimals, absent, dtype,
                                                 backend):
    probs, y = _probs(k, n, c, seed).to(dtype), _labels(n, c, seed + 1)
    if decimals is not None:  # heavy ties: 11 or 101 distinct scores
        probs = probs.round(decimals=decimals)
    if absent:
        y = torch.where(y == c - 1, 0, y)  # the last class is never a target
    with _state(backend):
        out = compute_together(_fed(probs, y, batches=2, metrics=["auroc", "accuracy"]))
    for p, values in zip(probs, out):
        assert values["auroc"] == pytest.approx(_sklearn_auroc(y, p), abs=1e-12, nan_ok=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["distinct", "ties"])
def test_auroc_equals_scikit_learn_one_vs_rest_macro(kind, dtype):
    k, n, c = 3, 300, 6
    y = _labels(n, c, 0)
    if kind == "ties":  # integer logits: few distinct rows, so many equal scores
        logits = torch.randint(0, 3, (k, n, c), generator=torch.Generator().manual_seed(1))
        probs = logits.to(dtype).softmax(2)
    else:
        probs = _probs(k, n, c, 1).to(dtype)
    out = compute_together(_fed(probs, y, metrics=["auroc"]))
    for p, values in zip(probs, out):
        assert values["auroc"] == pytest.approx(
            roc_auc_score(y, p, multi_class="ovr", average="macro"), abs=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_binary_auroc_uses_class_one_and_nan_when_one_class(backend):
    probs, y = _probs(3, 40, 2, 5).round(decimals=1), _labels(40, 2, 6)
    with _state(backend):
        out = compute_together(_fed(probs, y, metrics=["auroc"]))
        single = compute_together(_fed(probs, torch.ones_like(y), metrics=["auroc"]))
    assert [d["auroc"] for d in out] == pytest.approx(
        [roc_auc_score(y, p[:, 1]) for p in probs], abs=1e-12)
    assert all(math.isnan(d["auroc"]) for d in single)


def test_scores_that_are_not_probabilities_rank_as_floats():
    # negatives, large values, and -0.0 tied with 0.0 (their bits differ)
    values = torch.tensor([-3.5, -1.0, -0.0, 0.0, 0.25, 7.0, 1e30])
    g = torch.Generator().manual_seed(2)
    probs = values[torch.randint(0, len(values), (3, 80, 4), generator=g)]
    y = _labels(80, 4, 3)
    for dtype in (torch.float32, torch.float64):
        out = compute_together(_fed(probs.to(dtype), y, metrics=["auroc"]))
        assert [d["auroc"] for d in out] == pytest.approx(
            [_sklearn_auroc(y, p) for p in probs], abs=1e-12)


def test_the_auroc_of_k_models_is_one_computation():
    probs, y = _probs(5, 50, 4, 0), _labels(50, 4, 1)
    batteries = _fed(probs, y)
    with mock.patch.object(battery, "_auroc", wraps=battery._auroc) as auroc:
        expected = compute_together(batteries)
    assert auroc.call_count == 1
    separately = [Battery(4) for _ in range(5)]  # same targets, other label arrays
    for b, p in zip(separately, probs):
        b.update(p, y.clone())
    with mock.patch.object(battery, "_auroc", wraps=battery._auroc) as auroc:
        assert compute_together(separately) == expected
    assert auroc.call_count == 1


def test_batteries_that_cannot_share_are_computed_one_at_a_time():
    probs, y = _probs(3, 30, 3, 0), _labels(30, 3, 1)
    mixed = [Battery(3, metrics=["accuracy", "auroc"]), Battery(3, metrics=["auroc"]),
             Battery(3, metrics={"top": lambda p, t: float((p.argmax(1) == t).float().mean()),
                                 "auroc": "auroc"})]
    for b, p in zip(mixed, probs):
        b.update(p, y)
    assert compute_together(mixed) == [b.compute() for b in mixed]
    assert compute_together(mixed[:1]) == [mixed[0].compute()]
    assert compute_together([]) == []
    # same settings, but each saw other targets: each AUROC from its own labels
    other = [Battery(3, metrics=["auroc"]) for _ in range(3)]
    targets = [_labels(30, 3, seed) for seed in (4, 5, 6)]
    for b, p, t in zip(other, probs, targets):
        b.update(p, t)
    assert [d["auroc"] for d in compute_together(other)] == pytest.approx(
        [_sklearn_auroc(t, p) for t, p in zip(targets, probs)], abs=1e-12)


def test_batteries_without_samples_raise_as_compute_does():
    batteries = [Battery(3, ignore_index=0) for _ in range(2)]
    update_together(batteries, torch.full((2, 4, 3), 1 / 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(MushinValueError, match="no samples to score"):
        compute_together(batteries)


def test_evaluate_many_computes_a_stacked_group_together(ring_test_data, model_factory):
    torch.manual_seed(0)
    models = {f"seed{s}": model_factory("mlp") for s in range(3)}
    models["linear"] = model_factory("linear")  # a structure of its own: computed alone
    with mock.patch.object(evaluator, "compute_together",
                           wraps=evaluator.compute_together) as together:
        vectorized = evaluate_many(models, ring_test_data, num_classes=3, vectorize=True)
    assert [len(call.args[0]) for call in together.call_args_list] == [3]
    alone = evaluate_many(models, ring_test_data, num_classes=3)
    assert list(vectorized) == list(models)
    for name in models:
        assert vectorized[name] == pytest.approx(alone[name], abs=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_state_on_the_gpu_computes_together_as_on_the_cpu():
    probs, y = _probs(4, 200, 5, 0).round(decimals=2), _labels(200, 5, 1)
    gpu = _fed(probs.cuda(), y.cuda(), metrics=list(METRICS))
    assert gpu[0]._cm.device.type == "cuda"
    cpu = compute_together(_fed(probs, y, metrics=list(METRICS)))
    together = compute_together(gpu)
    assert together == [pytest.approx(d, abs=1e-12) for d in [b.compute() for b in gpu]]
    assert together == [pytest.approx(d, abs=1e-6) for d in cpu]
