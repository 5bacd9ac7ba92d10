"""The default training loop: k seeds of one model trained at once, as if one by one.

:func:`train_seeds` trains one model per seed over stacked parameters (``torch.func``)
with the same weights as the reference loop, one seed after another.
"""

from __future__ import annotations

from mushin_nb.train._optim import OPTIMIZERS, StackedOptimizer
from mushin_nb.train._seeds import LOSSES, SeedModels, train_seeds

__all__ = ["LOSSES", "OPTIMIZERS", "SeedModels", "StackedOptimizer", "train_seeds"]
