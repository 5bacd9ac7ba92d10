"""A notebook cell as a sweep task: the functions behind ``%%mushin``, usable without IPython.

The magic line is Hydra's override grammar (``lr=0.1,0.01 seed=range(0,5)``) plus a
few ``--options``; :func:`parse_sweep_line` turns it into sweep parameters.
:func:`run_cell_sweep` runs the cell body once per job through the sweep engine, with the
job's parameters bound as variables over a copy of the notebook's namespace, and returns
the sweep's ``xarray.Dataset`` (dimensions: the swept names, in the order given; one
variable per metric; fixed parameters in ``attrs``; a failed job is NaN).
A job's metrics are the cell's last expression when it is a dict, and the values given to
``mushin_nb.record(name=value)``.  :func:`load_sweep` and :func:`compare_sweep` serve
``%mushin load`` and ``%mushin compare``.

The parts: :mod:`~mushin_nb.notebook.cellsweep.parse` reads the lines,
:mod:`~mushin_nb.notebook.cellsweep.run` runs the cell and serves the line commands.
"""

from __future__ import annotations

from mushin_nb.notebook.cellsweep.parse import COMMANDS as COMMANDS
from mushin_nb.notebook.cellsweep.parse import DEFAULT_OUT as DEFAULT_OUT
from mushin_nb.notebook.cellsweep.parse import SweepOptions, parse_command, parse_sweep_line
from mushin_nb.notebook.cellsweep.run import CELL_FILE as CELL_FILE
from mushin_nb.notebook.cellsweep.run import compare_sweep, load_sweep, run_cell_sweep

__all__ = [
    "SweepOptions",
    "compare_sweep",
    "load_sweep",
    "parse_command",
    "parse_sweep_line",
    "run_cell_sweep",
]
