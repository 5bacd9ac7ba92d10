"""The metric formulas over the battery's shared state (see :mod:`mushin_nb.metrics`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from mushin_nb.metrics._backend import _numpy


def _confusion_metrics(cm: np.ndarray) -> list[dict[str, float]]:
    """Accuracy and macro precision/recall/F1/IoU of each confusion matrix (rows = targets)
    of a (k, C, C) stack."""
    cm = cm.astype(np.float64)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    support, predicted = cm.sum(axis=2), cm.sum(axis=1)
    present = (support + predicted) > 0  # sklearn's labels = unique(y_true, y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = 2 * tp / (support + predicted)
        iou = tp / (support + predicted - tp)
    accuracy = tp.sum(axis=1) / cm.sum(axis=(1, 2))
    per_class = np.where(present, np.stack([precision, recall, f1, iou]), 0.0)
    macro = per_class.sum(axis=2) / present.sum(axis=1)  # the mean over the present classes
    names = ("precision", "recall", "f1", "miou")
    return [{"accuracy": acc, "pixel_acc": acc, "dice": means[2], **dict(zip(names, means))}
            for acc, means in zip(accuracy.tolist(), macro.T.tolist())]


def _ece(bins: np.ndarray) -> list[float]:
    """ECE of each calibration state (count, confidence sum, correct count) of a (k, 3, B)
    stack."""
    # sum over bins of |acc - conf| * share of samples = sum |correct - conf| / total
    count, conf, correct = bins.transpose(1, 0, 2)
    return (np.abs(correct - conf).sum(axis=1) / count.sum(axis=1)).tolist()


def _auroc(scores: Any, labels: Any) -> np.ndarray:
    """One-vs-rest macro AUROC (k,) of each of k models scored on the same ``labels`` (N,).

    ``scores`` (k, N, K) are each model's class scores, or for two classes (K = 1) the
    score of class 1 only.  Per model and class, the Mann-Whitney U counts the (positive,
    negative) pairs the positive wins, ties one half: the area under the ROC curve with
    linear interpolation (scikit-learn's).  A class with no positive or no negative is left
    out of the mean (scikit-learn refuses it); NaN when none is left.  The k*K one-vs-rest
    rows are one sort of int64 keys, so the cost hardly grows with k; torch scores (CUDA
    too) are copied to the CPU for it, one transfer of k*N*K values.
    """
    scores, labels = _host(scores), _numpy(labels)
    k, n, width = scores.shape
    classes = np.arange(width) if width > 1 else np.array([1])
    positive = labels == classes[:, None]
    n_pos = np.tile(positive.sum(axis=1), k)
    two_u = _twice_u(_sorted_keys(scores.transpose(0, 2, 1), positive), n_pos, n)
    pairs = 2.0 * n_pos * (n - n_pos)
    auc = np.divide(two_u, pairs, out=np.zeros(pairs.shape), where=pairs > 0).reshape(k, width)
    defined = (pairs > 0).reshape(k, width).sum(axis=1)
    return np.divide(auc.sum(axis=1), defined, out=np.full(k, math.nan), where=defined > 0)


def _host(scores: Any) -> np.ndarray:
    if isinstance(scores, np.ndarray):
        return scores
    scores = scores.detach().cpu()  # bfloat16 has no numpy dtype; float32 holds it exactly
    return (scores.float() if scores.dtype == torch.bfloat16 else scores).numpy()


def _sorted_keys(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """The (k, K, N) scores as int64 keys ``row << b + 1 | order << 1 | positive``, sorted
    per row (of the k*K rows), flat: the row in the high bits makes them sorted as a whole
    (for searchsorted), and a tie's negatives sort before its positives."""
    k, width, n = scores.shape
    order, size = _order(scores)
    keys = np.left_shift(order, 1, dtype=np.int64)
    keys |= positive
    keys = keys.reshape(k * width, n)
    keys |= (np.arange(k * width, dtype=np.int64) << (size + 1))[:, None]
    keys.sort(axis=1)
    return keys.ravel()


def _order(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Unsigned ints of ``b`` bits that sort as the (k, K, N) scores do along N, equal for
    equal scores (-0.0 and 0.0 too), and ``b``."""
    if scores.dtype.itemsize <= 4:  # the float32 bits, made unsigned-monotone
        bits = np.add(scores, np.float32(0), dtype=np.float32, order="C").view(np.int32)
        bits ^= (bits >> 31) | np.int32(-2 ** 31)  # negatives: every bit flipped, else the sign
        return bits.view(np.uint32), 32
    # float64 does not fit beside the row and the label: its dense rank in the row
    rows = scores.reshape(-1, scores.shape[2])
    r, n = rows.shape
    ranked = np.sort(rows, axis=1)  # values only: cheaper than taking them by the argsort
    dense = np.zeros(rows.shape, np.int32)
    np.cumsum(ranked[:, 1:] != ranked[:, :-1], axis=1, out=dense[:, 1:])
    by_score = np.argsort(rows, axis=1)
    by_score += np.arange(0, r * n, n)[:, None]
    order = np.empty(r * n, np.int32)
    order[by_score.ravel()] = dense.ravel()
    return order.reshape(scores.shape), max(n - 1, 1).bit_length()


def _twice_u(keys: np.ndarray, n_pos: np.ndarray, n: int) -> np.ndarray:
    """2 U of each row of the :func:`_sorted_keys` ``keys``, with ``n_pos`` positives each.

    A positive at place j of its row comes after j - (positives before it) negatives, all
    of its tie's among them (they sort first): those count one half, so 2 U drops them once.
    """
    flags = np.bitwise_and(keys, 1, dtype=np.uint8, casting="unsafe")  # nonzero: bools are fast
    at = np.flatnonzero(flags.view(bool))  # the positives' places, row after row
    summed = np.concatenate(([0], np.cumsum(at)))
    end = np.cumsum(n_pos)
    places = summed[end] - summed[end - n_pos] - np.arange(len(n_pos)) * n * n_pos
    return 2 * places - n_pos * (n_pos - 1) - _tied_negatives(keys, at, len(n_pos), n)


def _tied_negatives(keys: np.ndarray, at: np.ndarray, rows: int, n: int) -> Any:
    """Per row, the sum over its positives of the negatives with the same score."""
    key = keys[at]
    before = keys[at - 1]  # at 0: the last key, of a later row (or all equal: no negative)
    run = np.flatnonzero(before != key)  # the first of each run of positives of one score
    after_negative = before[run] == key[run] - 1
    if not after_negative.any():
        return 0
    lead, length = run[after_negative], np.diff(run, append=len(at))[after_negative]
    tied = at[lead] - np.searchsorted(keys, key[lead] - 1)  # the negatives just before it
    return np.bincount(at[lead] // n, tied * length, minlength=rows).astype(np.int64)
