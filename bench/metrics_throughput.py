"""P2: the classification battery against a torchmetrics MetricCollection of the same metrics.

100,000 samples x 10 classes of float32 probabilities on CPU, fed to both in batches of
10,000 (as an evaluation loop does), then computed.  Prints the median time of each (runs
interleaved), their ratio, and the largest difference of our numbers from scikit-learn's
(ECE, which scikit-learn lacks, against torchmetrics).  Target: ratio >= 2, difference
<= 1e-6.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch
from sklearn import metrics as skm
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassCalibrationError,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from mushin_nb.metrics import Battery

N, C, BATCH, ROUNDS = 100_000, 10, 10_000, 5
TARGET_RATIO, TOLERANCE = 2.0, 1e-6
NAMES = ("accuracy", "f1", "precision", "recall", "auroc", "ece")


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, C, (N,), generator=gen)
    logits = torch.randn(N, C, generator=gen) + 1.5 * torch.nn.functional.one_hot(y, C)
    return logits.softmax(dim=1), y


def _ours(probs: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    battery = Battery(C, metrics=list(NAMES))
    for i in range(0, N, BATCH):
        battery.update(probs[i:i + BATCH], y[i:i + BATCH])
    return battery.compute()


def _collection() -> MetricCollection:
    return MetricCollection({
        "accuracy": MulticlassAccuracy(C, average="micro"),
        "f1": MulticlassF1Score(C, average="macro"),
        "precision": MulticlassPrecision(C, average="macro"),
        "recall": MulticlassRecall(C, average="macro"),
        "auroc": MulticlassAUROC(C, average="macro"),
        "ece": MulticlassCalibrationError(C, n_bins=15, norm="l1"),
    })


def _theirs(probs: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    collection = _collection()
    for i in range(0, N, BATCH):
        collection.update(probs[i:i + BATCH], y[i:i + BATCH])
    return {k: float(v) for k, v in collection.compute().items()}


def _reference(probs: torch.Tensor, y: torch.Tensor, ece: float) -> dict[str, float]:
    p, t = probs.numpy(), y.numpy()
    pred = p.argmax(axis=1)
    return {
        "accuracy": skm.accuracy_score(t, pred),
        "f1": skm.f1_score(t, pred, average="macro"),
        "precision": skm.precision_score(t, pred, average="macro"),
        "recall": skm.recall_score(t, pred, average="macro"),
        "auroc": skm.roc_auc_score(t, p, multi_class="ovr"),
        "ece": ece,  # scikit-learn has no ECE: torchmetrics is the reference
    }


def main() -> dict:
    """Time both batteries on the same data; return the figures."""
    probs, y = _data()
    _ours(probs, y), _theirs(probs, y)  # warm-up: imports, allocator, caches
    ours_t, theirs_t = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        ours = _ours(probs, y)
        ours_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = _theirs(probs, y)
        theirs_t.append(time.perf_counter() - start)
    ref = _reference(probs, y, theirs["ece"])
    diff = {name: abs(ours[name] - ref[name]) for name in NAMES}
    ours_s, theirs_s = statistics.median(ours_t), statistics.median(theirs_t)
    ratio = theirs_s / ours_s
    print(f"data: {N} x {C} classes, batches of {BATCH}, CPU, torch threads "
          f"{torch.get_num_threads()}, median of {ROUNDS} interleaved runs")
    print(f"mushin_nb Battery:             {ours_s * 1000:8.1f} ms")
    print(f"torchmetrics MetricCollection: {theirs_s * 1000:8.1f} ms")
    print(f"ratio (torchmetrics / ours):   {ratio:8.2f} x   (target >= {TARGET_RATIO:g} x)")
    print("max |ours - sklearn|:          "
          f"{max(diff.values()):.2e}   (target <= {TOLERANCE:g}; ece vs torchmetrics)")
    for name in NAMES:
        print(f"  {name:<10} ours {ours[name]:.8f}  reference {ref[name]:.8f}  "
              f"torchmetrics {theirs[name]:.8f}")
    return {"ours_s": ours_s, "torchmetrics_s": theirs_s, "ratio": ratio,
            "max_abs_diff": max(diff.values()), "diff": diff}


if __name__ == "__main__":
    figures = main()
    sys.exit(0 if figures["ratio"] >= TARGET_RATIO and figures["max_abs_diff"] <= TOLERANCE
             else 1)
