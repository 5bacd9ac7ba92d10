"""Trainers and tuning with investment rounds.

Write a :class:`SimpleTrainer` (one fit per candidate, scikit-learn style) or an
:class:`EpochTrainer` (epoch by epoch, networks and boosting), then call :func:`tune`
with the candidate parameters.  With an EpochTrainer every candidate trains a little,
and only the best ``1 / reduction`` of them advance to the next, longer round,
continuing from their checkpoints: most of the compute goes to the promising ones.

Examples
--------
>>> import tempfile
>>> class Peak(SimpleTrainer):
...     metric = "score"
...     def train(self, params):
...         return None, {"score": -(params.x - 3) ** 2}
>>> with tempfile.TemporaryDirectory() as tmp:
...     results = tune(Peak(), [{"x": x} for x in range(6)], working_dir=tmp, progress=False)
>>> results.best.params.x, results.best.metric_value
(3, 0.0)
"""

import sys
import types
from typing import Any

from mushin_nb.tune._params import Params
from mushin_nb.tune._results import Candidate, Epoch, Run, TuneResults
from mushin_nb.tune._runner import tune
from mushin_nb.tune._trainer import Checkpoint, EpochTrainer, SimpleTrainer

__all__ = [
    "Candidate",
    "Checkpoint",
    "Epoch",
    "EpochTrainer",
    "Params",
    "Run",
    "SimpleTrainer",
    "TuneResults",
    "tune",
]


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`tune`.

    ``mushin_nb.tune`` names the function, but importing this subpackage (``from mushin_nb
    import EpochTrainer``) rebinds the package attribute to the module; calling it still tunes.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> TuneResults:
        return tune(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
