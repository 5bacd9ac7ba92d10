"""The ``%%mushin`` / ``%mushin`` magics: a thin IPython shell over the cell-sweep engine.

``%load_ext mushin_nb`` registers them.  This module imports only IPython: the sweep
machinery (hydra, xarray) is imported when a magic first runs.

- ``%%mushin lr=0.1,0.01 seed=range(0,5) [--out NAME] [--working-dir DIR]
  [--launcher NAME] [--no-resume] [--raise]``: the cell is the task of a sweep; the
  Dataset is stored in ``NAME`` (default ``_mushin``) and displayed.
- ``%mushin load DIR [--out NAME]``: reload a sweep from its working directory.
- ``%mushin compare NAME [--over seed] [--by DIM] [--test welch] [--alpha 0.05]
  [--out NAME]``: significance tests on a sweep Dataset; shows the summary and the
  Holm p-value matrix, stores the result in ``NAME`` (default ``_mushin_compare``).
- ``%mushin plan NAME [--over seed] [--by DIM] [--test welch] [--alpha 0.05] [--power 0.8]
  [--effect E] [--out NAME]``: the seed plan of the same comparison (detectable effect at
  the current seeds, seeds needed for the observed difference or ``--effect``), stored in
  ``NAME`` (default ``_mushin_plan``).
"""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

__all__ = ["MushinMagics", "load_ipython_extension"]


@magics_class
class MushinMagics(Magics):
    """``%%mushin`` runs a cell as a sweep; ``%mushin load|compare`` works on results."""

    @line_cell_magic
    def mushin(self, line: str, cell: str | None = None) -> None:
        """Run the cell as a sweep over the line's Hydra overrides, or a line command."""
        from mushin_nb.errors import MushinSyntaxError

        try:
            self._run(line, cell)
        except MushinSyntaxError as exc:  # the caret in the message is the story, not our frames
            raise exc.with_traceback(None) from None

    def _run(self, line: str, cell: str | None) -> None:
        from IPython.display import display

        from mushin_nb.notebook import cellsweep

        namespace = self.shell.user_ns
        if cell is None:
            command, args, options = cellsweep.parse_command(line)
            if command == "load":
                namespace[options["out"]] = ds = cellsweep.load_sweep(args[0])
                display(ds)
                return
            ds = _lookup(namespace, args[0])
            result = cellsweep.compare_sweep(ds, over=options["over"], by=options["by"],
                                             test=options["test"], alpha=options["alpha"])
            if command == "plan":
                namespace[options["out"]] = table = result.plan(power=options["power"],
                                                                effect=options["effect"])
                _show_plan(table, options["power"])
                return
            namespace[options["out"]] = result
            _show_comparison(result)
            return
        params, options = cellsweep.parse_sweep_line(line)
        ds = cellsweep.run_cell_sweep(
            self.shell.transform_cell(cell), params, namespace=namespace, out=options.out,
            working_dir=options.working_dir, launcher=options.launcher, resume=options.resume,
            raise_on_failure=options.raise_on_failure, gpus_per_job=options.gpus_per_job)
        display(ds)


def _lookup(namespace: dict[str, Any], name: str) -> Any:
    from mushin_nb.errors import MushinKeyError

    if name not in namespace:
        known = sorted(k for k, v in namespace.items()
                       if type(v).__name__ == "Dataset" and not k.startswith("_"))
        raise MushinKeyError(f"`NAME` must name a sweep Dataset in the notebook, got {name!r}. "
                             f"Fix: run a %%mushin cell first (its --out name), or use one of "
                             f"{known}")
    return namespace[name]


def _show_comparison(result: Any) -> None:
    from IPython.display import Markdown, display

    from mushin_nb.plots import pvalue_matrix

    display(Markdown("**Summary** (`*`: differs from the reference after Holm correction)"))
    display(result.summary())
    display(Markdown("**Holm-adjusted p-values**"))
    display(pvalue_matrix(result))


def _show_plan(table: Any, power: float) -> None:
    from IPython.display import Markdown, display

    display(Markdown(f"**Seed plan** (power {power:g} at each comparison's Holm level: the "
                     "difference the current seeds detect, and the seeds per method the "
                     "observed difference needs)"))
    display(table)


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics on ``ipython`` (what ``%load_ext mushin_nb`` calls)."""
    ipython.register_magics(MushinMagics)
