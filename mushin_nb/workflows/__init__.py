"""Sweeps on Hydra that come back as labeled Datasets, survive crashes and launch fast.

``sweep(task_fn, params)`` runs a function over a grid; the workflow classes keep the
public behaviour of ``rai_toolbox.mushin`` (change only the import).  Every job writes a
result record, so ``load_from_dir`` rebuilds a sweep with no task code and a re-run over
the same ``working_dir`` only runs what is missing.
"""

from mushin_nb.errors import JobSkipped
from mushin_nb.workflows._base_workflow import BaseWorkflow, Failure
from mushin_nb.workflows._launcher import check_launcher
from mushin_nb.workflows._metrics_workflow import MultiRunMetricsWorkflow, load_from_dir
from mushin_nb.workflows._multirun import hydra_list, multirun
from mushin_nb.workflows._placement import check_gpus_per_job, visible_devices
from mushin_nb.workflows._robustness_curve import RobustnessCurve
from mushin_nb.workflows._sweep import sweep

__all__ = [
    "BaseWorkflow",
    "Failure",
    "JobSkipped",
    "MultiRunMetricsWorkflow",
    "RobustnessCurve",
    "check_gpus_per_job",
    "check_launcher",
    "hydra_list",
    "load_from_dir",
    "multirun",
    "sweep",
    "visible_devices",
]
