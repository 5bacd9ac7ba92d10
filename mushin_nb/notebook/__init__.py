"""The notebook layer: ``%%mushin`` magics, the SweepMonitor and StudyBuilder widgets.

Nothing is imported here, so ``import mushin_nb.notebook`` stays free of ipywidgets;
import ``mushin_nb.notebook.widgets`` (or use ``mushin_nb.SweepMonitor``) for the widgets.
"""
