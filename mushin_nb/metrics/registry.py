"""The task registry: each task's battery of metric names and its default ``predict_fn``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mushin_nb.errors import MushinKeyError, MushinTypeError, bad_value

#: Built-in metric names (any task may use any of them).
METRICS = ("accuracy", "f1", "precision", "recall", "auroc", "ece", "miou", "dice", "pixel_acc")
#: The range of every built-in metric (intervals stay inside it), and those where lower is better.
RANGES = dict.fromkeys(METRICS, (0.0, 1.0))
LOWER_IS_BETTER = frozenset({"ece"})
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
