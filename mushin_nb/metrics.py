"""Metric batteries per task, and the streaming evaluator that feeds them in one pass.

A *task* names a battery of metrics and the ``predict_fn`` that turns a model and a batch of
inputs into class probabilities of shape ``(N, C, ...)`` (class dimension second, any
spatial dimensions after it).  Every battery metric is computed from shared state that is
updated once per batch: a ``C x C`` confusion matrix (bincount), 15 calibration bins, and
for AUROC a buffer of scores.  Definitions equal scikit-learn's (or torchmetrics' for ECE,
which scikit-learn lacks) on the flattened samples, with ``ignore_index`` samples left out:

=========== ===================================================================
accuracy    ``sklearn.metrics.accuracy_score``
pixel_acc   the same, over all pixels
precision   ``precision_score(average="macro", zero_division=0)``
recall      ``recall_score(average="macro", zero_division=0)``
f1          ``f1_score(average="macro", zero_division=0)``
dice        the same as f1 (per-class Dice = F1), over all pixels
miou        ``jaccard_score(average="macro", zero_division=0)``, over all pixels
auroc       ``roc_auc_score(y, p[:, 1])`` for 2 classes, else one-vs-rest macro
            (``roc_auc_score(y, p, multi_class="ovr")``) over the classes that occur
            and do not fill all targets; NaN when there is none
ece         ``torchmetrics MulticlassCalibrationError(n_bins=15, norm="l1")``: top-label
            confidence, 15 equal-width bins
=========== ===================================================================

Macro averages run over the classes present in the targets or the predictions, exactly as
scikit-learn's default ``labels`` (and torchmetrics' macro weights) do: a class absent from
both is left out, a class that is only predicted (or only a target) scores 0.

Examples
--------
>>> import torch
>>> probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
>>> targets = torch.tensor([0, 1, 1, 1])
>>> battery = Battery(2)
>>> battery.update(probs, targets)
>>> {k: round(v, 4) for k, v in battery.compute().items()}
{'accuracy': 0.75, 'f1': 0.7333, 'precision': 0.75, 'recall': 0.8333, 'auroc': 1.0, 'ece': 0.3}
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mushin_nb.errors import (
    MushinKeyError,
    MushinTypeError,
    MushinValueError,
    bad_value,
    describe,
)

__all__ = [
    "METRICS",
    "Battery",
    "evaluate",
    "evaluate_many",
    "register_task",
    "softmax_predict",
    "task_metrics",
]

#: Built-in metric names (any task may use any of them).
METRICS = ("accuracy", "f1", "precision", "recall", "auroc", "ece", "miou", "dice", "pixel_acc")
#: The range of every built-in metric (intervals stay inside it), and those where lower is better.
RANGES = dict.fromkeys(METRICS, (0.0, 1.0))
LOWER_IS_BETTER = frozenset({"ece"})
_CONFUSION = frozenset({"accuracy", "f1", "precision", "recall", "miou", "dice", "pixel_acc"})
N_BINS = 15
BUILTIN_TASKS = ("classification", "segmentation")

MetricFn = Callable[[torch.Tensor, torch.Tensor], float]
PredictFn = Callable[[Any, Any], torch.Tensor]


def softmax_predict(model: Callable[[Any], torch.Tensor], inputs: Any) -> torch.Tensor:
    """Default ``predict_fn``: ``model(inputs).softmax(dim=1)`` (logits to probabilities).

    Works for classification ``(N, C)`` and segmentation ``(N, C, H, W)`` outputs alike.

    Examples
    --------
    >>> softmax_predict(lambda x: x, torch.zeros(1, 4)).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    out = model(inputs)
    if not isinstance(out, torch.Tensor):
        keys = f" with keys {sorted(map(str, out))}" if isinstance(out, Mapping) else ""
        raise MushinTypeError(
            f"the model returned {type(out).__name__}{keys}, not a tensor of logits "
            "(N, num_classes, ...). Fix: pass `predict_fn=lambda model, x: "
            "model(x)['logits'].softmax(1)` (or whatever yields probabilities).")
    if out.ndim < 2:
        raise bad_value("predict_fn", tuple(out.shape), "a model output of shape "
                        "(N, num_classes, ...)", "pass a predict_fn that returns "
                        "probabilities with the classes on dim 1")
    return out.softmax(dim=1)


@dataclass(frozen=True)
class _Task:
    metrics: tuple[tuple[str, str | MetricFn], ...]
    predict_fn: PredictFn


_TASKS: dict[str, _Task] = {
    "classification": _Task(tuple((m, m) for m in METRICS[:6]), softmax_predict),
    "segmentation": _Task(tuple((m, m) for m in ("miou", "dice", "pixel_acc", "precision",
                                                 "recall")), softmax_predict),
}


def _resolve_metrics(metrics: Any, arg: str = "metrics") -> tuple[tuple[str, str | MetricFn], ...]:
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        items = list(metrics.items())
    elif isinstance(metrics, Iterable):
        items = [(m, m) for m in metrics]
    else:
        raise bad_value(arg, metrics, "metric names or a dict name -> callable(probs, targets)",
                        f"e.g. {arg}=['accuracy', 'f1']", cls=MushinTypeError)
    if not items:
        raise bad_value(arg, metrics, "at least one metric", f"e.g. {arg}=['accuracy']")
    out = []
    for name, fn in items:
        if not isinstance(name, str) or not name:
            raise bad_value(arg, metrics, "metric names that are non-empty strings",
                            cls=MushinTypeError)
        if isinstance(fn, str):
            if fn not in METRICS:
                raise MushinKeyError(
                    f"unknown metric {fn!r} in `{arg}`. Known metrics: {', '.join(METRICS)}. "
                    "Fix: use one of these names, or pass a dict name -> "
                    "callable(probs, targets).")
        elif not callable(fn):
            raise bad_value(f"{arg}[{name!r}]", fn, "a built-in metric name or a callable "
                            "(probs, targets) -> float", cls=MushinTypeError)
        out.append((name, fn))
    return tuple(out)


def _task(task: Any) -> _Task:
    if not isinstance(task, str) or task not in _TASKS:
        raise MushinKeyError(
            f"unknown task {task!r}. Known tasks: {', '.join(sorted(_TASKS))}. Fix: use one of "
            "these, or add yours with mushin_nb.register_task(name, metrics, predict_fn).")
    return _TASKS[task]


def register_task(name: str, metrics: Sequence[str] | Mapping[str, str | MetricFn],
                  predict_fn: PredictFn = softmax_predict) -> None:
    """Add a task: its battery of metrics and the ``predict_fn`` that feeds them.

    Parameters
    ----------
    name : str
        Task name for ``task=``; the built-in ``"classification"`` and ``"segmentation"``
        cannot be replaced, a task registered earlier is (re-running a notebook cell).
    metrics : sequence of str or dict
        Built-in metric names (:data:`METRICS`), or ``name -> name`` / ``name ->
        callable(probs, targets) -> float`` (called once on all probabilities and targets).
    predict_fn : callable
        ``predict_fn(model, inputs) -> probabilities (N, C, ...)``.

    Examples
    --------
    >>> register_task("top1", ["accuracy"])
    >>> task_metrics("top1")
    ('accuracy',)
    """
    if not isinstance(name, str) or not name:
        raise bad_value("name", name, "a non-empty str", cls=MushinTypeError)
    if name in BUILTIN_TASKS:
        raise bad_value("name", name, f"a new task name (not one of {BUILTIN_TASKS})",
                        "pick another name; pass metrics= to evaluate() to change a battery")
    if not callable(predict_fn):
        raise bad_value("predict_fn", predict_fn, "a callable (model, inputs) -> probabilities",
                        cls=MushinTypeError)
    _TASKS[name] = _Task(_resolve_metrics(metrics), predict_fn)


def task_metrics(task: str = "classification") -> tuple[str, ...]:
    """Names of the metrics a task computes, in order.

    Examples
    --------
    >>> task_metrics("segmentation")
    ('miou', 'dice', 'pixel_acc', 'precision', 'recall')
    """
    return tuple(name for name, _ in _task(task).metrics)


# ----------------------------------------------------------------------------- the battery


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
        flat = probs.detach().movedim(1, -1).reshape(-1, c)
        labels = targets.reshape(-1)
        if self.ignore_index is not None:
            keep = labels != self.ignore_index
            flat, labels = flat[keep], labels[keep]
        if self._needs_raw:
            self._raw.append((probs, targets))
        if labels.numel() == 0:
            return
        flat, labels = _arrays(flat, labels)
        self._check_labels(labels)
        if bool(_isnan(flat).any()):
            raise MushinValueError(
                "the predicted probabilities contain NaN. Fix: check the model's output (a "
                "diverged model?) or the predict_fn.")
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

    def _update_bins(self, conf: Any, correct: Any) -> None:
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
            state = np.stack([np.bincount(index, minlength=size).astype(np.float64),
                              np.bincount(index, conf32.astype(np.float64), size),
                              np.bincount(index, correct.astype(np.float64), size)])
        else:
            conf32 = conf.float()
            index = torch.bucketize(conf32, _edges().to(conf.device), right=True) - 1
            index = index.clamp(0, N_BINS)  # exactly 1.0 gets its own bin, as in torchmetrics
            state = torch.stack([torch.bincount(index, minlength=size).double(),
                                 torch.bincount(index, conf32.double(), size),
                                 torch.bincount(index, correct.double(), size)])
        self._bins = state if self._bins is None else self._bins + state

    def compute(self) -> dict[str, float]:
        """Return ``{metric name: value}`` over every batch seen."""
        if self.n_samples == 0:
            raise MushinValueError(
                "no samples to score: `data` yielded no batches, or every target equals "
                f"ignore_index={self.ignore_index}. Fix: pass data with labelled samples.")
        stats: dict[str, float] = {}
        if self._cm is not None:
            stats.update(_confusion_metrics(_numpy(self._cm).reshape(self.num_classes, -1)))
        if self._bins is not None:
            stats["ece"] = _ece(_numpy(self._bins))
        if self._needs_scores:
            stats["auroc"] = _auroc(_cat(self._scores), _cat(self._labels))
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


def _call_metric(name: str, fn: MetricFn, probs: torch.Tensor, targets: torch.Tensor) -> float:
    value = fn(probs, targets)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MushinTypeError(
            f"metric {name!r} returned {describe(value)}, not a number. Fix: return a float "
            "(e.g. tensor.item()).") from None


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


# numpy's kernels beat torch's on CPU for these shapes (short class dim, 1-D sorts), so CPU
# state lives in numpy arrays and other devices keep torch tensors on the model's device.
_NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)


def _arrays(flat: torch.Tensor, labels: torch.Tensor) -> tuple[Any, Any]:
    if flat.device.type == "cpu" and flat.dtype in _NUMPY_FLOATS:
        return flat.numpy(), labels.numpy()
    return flat, labels


def _top(a: Any) -> tuple[Any, Any]:
    """Top-class probability and index (the first on ties, as argmax) of each row."""
    if isinstance(a, np.ndarray):
        pred = a.argmax(axis=1)
        return np.take_along_axis(a, pred[:, None], axis=1)[:, 0], pred
    return a.max(dim=1)


def _bincount(x: Any, size: int) -> Any:
    if isinstance(x, np.ndarray):
        return np.bincount(x, minlength=size)
    return torch.bincount(x, minlength=size)


def _isnan(a: Any) -> Any:
    return np.isnan(a) if isinstance(a, np.ndarray) else torch.isnan(a)


def _numpy(a: Any) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else a.cpu().numpy()


def _cat(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if isinstance(parts[0], np.ndarray) else torch.cat(parts)


@functools.lru_cache(maxsize=1)
def _edges() -> torch.Tensor:
    return torch.linspace(0, 1, N_BINS + 1, dtype=torch.float32)


# ----------------------------------------------------------------------------- evaluation


def _batches(data: Any) -> Iterable[Any]:
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(
            isinstance(d, torch.Tensor) for d in data):
        return [tuple(data)]  # one (inputs, targets) batch given directly
    if isinstance(data, torch.utils.data.Dataset):  # iterating one yields unbatched samples
        raise bad_value("data", data, "batches of (inputs, targets), not a Dataset",
                        "wrap it: torch.utils.data.DataLoader(dataset, batch_size=256)",
                        cls=MushinTypeError)
    if isinstance(data, (str, bytes, Mapping)) or not isinstance(data, Iterable):
        raise bad_value("data", data, "an iterable of (inputs, targets) batches, e.g. a "
                        "DataLoader or a list of tuples", cls=MushinTypeError)
    return data


def _split(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise bad_value("data", batch, "batches that are (inputs, targets) pairs",
                    "yield (inputs, targets) from the loader", cls=MushinTypeError)


def _move(value: Any, device: torch.device | None) -> Any:
    if device is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, Mapping):
        return {k: _move(v, device) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_move(v, device) for v in value)
    return value


def _model_device(model: Any) -> torch.device | None:
    if isinstance(model, torch.nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            return tensor.device
    return None


class _Prepared:
    """A model put in eval mode (and on ``device``) for evaluation; ``restore`` undoes it."""

    def __init__(self, model: Any, device: Any) -> None:
        if not callable(model):
            raise bad_value("model", model, "a torch.nn.Module or a callable",
                            cls=MushinTypeError)
        self.model = model
        self.modes = [(m, m.training) for m in model.modules()] \
            if isinstance(model, torch.nn.Module) else []
        self.home = _model_device(model)
        self.device = torch.device(device) if device is not None else self.home
        if isinstance(model, torch.nn.Module):
            if self.device is not None and self.device != self.home:
                model.to(self.device)
            model.eval()

    def restore(self) -> None:
        for module, training in self.modes:
            module.train(training)
        if self.home is not None and self.device != self.home:
            self.model.to(self.home)


def evaluate_many(models: Mapping[str, Any], data: Iterable[Any], *, num_classes: int,
                  task: str = "classification", metrics: Any = None,
                  predict_fn: PredictFn | None = None, ignore_index: int | None = None,
                  device: Any = None) -> dict[str, dict[str, float]]:
    """Score several models in one pass over ``data``.

    Each batch is read once; every model does one forward pass on it (on its own device,
    under ``torch.inference_mode()``, in eval mode, restored afterwards) and that one output
    feeds all metrics of the model's :class:`Battery`.  ``data`` may therefore be a one-shot
    iterator.

    Parameters
    ----------
    models : dict
        ``name -> model``; a model is a ``torch.nn.Module`` or any callable.
    data : iterable
        ``(inputs, targets)`` batches (a DataLoader, a list), or one ``(inputs, targets)``
        pair of tensors.
    num_classes, task, metrics, ignore_index
        As for :class:`Battery`.
    predict_fn : callable, optional
        ``predict_fn(model, inputs) -> probabilities (N, C, ...)``; default: the task's
        (softmax over dim 1 of ``model(inputs)``).
    device : str or torch.device, optional
        Run every model there (moved for the evaluation, moved back after); default: each
        model's own device.

    Returns
    -------
    dict
        ``name -> {metric: value}``.
    """
    spec = _task(task)
    predict = spec.predict_fn if predict_fn is None else predict_fn
    if not callable(predict):
        raise bad_value("predict_fn", predict, "a callable (model, inputs) -> probabilities",
                        cls=MushinTypeError)
    if not isinstance(models, Mapping) or not models:
        raise bad_value("models", models, "a non-empty dict name -> model", cls=MushinTypeError)
    batteries = {name: Battery(num_classes, task=task, metrics=metrics,
                               ignore_index=ignore_index) for name in models}
    batches = _batches(data)
    prepared: dict[str, _Prepared] = {}
    try:
        for name, model in models.items():
            prepared[name] = _Prepared(model, device)
        seen = 0
        with torch.inference_mode():
            for batch in batches:
                inputs, targets = _split(batch)
                seen += 1
                for name, prep in prepared.items():
                    probs = predict(prep.model, _move(inputs, prep.device))
                    if not isinstance(probs, torch.Tensor):
                        raise bad_value("predict_fn", probs, "a function returning a tensor of "
                                        "probabilities (N, num_classes, ...)",
                                        cls=MushinTypeError)
                    batteries[name].update(probs, torch.as_tensor(targets))
    finally:
        for prep in prepared.values():
            prep.restore()
    if seen == 0:
        raise bad_value("data", data, "a non-empty iterable of (inputs, targets) batches",
                        "check the DataLoader / dataset is not empty")
    return {name: battery.compute() for name, battery in batteries.items()}


def evaluate(model: Any, data: Iterable[Any], *, num_classes: int,
             task: str = "classification", metrics: Any = None,
             predict_fn: PredictFn | None = None, ignore_index: int | None = None,
             device: Any = None) -> dict[str, float]:
    """Score one model on ``data`` with a task's metric battery, in one pass.

    See :func:`evaluate_many` for the parameters and :mod:`mushin_nb.metrics` for the exact
    definition of each metric.

    Returns
    -------
    dict
        ``{metric name: value}`` in battery order.

    Examples
    --------
    >>> model = torch.nn.Linear(2, 2)
    >>> _ = torch.nn.init.eye_(model.weight), torch.nn.init.zeros_(model.bias)
    >>> x = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 3.0]])
    >>> y = torch.tensor([0, 1, 0, 1])
    >>> evaluate(model, [(x, y)], num_classes=2, metrics=["accuracy", "auroc"])
    {'accuracy': 1.0, 'auroc': 1.0}
    """
    return evaluate_many({"model": model}, data, num_classes=num_classes, task=task,
                         metrics=metrics, predict_fn=predict_fn, ignore_index=ignore_index,
                         device=device)["model"]
