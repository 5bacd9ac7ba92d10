"""The metric formulas over the battery's shared state (see :mod:`mushin_nb.metrics`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


def _confusion_metrics(cm: np.ndarray) -> dict[str, float]:
    """Accuracy and macro precision/recall/F1/IoU from a confusion matrix (rows = targets)."""
    cm = cm.astype(np.float64)
    tp = np.diag(cm)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    present = (support + predicted) > 0  # sklearn's labels = unique(y_true, y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = 2 * tp / (support + predicted)
        iou = tp / (support + predicted - tp)
    accuracy = float(tp.sum() / cm.sum())
    macro = {k: float(v[present].mean()) for k, v in
             (("precision", precision), ("recall", recall), ("f1", f1), ("miou", iou))}
    return {"accuracy": accuracy, "pixel_acc": accuracy, "dice": macro["f1"], **macro}


def _ece(bins: np.ndarray) -> float:
    # sum over bins of |acc - conf| * share of samples = sum |correct - conf| / total
    count, conf, correct = bins
    return float(np.abs(correct - conf).sum() / count.sum())


def _auroc(scores: Any, labels: Any) -> float:
    """One-vs-rest macro AUROC: per class, the Mann-Whitney U of its scores.

    U counts the (positive, negative) pairs the positive wins, ties one half: the area under
    the ROC curve with linear interpolation (scikit-learn's).  Sorting each class's negatives
    and searching them for its sorted positives takes values-only sorts, no argsort.
    """
    k = scores.shape[1]
    classes = [1] if k == 1 else list(range(k))  # binary: the score of class 1 only
    on_numpy = isinstance(scores, np.ndarray)
    columns = np.ascontiguousarray(scores.T) if on_numpy else scores.T.contiguous()
    aucs = []
    for column, c in zip(columns, classes):
        positive = labels == c
        n_pos = int(positive.sum())
        n_neg = column.shape[0] - n_pos
        if n_pos == 0 or n_neg == 0:
            continue  # undefined for this class (scikit-learn refuses it)
        if on_numpy:
            pos, neg = np.sort(column[positive]), np.sort(column[~positive])
            wins = int(np.searchsorted(neg, pos, "left").sum()
                       + np.searchsorted(neg, pos, "right").sum())
        else:
            pos, neg = torch.sort(column[positive]).values, torch.sort(column[~positive]).values
            wins = int((torch.searchsorted(neg, pos).sum()
                        + torch.searchsorted(neg, pos, right=True).sum()).item())
        aucs.append(wins / 2 / (n_pos * n_neg))
    return float(np.mean(aucs)) if aucs else math.nan
