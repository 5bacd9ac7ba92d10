"""Building blocks of (Byzantine-robust) training loops, after the LPD-EPFL experiments.

``Configuration`` (device, dtype), ``Model`` (parameters and gradients as flat vectors),
``Dataset`` (endless batches), ``Loss`` / ``Criterion``, ``Optimizer``, ``Checkpoint`` /
``Storage``, dataset helpers, registries of models and datasets, the embedded
``"digits"`` dataset, and the aggregation rules ``average``, ``median``, ``krum``,
``multi_krum`` (the module ``aggregators`` is also their registry: ``aggregators["krum"]``).

Examples
--------
>>> from mushin_nb.experiments import Configuration, Model, Dataset, Loss, Optimizer
>>> config = Configuration("cpu")
>>> model = Model("digits-mlp", config, seed=0)
>>> trainset = Dataset("digits", train=True, batch_size=64, seed=0)
>>> optimizer = Optimizer("sgd", model, lr=0.5)
>>> loss = Loss("crossentropy")
>>> for _ in range(3):
...     gradient = model.backprop(trainset, loss)
...     model.update(gradient, optimizer)
"""

from mushin_nb.experiments import aggregators
from mushin_nb.experiments import zoo as _zoo  # noqa: F401  registers the built-in models
from mushin_nb.experiments.aggregators import average, krum, median, multi_krum
from mushin_nb.experiments.checkpoint import Checkpoint, Storage
from mushin_nb.experiments.configuration import Configuration
from mushin_nb.experiments.dataset import (
    Dataset,
    batch_dataset,
    get_default_transform,
    make_datasets,
    make_sampler,
)
from mushin_nb.experiments.digits import digits_loaders, digits_tensors
from mushin_nb.experiments.loss import Criterion, Loss
from mushin_nb.experiments.model import Model
from mushin_nb.experiments.optimizer import Optimizer
from mushin_nb.experiments.registry import (
    datasets,
    discover,
    models,
    register_dataset,
    register_model,
)

__all__ = [
    "Configuration",
    "Model",
    "Dataset",
    "Loss",
    "Criterion",
    "Optimizer",
    "Checkpoint",
    "Storage",
    "make_datasets",
    "batch_dataset",
    "make_sampler",
    "get_default_transform",
    "digits_loaders",
    "digits_tensors",
    "register_model",
    "register_dataset",
    "discover",
    "models",
    "datasets",
    "average",
    "median",
    "krum",
    "multi_krum",
    "aggregators",
]
