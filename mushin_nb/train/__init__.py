"""The default training loop: k seeds of one model trained at once, as if one by one.

:func:`train_seeds` trains one model per seed over stacked parameters (``torch.func``)
with the same weights as the reference loop, one seed after another; :class:`SeedTrainer`
makes it a :class:`~mushin_nb.study.Study` method (one job trains all missing seeds);
:class:`StackedForward` evaluates k models of one structure in one forward pass.
"""

from __future__ import annotations

from mushin_nb.train._forward import StackedForward, same_structure_groups
from mushin_nb.train._optim import OPTIMIZERS, StackedOptimizer
from mushin_nb.train._seeds import LOSSES, SeedModels, train_seeds
from mushin_nb.train._trainer import SeedTrainer

__all__ = ["LOSSES", "OPTIMIZERS", "SeedModels", "SeedTrainer", "StackedForward",
           "StackedOptimizer", "same_structure_groups", "train_seeds"]
