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

The package only re-exports; each job has its module: :mod:`~mushin_nb.metrics.registry`
(tasks and their batteries), :mod:`~mushin_nb.metrics.battery` (the streaming state),
:mod:`~mushin_nb.metrics.definitions` (the formulas above) and
:mod:`~mushin_nb.metrics.evaluator` (:func:`evaluate`, one pass over the data).

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

# ``X as X``: names outside ``__all__`` that other modules import from here
from mushin_nb.metrics.battery import N_BINS as N_BINS
from mushin_nb.metrics.battery import Battery
from mushin_nb.metrics.evaluator import evaluate, evaluate_many
from mushin_nb.metrics.registry import _TASKS as _TASKS  # the StudyBuilder lists these tasks
from mushin_nb.metrics.registry import BUILTIN_TASKS as BUILTIN_TASKS
from mushin_nb.metrics.registry import LOWER_IS_BETTER as LOWER_IS_BETTER
from mushin_nb.metrics.registry import METRICS, register_task, softmax_predict, task_metrics
from mushin_nb.metrics.registry import RANGES as RANGES
from mushin_nb.metrics.registry import MetricFn as MetricFn
from mushin_nb.metrics.registry import PredictFn as PredictFn

__all__ = [
    "METRICS",
    "Battery",
    "evaluate",
    "evaluate_many",
    "register_task",
    "softmax_predict",
    "task_metrics",
]
