"""The metric battery equals scikit-learn (and torchmetrics for ECE) on adversarial inputs."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from torchmetrics.functional.classification import multiclass_calibration_error

from mushin_nb.errors import MushinKeyError, MushinTypeError, MushinValueError
from mushin_nb.metrics import METRICS, Battery, _backend, register_task, task_metrics

KINDS = ("random", "ties", "missing_class", "perfect", "constant", "confident")


def _case(kind: str, n: int, c: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Probabilities (float32, rows sum to 1) and labels of one adversarial kind."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    if kind == "missing_class":
        y = np.where(y == c - 1, 0, y)  # class c-1 never a target (it may still be predicted)
    if kind == "ties":
        logits = rng.integers(0, 3, (n, c)).astype(np.float32)  # many equal rows and scores
    elif kind == "perfect":
        logits = 6.0 * np.eye(c, dtype=np.float32)[y]
    elif kind == "constant":
        logits = np.tile(rng.normal(size=c).astype(np.float32), (n, 1))
    elif kind == "confident":
        logits = 40.0 * rng.normal(size=(n, c)).astype(np.float32)  # confidences of exactly 1
    else:
        logits = rng.normal(size=(n, c)).astype(np.float32) + 2.0 * np.eye(c, dtype=np.float32)[y]
    return torch.from_numpy(logits).softmax(dim=1), torch.from_numpy(y)


def _reference(probs: torch.Tensor, y: torch.Tensor, c: int) -> dict[str, float]:
    p, t = probs.numpy(), y.numpy()
    pred = p.argmax(axis=1)
    ref = {
        "accuracy": skm.accuracy_score(t, pred),
        "f1": skm.f1_score(t, pred, average="macro", zero_division=0),
        "precision": skm.precision_score(t, pred, average="macro", zero_division=0),
        "recall": skm.recall_score(t, pred, average="macro", zero_division=0),
        "miou": skm.jaccard_score(t, pred, average="macro", zero_division=0),
        "ece": float(multiclass_calibration_error(probs, y, num_classes=c, n_bins=15,
                                                  norm="l1")),
    }
    if c == 2:
        ref["auroc"] = skm.roc_auc_score(t, p[:, 1]) if len(set(t)) == 2 else float("nan")
    else:
        defined = [k for k in range(c) if 0 < (t == k).sum() < len(t)]
        ref["auroc"] = float(np.mean([skm.roc_auc_score(t == k, p[:, k]) for k in defined])) \
            if defined else float("nan")
        if len(defined) == c:  # every class present: sklearn's own multiclass OvR call
            ovr = skm.roc_auc_score(t, p, multi_class="ovr")
            assert ref["auroc"] == pytest.approx(ovr, abs=1e-6)
    ref["dice"], ref["pixel_acc"] = ref["f1"], ref["accuracy"]
    return ref


def _assert_close(ours: dict[str, float], ref: dict[str, float]) -> None:
    for name, value in ours.items():
        if np.isnan(ref[name]):
            assert np.isnan(value), name
        else:
            assert value == pytest.approx(ref[name], abs=1e-6), name


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(KINDS), n=st.integers(1, 80), c=st.integers(2, 6),
       seed=st.integers(0, 2**32 - 1), batches=st.integers(1, 4),
       backend=st.sampled_from(["numpy", "torch"]))
def test_classification_battery_equals_sklearn_and_torchmetrics(kind, n, c, seed, batches,
                                                                backend):
    probs, y = _case(kind, n, c, seed)
    # CPU state lives in numpy; with no numpy dtypes the state stays in torch tensors, the
    # code path every other device (CUDA, MPS) takes
    floats = _backend._NUMPY_FLOATS if backend == "numpy" else ()
    with mock.patch.object(_backend, "_NUMPY_FLOATS", floats):
        battery = Battery(c, metrics=list(METRICS))
        for part in np.array_split(np.arange(n), batches):  # streaming: any batching
            battery.update(probs[part], y[part])
        out = battery.compute()
    _assert_close(out, _reference(probs, y, c))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(2, 5), side=st.integers(1, 6),
       seed=st.integers(0, 2**32 - 1), ignore=st.sampled_from([None, 255, 0]))
def test_segmentation_battery_equals_sklearn_over_kept_pixels(n, c, side, seed, ignore):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, (n, side, side))
    if ignore is not None:
        y = np.where(rng.random(y.shape) < 0.3, ignore, y)
    logits = rng.integers(0, 3, (n, c, side, side)).astype(np.float32)
    probs = torch.from_numpy(logits).softmax(dim=1)
    battery = Battery(c, task="segmentation", ignore_index=ignore)
    if ignore is not None and (y == ignore).all():
        battery.update(probs, torch.from_numpy(y))
        with pytest.raises(MushinValueError, match="no samples to score"):
            battery.compute()
        return
    battery.update(probs, torch.from_numpy(y))
    flat_p = probs.movedim(1, -1).reshape(-1, c)
    flat_y = torch.from_numpy(y).reshape(-1)
    keep = flat_y != ignore if ignore is not None else torch.ones_like(flat_y, dtype=torch.bool)
    ref = _reference(flat_p[keep], flat_y[keep], c)
    assert list(battery.compute()) == ["miou", "dice", "pixel_acc", "precision", "recall"]
    _assert_close(battery.compute(), ref)


def test_binary_auroc_uses_the_positive_class_score_only():
    probs = torch.tensor([[0.2, 0.7], [0.6, 0.5], [0.1, 0.9], [0.5, 0.1]])  # rows do not sum to 1
    y = torch.tensor([1, 0, 1, 0])
    battery = Battery(2, metrics=["auroc"])
    battery.update(probs, y)
    assert battery.compute()["auroc"] == pytest.approx(skm.roc_auc_score(y, probs[:, 1]))


def test_float64_probabilities_and_a_large_batch():
    probs, y = _case("random", 20_000, 10, 3)
    probs = probs.double()
    battery = Battery(10)
    battery.update(probs, y)
    ref = _reference(probs.float(), y, 10)
    ref["auroc"] = float(np.mean([skm.roc_auc_score(y == k, probs[:, k]) for k in range(10)]))
    _assert_close(battery.compute(), ref)


def test_custom_metric_callables_see_all_probabilities_and_targets():
    probs, y = _case("random", 50, 3, 0)
    seen = {}

    def brier(p, t):
        seen["shape"] = (tuple(p.shape), tuple(t.shape))
        return float(((p - torch.nn.functional.one_hot(t, 3)) ** 2).sum(1).mean())

    battery = Battery(3, metrics={"acc": "accuracy", "brier": brier})
    battery.update(probs[:20], y[:20])
    battery.update(probs[20:], y[20:])
    out = battery.compute()
    assert list(out) == ["acc", "brier"] and seen["shape"] == ((50, 3), (50,))
    onehot = np.eye(3)[y.numpy()]
    assert out["brier"] == pytest.approx(np.mean(np.sum((probs.numpy() - onehot) ** 2, 1)))


def test_register_task_adds_a_battery_and_refuses_builtin_names():
    register_task("test-calibration", ["ece", "accuracy"])
    assert task_metrics("test-calibration") == ("ece", "accuracy")
    with pytest.raises(MushinValueError, match="`name` must be a new task name"):
        register_task("classification", ["accuracy"])
    with pytest.raises(MushinKeyError, match="unknown metric 'top5'.*Known metrics: accuracy"):
        register_task("x", ["top5"])
    with pytest.raises(MushinTypeError, match="`predict_fn` must be a callable"):
        register_task("x", ["accuracy"], predict_fn=3)


def test_battery_errors_name_the_problem_and_the_fix():
    with pytest.raises(MushinKeyError, match="unknown task 'detection'. Known tasks:.*"
                       "classification.*register_task"):
        Battery(3, task="detection")
    with pytest.raises(MushinKeyError, match="unknown metric 'acc'.*Known metrics: accuracy, f1"):
        Battery(3, metrics=["acc"])
    with pytest.raises(MushinValueError, match="`num_classes` must be an int >= 2, got 1"):
        Battery(1)
    with pytest.raises(MushinTypeError, match="`num_classes` must be an int >= 2, got 2.0"):
        Battery(2.0)
    with pytest.raises(MushinValueError, match="`metrics` must be at least one metric"):
        Battery(3, metrics=[])
    battery = Battery(3)
    with pytest.raises(MushinValueError, match=r"shape \(4, 5\) but `num_classes` is 3"):
        battery.update(torch.rand(4, 5), torch.zeros(4, dtype=torch.long))
    with pytest.raises(MushinValueError, match=r"target label 3 is outside \[0, num_classes=3\)"):
        battery.update(torch.rand(2, 3), torch.tensor([0, 3]))
    with pytest.raises(MushinValueError, match="target label -1 is outside"):
        battery.update(torch.rand(2, 3), torch.tensor([-1, 0]))
    with pytest.raises(MushinValueError, match="targets of shape .* one-hot"):
        battery.update(torch.rand(2, 3), torch.eye(3)[:2].long())
    with pytest.raises(MushinTypeError, match="`targets` must be integer class labels"):
        battery.update(torch.rand(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(MushinValueError, match="contain NaN"):
        battery.update(torch.tensor([[0.5, float("nan"), 0.5]]), torch.tensor([0]))
    with pytest.raises(MushinValueError, match=r"not probabilities in \[0, 1\].*softmax"):
        battery.update(torch.tensor([[3.0, -1.0, 0.5]]), torch.tensor([0]))
    with pytest.raises(MushinValueError, match="no samples to score"):
        Battery(3).compute()
