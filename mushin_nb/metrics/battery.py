"""The streaming state of a metric battery: ``update`` once per batch, ``compute`` at the end."""

from __future__ import annotations

import functools
import numbers
from typing import Any

import numpy as np
import torch

from mushin_nb.errors import MushinTypeError, MushinValueError, bad_value, describe
from mushin_nb.metrics._backend import _arrays, _bincount, _cat, _isnan, _numpy, _top
from mushin_nb.metrics.definitions import _auroc, _confusion_metrics, _ece
from mushin_nb.metrics.registry import MetricFn, _resolve_metrics, _task

_CONFUSION = frozenset({"accuracy", "f1", "precision", "recall", "miou", "dice", "pixel_acc"})
N_BINS = 15


class Battery:
    """Streaming state of a metric battery: ``update`` per batch, ``compute`` at the end.

    Parameters
    ----------
    num_classes : int
        Number of classes ``C``; probabilities have shape ``(N, C, ...)``.
    task : str
        Task whose battery is used when ``metrics`` is None.
    metrics : sequence of str or dict, optional
        Replaces the battery: built-in names or ``name -> callable(probs, targets)``.
    ignore_index : int, optional
        Target value whose samples (pixels) are left out of every built-in metric.

    Examples
    --------
    >>> b = Battery(3, metrics=["accuracy", "miou"])
    >>> b.update(torch.eye(3), torch.tensor([0, 1, 1]))
    >>> b.compute()
    {'accuracy': 0.6666666666666666, 'miou': 0.5}
    """

    def __init__(self, num_classes: int, *, task: str = "classification",
                 metrics: Any = None, ignore_index: int | None = None) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
            raise bad_value("num_classes", num_classes, "an int >= 2", cls=MushinTypeError)
        if num_classes < 2:
            raise bad_value("num_classes", num_classes, "an int >= 2",
                            "pass the number of classes the model predicts")
        if ignore_index is not None and (isinstance(ignore_index, bool)
                                         or not isinstance(ignore_index, numbers.Integral)):
            raise bad_value("ignore_index", ignore_index, "an int or None", cls=MushinTypeError)
        self.num_classes = int(num_classes)
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.metrics = _task(task).metrics if metrics is None else _resolve_metrics(metrics)
        kinds = {fn for _, fn in self.metrics if isinstance(fn, str)}
        self._needs_cm = bool(kinds & _CONFUSION)
        self._needs_bins = "ece" in kinds
        self._needs_scores = "auroc" in kinds
        self._needs_raw = any(callable(fn) for _, fn in self.metrics)
        self.reset()

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the metrics, in the order :meth:`compute` returns them."""
        return tuple(name for name, _ in self.metrics)

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self._cm: torch.Tensor | None = None
        self._bins: torch.Tensor | None = None
        self._scores: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []
        self._raw: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.n_samples = 0

    def update(self, probs: Any, targets: Any) -> None:
        """Add one batch: ``probs`` (N, C, ...) probabilities and ``targets`` (N, ...) labels."""
        probs, targets = self._check(probs, targets)
        c = self.num_classes
        if self._needs_raw:
            self._raw.append((probs, targets))
        kept = self._kept(probs.detach().movedim(1, -1).reshape(-1, c), targets.reshape(-1))
        if kept is None:
            return
        flat, labels = kept
        self.n_samples += labels.shape[0]
        conf, pred = _top(flat)
        if self._needs_cm:
            counts = _bincount(labels * c + pred, c * c)
            self._cm = counts if self._cm is None else self._cm + counts
        if self._needs_bins:
            self._update_bins(conf, pred == labels)
        if self._needs_scores:
            self._scores.append(flat if c > 2 else flat[:, 1:])
            self._labels.append(labels)

    def _check(self, probs: Any, targets: Any) -> tuple[torch.Tensor, torch.Tensor]:
        probs, targets = torch.as_tensor(probs), torch.as_tensor(targets)
        c = self.num_classes
        if probs.ndim < 2 or probs.shape[1] != c:
            raise MushinValueError(
                f"the predicted probabilities have shape {tuple(probs.shape)} but `num_classes` "
                f"is {c}: the class dimension (dim 1) must have size {c}. Fix: pass the "
                "num_classes the model was built for, or a predict_fn that returns "
                "(N, num_classes, ...) probabilities.")
        if tuple(targets.shape) != (probs.shape[0], *probs.shape[2:]):
            raise MushinValueError(
                f"targets of shape {tuple(targets.shape)} do not match probabilities of shape "
                f"{tuple(probs.shape)}: targets must be (N, ...) with the class dim removed. "
                "Fix: give integer class labels, not one-hot targets.")
        if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
            raise bad_value("targets", targets.dtype, "integer class labels",
                            "convert with targets.long()", cls=MushinTypeError)
        if not probs.is_floating_point():
            raise bad_value("probs", probs.dtype, "floating-point probabilities",
                            cls=MushinTypeError)
        return probs, targets.to(device=probs.device, dtype=torch.long)

    def _check_labels(self, labels: Any) -> None:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= self.num_classes:
            bad = low if low < 0 else high
            hint = "" if self.ignore_index is None else f" (ignore_index={self.ignore_index})"
            raise MushinValueError(
                f"target label {bad} is outside [0, num_classes={self.num_classes}){hint}. "
                "Fix: pass the right `num_classes`, or set `ignore_index` to the label that "
                "marks samples to skip.")

    def _kept(self, flat: Any, labels: Any) -> tuple[Any, Any] | None:
        """``flat`` (..., M, C) probabilities and ``labels`` (M,) without the ignored
        samples, as the state's arrays and checked; None when no sample is left."""
        if self.ignore_index is not None:
            keep = labels != self.ignore_index
            flat, labels = flat[..., keep, :], labels[keep]
        if labels.numel() == 0:
            return None
        flat, labels = _arrays(flat, labels)
        self._check_labels(labels)
        if bool(_isnan(flat).any()):
            raise MushinValueError(
                "the predicted probabilities contain NaN. Fix: check the model's output (a "
                "diverged model?) or the predict_fn.")
        return flat, labels

    def _update_bins(self, conf: Any, correct: Any) -> None:
        state = _bin_states(conf, correct.reshape(1, -1), _offsets(conf, 1), 1)[0]
        self._bins = state if self._bins is None else self._bins + state

    def compute(self) -> dict[str, float]:
        """Return ``{metric name: value}`` over every batch seen."""
        self._check_seen()
        return self._values(_stats([self])[0])

    def _check_seen(self) -> None:
        if self.n_samples == 0:
            raise MushinValueError(
                "no samples to score: `data` yielded no batches, or every target equals "
                f"ignore_index={self.ignore_index}. Fix: pass data with labelled samples.")

    def _values(self, stats: dict[str, float]) -> dict[str, float]:
        """The battery's metrics, in order, from the values of the built-in ones."""
        raw = None
        out = {}
        for name, fn in self.metrics:
            if isinstance(fn, str):
                out[name] = stats[fn]
                continue
            if raw is None:
                raw = (torch.cat([p for p, _ in self._raw]), torch.cat([t for _, t in self._raw]))
            out[name] = _call_metric(name, fn, *raw)
        return out


def _together(batteries: list[Battery]) -> bool:
    """Whether the batteries can share array operations: two or more, of one setting, with
    no metric of their own."""
    if len(batteries) < 2:
        return False
    first = batteries[0]
    return not first._needs_raw and all(
        b.metrics == first.metrics and b.num_classes == first.num_classes
        and b.ignore_index == first.ignore_index for b in batteries)


def update_together(batteries: list[Battery], probs: torch.Tensor, targets: Any) -> None:
    """``batteries[i].update(probs[i], targets)`` for all ``i``, in one pass of array
    operations over ``probs`` (k, N, C, ...): the counts of the k models are one
    ``bincount`` with an offset per model.  Batteries of different settings, or with
    metrics of their own, are updated one at a time.

    Examples
    --------
    >>> probs = torch.tensor([[[0.9, 0.1], [0.2, 0.8]], [[0.3, 0.7], [0.6, 0.4]]])
    >>> pair = [Battery(2, metrics=["accuracy", "ece"]) for _ in range(2)]
    >>> update_together(pair, probs, torch.tensor([0, 1]))
    >>> [round(b.compute()["accuracy"], 3) for b in pair]
    [1.0, 0.0]
    """
    if not _together(batteries):
        for battery, p in zip(batteries, probs):
            battery.update(p, targets)
        return
    first = batteries[0]
    k, c = len(batteries), first.num_classes
    _, targets = first._check(probs[0], targets)  # every slice has the shape of the first
    kept = first._kept(probs.detach().movedim(2, -1).reshape(k, -1, c), targets.reshape(-1))
    if kept is None:
        return
    flat, labels = kept
    m = labels.shape[0]
    conf, pred = _top(flat.reshape(k * m, c))
    offsets = _offsets(flat, k)
    if first._needs_cm:
        index = (offsets * c + labels.reshape(1, -1)) * c + pred.reshape(k, m)
        counts = _bincount(index.reshape(-1), k * c * c).reshape(k, c * c)
        for battery, count in zip(batteries, counts):
            battery._cm = count if battery._cm is None else battery._cm + count
    if first._needs_bins:
        states = _bin_states(conf, pred.reshape(k, m) == labels.reshape(1, -1), offsets, k)
        for battery, state in zip(batteries, states):
            battery._bins = state if battery._bins is None else battery._bins + state
    for i, battery in enumerate(batteries):
        battery.n_samples += m
        if first._needs_scores:
            battery._scores.append(flat[i] if c > 2 else flat[i, :, 1:])
            battery._labels.append(labels)


def compute_together(batteries: list[Battery]) -> list[dict[str, float]]:
    """``[b.compute() for b in batteries]``, each formula once on the k states stacked.

    The AUROC of all k models is one sort of their k*C one-vs-rest score rows (see
    :func:`~mushin_nb.metrics.definitions._auroc`), which needs every battery to hold the
    same targets, as :func:`update_together` feeds them; the confusion metrics and ECE are
    one array expression each.  Batteries of different settings, with metrics of their
    own, or that saw other targets are computed one at a time.

    Parameters
    ----------
    batteries : list of Battery
        The batteries to compute, e.g. the seeds of one model fed by
        :func:`update_together`.

    Returns
    -------
    list of dict
        ``{metric name: value}`` of each battery, in order: what its ``compute`` returns.

    Examples
    --------
    >>> probs = torch.tensor([[[0.9, 0.1], [0.2, 0.8]], [[0.3, 0.7], [0.6, 0.4]]])
    >>> pair = [Battery(2, metrics=["accuracy", "auroc"]) for _ in range(2)]
    >>> update_together(pair, probs, torch.tensor([0, 1]))
    >>> compute_together(pair)
    [{'accuracy': 1.0, 'auroc': 1.0}, {'accuracy': 0.0, 'auroc': 0.0}]
    """
    if not _together(batteries):
        return [battery.compute() for battery in batteries]
    for battery in batteries:
        battery._check_seen()
    if batteries[0]._needs_scores and not _same_labels(batteries):
        return [battery.compute() for battery in batteries]
    return [battery._values(one) for battery, one in zip(batteries, _stats(batteries))]


def _stats(batteries: list[Battery]) -> list[dict[str, float]]:
    """The built-in metrics of batteries of one setting that have seen samples (the same
    labels, where AUROC is one): each formula once, on the k states stacked."""
    first, k = batteries[0], len(batteries)
    stats: list[dict[str, float]] = [{} for _ in batteries]
    if first._cm is not None:
        cms = np.stack([_numpy(b._cm) for b in batteries]).reshape(k, first.num_classes, -1)
        for one, values in zip(stats, _confusion_metrics(cms)):
            one.update(values)
    if first._bins is not None:
        for one, ece in zip(stats, _ece(np.stack([_numpy(b._bins) for b in batteries]))):
            one["ece"] = ece
    if first._needs_scores:
        scores = _cat([_cat(b._scores)[None] for b in batteries])
        for one, auroc in zip(stats, _auroc(scores, _cat(first._labels)).tolist()):
            one["auroc"] = auroc
    return stats


def _same_labels(batteries: list[Battery]) -> bool:
    """Whether every battery holds the first one's labels: the same chunks (as
    :func:`update_together` stores them), else equal values."""
    first = batteries[0]._labels
    if all(len(b._labels) == len(first) and all(x is y for x, y in zip(b._labels, first))
           for b in batteries):
        return True
    labels = _numpy(_cat(first))
    return all(np.array_equal(_numpy(_cat(b._labels)), labels) for b in batteries)


def _bin_states(conf: Any, correct: Any, offsets: Any, k: int) -> Any:
    """Per model (k, 3, bins): the count, confidence sum and correct count of each bin.

    ``conf`` is the (k*M,) top-class probability, ``correct`` (k, M) and ``offsets`` the
    (k, 1) model indices."""
    low, high = float(conf.min()), float(conf.max())
    if low < 0 or high > 1 + 1e-6:
        raise MushinValueError(
            f"top-class scores range over [{low:.4g}, {high:.4g}], not probabilities in "
            "[0, 1], so 'ece' is undefined. Fix: make predict_fn return probabilities "
            "(e.g. apply softmax to the logits).")
    # float32 bin edges on float32 confidences: the binning torchmetrics does
    size = N_BINS + 1
    if isinstance(conf, np.ndarray):
        conf32 = conf.astype(np.float32)
        index = (np.searchsorted(_edges().numpy(), conf32, side="right") - 1).clip(0, N_BINS)
        index = (index.reshape(k, -1) + offsets * size).reshape(-1)
        state = np.stack([np.bincount(index, minlength=k * size).astype(np.float64),
                          np.bincount(index, conf32.astype(np.float64), k * size),
                          np.bincount(index, correct.reshape(-1).astype(np.float64), k * size)])
    else:
        conf32 = conf.float()
        index = torch.bucketize(conf32, _edges().to(conf.device), right=True) - 1
        index = index.clamp(0, N_BINS)  # exactly 1.0 gets its own bin, as in torchmetrics
        index = (index.reshape(k, -1) + offsets * size).reshape(-1)
        state = torch.stack([torch.bincount(index, minlength=k * size).double(),
                             torch.bincount(index, conf32.double(), k * size),
                             torch.bincount(index, correct.reshape(-1).double(), k * size)])
    return state.reshape(3, k, size).transpose(1, 0, 2) if isinstance(state, np.ndarray) \
        else state.reshape(3, k, size).transpose(0, 1)


def _offsets(like: Any, k: int) -> Any:
    """(k, 1) model indices, numpy or torch as ``like``."""
    if isinstance(like, np.ndarray):
        return np.arange(k).reshape(k, 1)
    return torch.arange(k, device=like.device).reshape(k, 1)


def _call_metric(name: str, fn: MetricFn, probs: torch.Tensor, targets: torch.Tensor) -> float:
    value = fn(probs, targets)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MushinTypeError(
            f"metric {name!r} returned {describe(value)}, not a number. Fix: return a float "
            "(e.g. tensor.item()).") from None


@functools.lru_cache(maxsize=1)
def _edges() -> torch.Tensor:
    return torch.linspace(0, 1, N_BINS + 1, dtype=torch.float32)
