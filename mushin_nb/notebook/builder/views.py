"""What the StudyBuilder shows: the result tabs (summary, comparisons, plots, code), the
code box and errors as HTML."""

from __future__ import annotations

import html
import traceback
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets


def _html_error(text: str) -> str:
    return f"<span style='color:#c62828'>{html.escape(text)}</span>" if text else ""


def _error_html(exc: BaseException) -> str:
    """The exception in red, its traceback folded under it (all escaped)."""
    line = "".join(traceback.format_exception_only(type(exc), exc))
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return (f"<pre style='color:#c62828;white-space:pre-wrap'>{html.escape(line)}</pre>"
            f"<details><summary>traceback</summary><pre style='white-space:pre-wrap'>"
            f"{html.escape(trace)}</pre></details>")


class _Views:
    """The displays of a :class:`~mushin_nb.notebook.builder.StudyBuilder`: the code box
    and the result tabs (the form's widgets and its code come from the other parts)."""

    def _code_html(self) -> str:
        if self._errors:
            return _html_error(self._invalid())
        return f"<pre style='margin:4px 0'>{html.escape(self._code_text())}</pre>"

    def _toggle_code(self) -> None:
        self.code_box.layout.display = "none" if self.code_box.layout.display != "none" else ""
        self._update()

    # ------------------------------------------------------------------ results
    def _show_results(self, result: Any) -> None:
        W = widgets  # noqa: N806
        summary = W.HTML(result._repr_html_())
        summary.add_class("mushin-builder-summary")
        table = result.comparisons.round(4).to_html(index=False, escape=True,
                                                     classes="mushin-comparisons")
        comparisons = W.HTML(f"<div style='overflow-x:auto'>{table}</div>")
        metric = W.Dropdown(options=result.metrics, value=result.metrics[0],
                            description="Metric")
        images = W.VBox([])

        def draw(change: Any = None) -> None:
            images.children = tuple(_plot_widget(result, kind, metric.value)
                                    for kind in ("summary", "pvalues", "seeds"))

        metric.observe(lambda change: self._safely_plot(draw), names="value")
        draw()
        code = W.HTML(f"<pre>{html.escape(self.code())}</pre>")
        code.add_class("mushin-builder-code-tab")
        self.results.children = (summary, comparisons, W.VBox([metric, images]), code)
        self.results.titles = ("Summary", "Comparisons", "Plots", "Show code")
        self.results.selected_index = 0
        self.results.layout.display = ""

    def _safely_plot(self, draw: Callable[[], None]) -> None:
        self._safely("Plots", draw)


def _plot_widget(result: Any, kind: str, metric: str) -> Any:
    """One static plot of ``result`` as a PNG image widget (or the reason it is missing)."""
    import io

    try:
        figure = result.plot(kind, metric=metric, backend="matplotlib")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90)
    except Exception as exc:  # e.g. a p-value matrix of a single method
        return widgets.HTML(_html_error(f"{kind} plot: {exc}"))
    image = widgets.Image(value=buffer.getvalue(), format="png",
                          layout=widgets.Layout(max_width="640px"))
    image.add_class(f"mushin-builder-plot-{kind}")
    return image
