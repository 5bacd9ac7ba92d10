"""The notebook layer: ``%%mushin`` magics, the SweepMonitor and StudyBuilder widgets.

Nothing is imported here, so ``import mushin_nb.notebook`` stays free of ipywidgets;
import ``mushin_nb.notebook.widgets`` (or use ``mushin_nb.SweepMonitor``) for the widgets.

The parts: ``magics`` (``%%mushin`` and ``%mushin``), ``cellsweep`` (their engine, usable
without IPython: ``parse`` the lines, ``run`` the cell), ``widgets`` (the SweepMonitor, with
its state in ``_monitor_state`` and its static picture in ``_snapshot``), ``display`` (the
notebook's choice of live display), ``builder`` (the StudyBuilder: form, run, views, and
the default trainer), ``_seeds`` (seed lists as text).
"""
