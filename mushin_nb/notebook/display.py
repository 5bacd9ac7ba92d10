"""The display choice of a sweep's live progress: the SweepMonitor inside a Jupyter kernel.

:func:`mushin_nb.progress.sweep_progress` asks this module (through the package's hook,
as ``tqdm.auto`` picks ``tqdm.notebook``) and falls back to a text bar when it answers None.
"""

from __future__ import annotations

from typing import Any

__all__ = ["auto_display", "in_notebook_kernel"]


def in_notebook_kernel() -> bool:
    """True inside a Jupyter kernel (a ZMQ shell), where widgets can be displayed."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def auto_display() -> Any:
    """A displayed :class:`SweepMonitor` inside a kernel, else None (text progress).

    Examples
    --------
    >>> auto_display() is None  # not in a Jupyter kernel
    True
    """
    if not in_notebook_kernel():
        return None
    try:
        from mushin_nb.notebook.widgets import SweepMonitor

        return SweepMonitor(display=True)
    except Exception:  # any widget trouble falls back to text, as tqdm.auto does
        return None
