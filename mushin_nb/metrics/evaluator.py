"""The single-pass evaluator: every model scored on every batch of one read of the data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from mushin_nb.errors import MushinTypeError, bad_value
from mushin_nb.metrics.battery import Battery, compute_together, update_together
from mushin_nb.metrics.registry import PredictFn, _task


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
    return _slices(data) or data


def _slices(data: Any) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """A DataLoader's batches as slices of its TensorDataset's two tensors, when it reads
    them in order with the default collation (the same batches, without building each
    from its samples); None for any other data."""
    from torch.utils.data import DataLoader, SequentialSampler, TensorDataset, default_collate

    if not (isinstance(data, DataLoader) and isinstance(data.dataset, TensorDataset)
            and len(data.dataset.tensors) == 2 and isinstance(data.sampler, SequentialSampler)
            and data.batch_size is not None and data.collate_fn is default_collate):
        return None
    x, y = data.dataset.tensors
    size, n = data.batch_size, len(x)
    stop = n - n % size if data.drop_last else n
    return [(x[i:i + size], y[i:i + size]) for i in range(0, stop, size)]


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
            self._set(False)

    def _set(self, training: bool | None) -> None:
        """Every module in eval mode (``False``) or back as it was (``None``); a module
        with a ``train`` of its own is told through it, the others by their flag."""
        for module, was in self.modes:
            mode = was if training is None else training
            if type(module).train is torch.nn.Module.train:
                module.__dict__["training"] = mode  # nn.Module.__setattr__ costs more
            else:
                module.train(mode)

    def restore(self) -> None:
        self._set(None)
        if self.home is not None and self.device != self.home:
            self.model.to(self.home)


def evaluate_many(models: Mapping[str, Any], data: Iterable[Any], *, num_classes: int,
                  task: str = "classification", metrics: Any = None,
                  predict_fn: PredictFn | None = None, ignore_index: int | None = None,
                  device: Any = None, vectorize: bool = False) -> dict[str, dict[str, float]]:
    """Score several models in one pass over ``data``.

    Each batch is read once; every model does one forward pass on it (on its own device,
    under ``torch.inference_mode()``, in eval mode, restored afterwards) and that one output
    feeds all metrics of the model's :class:`Battery`.  ``data`` may therefore be a one-shot
    iterator.  With ``vectorize=True``, modules of one structure (the seeds of one
    architecture) share one vmapped forward pass per batch
    (:class:`mushin_nb.train.StackedForward`) when the task's own ``predict_fn`` is used;
    the values are those of one model at a time.

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
    vectorize : bool
        Let modules of one structure share one vmapped forward pass (their own
        ``forward`` is then not called; vmap runs a stateless copy).

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
        stacked = _stacked(prepared) if vectorize and predict_fn is None else []
        alone = [name for name in prepared if not any(name in names for names, _ in stacked)]
        seen = 0
        with torch.inference_mode():
            for batch in batches:
                inputs, targets = _split(batch)
                seen += 1
                outputs: list[tuple[str, Any, Any]] = [
                    (name, prepared[name].model, prepared[name].device) for name in alone]
                for names, forward in list(stacked):
                    where = prepared[names[0]].device
                    out = _try(forward, _move(inputs, where))
                    if out is None:  # vmap cannot run it, or not a tensor: one at a time
                        stacked.remove((names, forward))
                        alone += names
                        outputs += [(n, prepared[n].model, prepared[n].device) for n in names]
                        continue
                    # the task's predict_fn on the k outputs at once, the k updates together
                    probs = _probs(predict, _Output(out.flatten(0, 1)), inputs)
                    update_together([batteries[n] for n in names],
                                    probs.unflatten(0, out.shape[:2]), torch.as_tensor(targets))
                for name, model, where in outputs:
                    probs = _probs(predict, model, _move(inputs, where))
                    batteries[name].update(probs, torch.as_tensor(targets))
    finally:
        for prep in prepared.values():
            prep.restore()
    if seen == 0:
        raise bad_value("data", data, "a non-empty iterable of (inputs, targets) batches",
                        "check the DataLoader / dataset is not empty")
    together: dict[str, dict[str, float]] = {}  # a stacked group at once, as it was fed
    for names, _ in stacked:
        together.update(zip(names, compute_together([batteries[n] for n in names])))
    return {name: together[name] if name in together else battery.compute()
            for name, battery in batteries.items()}


def _probs(predict: PredictFn, model: Any, inputs: Any) -> torch.Tensor:
    probs = predict(model, inputs)
    if not isinstance(probs, torch.Tensor):
        raise bad_value("predict_fn", probs, "a function returning a tensor of "
                        "probabilities (N, num_classes, ...)", cls=MushinTypeError)
    return probs


class _Output:
    """Stands for a model whose output on this batch is already known."""

    def __init__(self, output: torch.Tensor) -> None:
        self.output = output

    def __call__(self, inputs: Any) -> torch.Tensor:
        return self.output


def _try(forward: Any, inputs: Any) -> torch.Tensor | None:
    try:
        out = forward(inputs)
    except Exception:  # noqa: BLE001 - whatever vmap refuses, the models run one by one
        return None
    return out if isinstance(out, torch.Tensor) else None


def _stacked(prepared: dict[str, _Prepared]) -> list[tuple[list[str], Any]]:
    """Groups of two or more modules of one structure, each with its stacked forward."""
    from mushin_nb.train import StackedForward, same_structure_groups

    names = list(prepared)
    groups = same_structure_groups([prepared[n].model for n in names])
    return [([names[i] for i in g], StackedForward([prepared[names[i]].model for i in g]))
            for g in groups if len(g) > 1]


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
