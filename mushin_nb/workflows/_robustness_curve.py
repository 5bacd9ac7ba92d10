"""``RobustnessCurve``: a metrics workflow over a perturbation size ``epsilon``, and its plot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mushin_nb.errors import MushinKeyError
from mushin_nb.workflows._metrics_workflow import MultiRunMetricsWorkflow
from mushin_nb.workflows._multirun import multirun

__all__ = ["RobustnessCurve"]


class RobustnessCurve(MultiRunMetricsWorkflow):
    """A metrics workflow over a perturbation size ``epsilon`` (the fastest-varying axis).

    Examples
    --------
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> class Curve(RobustnessCurve):
    ...     @staticmethod
    ...     def task(epsilon):
    ...         return {"acc": 1.0 - epsilon}
    >>> wf = Curve()
    >>> wf.run(epsilon=[0.5, 0.0, 0.25], working_dir=tmp.name,
    ...        progress=False)  # doctest: +ELLIPSIS
    mushin_nb: 3 jobs in ...: 3 done
    >>> wf.to_xarray().acc.values.tolist()
    [1.0, 0.75, 0.5]
    >>> tmp.cleanup()
    """

    def run(self, *, epsilon: str | Sequence[float], **kwargs: Any) -> None:  # type: ignore[override]
        """Run over ``epsilon`` (a sequence of values, or an override string such as
        ``"0,0.1,0.2"``) and the other parameters; see :meth:`MultiRunMetricsWorkflow.run`."""
        if not isinstance(epsilon, str):
            epsilon = multirun(list(epsilon))
        # epsilon last: the trailing (fastest-varying) dimension of the results
        super().run(**kwargs, epsilon=epsilon)

    def to_xarray(self, include_working_subdirs_as_data_var: bool = False,
                  coord_from_metrics: str | None = None,
                  non_multirun_params_as_singleton_dims: bool = False,
                  metrics_filename: str | Sequence[str] | None = None) -> Any:
        """As :meth:`MultiRunMetricsWorkflow.to_xarray`, sorted by ``epsilon``."""
        return super().to_xarray(
            include_working_subdirs_as_data_var=include_working_subdirs_as_data_var,
            coord_from_metrics=coord_from_metrics,
            non_multirun_params_as_singleton_dims=non_multirun_params_as_singleton_dims,
            metrics_filename=metrics_filename).sortby("epsilon")

    def plot(self, metric: str, ax: Any = None, group: str | None = None,
             save_filename: str | None = None,
             non_multirun_params_as_singleton_dims: bool = False, **kwargs: Any) -> Any:
        """Plot ``metric`` against ``epsilon`` (one line per value of ``group``).

        Parameters
        ----------
        metric : str
            A metric returned by the task.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        group : str, optional
            A parameter whose values get one line each (needed when more than
            ``epsilon`` was swept).
        save_filename : str, optional
            Also save the figure there.
        non_multirun_params_as_singleton_dims : bool
            As for ``to_xarray``.
        **kwargs
            Passed to ``xarray``'s plotting.

        Returns
        -------
        list
            The plotted line artists (one list per group).
        """
        import matplotlib.pyplot as plt

        xdata = self.to_xarray(
            non_multirun_params_as_singleton_dims=non_multirun_params_as_singleton_dims)
        if metric not in xdata.data_vars:
            raise MushinKeyError(f"`metric` must be one of {sorted(xdata.data_vars)}, got "
                                 f"{metric!r}. Fix: pass a name the task returns")
        if group is not None and group not in xdata.coords:
            raise MushinKeyError(f"`group` must be one of {sorted(xdata.coords)}, got "
                                 f"{group!r}. Fix: pass a swept parameter")
        if ax is None:
            _, ax = plt.subplots()
        if group is None:
            plots = xdata[metric].plot.line(x="epsilon", ax=ax, **kwargs)
        else:
            plots = [grp[metric].squeeze().plot(x="epsilon", label=str(name), ax=ax, **kwargs)
                     for name, grp in xdata.groupby(group)]
            ax.legend(title=group)
        if save_filename is not None:
            ax.figure.savefig(save_filename)
        return plots
