"""Figures drawn in a real Jupyter kernel (nbclient) ask the page for nothing outside the
machine; the self-contained fallback page has every script and style inline."""

from __future__ import annotations

import html
import re

import nbformat
import pytest
from nbclient import NotebookClient

from mushin_nb import plots

CDN = re.compile(r"https?://cdn\.(bokeh\.org|holoviz\.org)[^\s\"'<>]*")
# what the page would load: a script or stylesheet from anywhere but this page
EXTERNAL = re.compile(r"""<(script|link)[^>]+(src|href)=["']https?://""")

CELLS = [
    """
import numpy as np, xarray as xr
import mushin_nb
from mushin_nb.compare import BenchmarkResult
rng = np.random.default_rng(0)
acc = np.stack([rng.normal(m, 0.01, 5) for m in (0.96, 0.95, 0.90)])
ds = xr.Dataset({"accuracy": (("method", "seed"), acc)},
                coords={"method": ["cnn", "mlp", "linear"], "seed": range(5)})
result = BenchmarkResult.from_dataset(ds)
""",
    'result.plot("summary")',
    'result.plot("seeds")',
    'import hvplot.xarray\nds.accuracy.hvplot.line(x="seed", by="method")',
    "import panel as pn\nfrom holoviews.ipython import notebook_extension\n"
    "print(pn.config.inline, notebook_extension.inline)",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(source.strip()) for source in CELLS]
    NotebookClient(nb, timeout=180, resources={
        "metadata": {"path": str(tmp_path_factory.mktemp("nb"))}}).execute()
    return nb


def _outputs(cell):
    for output in cell.get("outputs", []):
        for mime, value in output.get("data", {}).items():
            yield mime, value if isinstance(value, str) else str(value)


def test_no_output_points_the_page_at_a_cdn(executed):
    for i, cell in enumerate(executed.cells[1:4], start=1):
        mimes = [mime for mime, _ in _outputs(cell)]
        assert "application/vnd.holoviews_exec.v0+json" in mimes, f"cell {i} drew no figure"
        for mime, text in _outputs(cell):
            assert not CDN.search(text), f"cell {i} ({mime}): {CDN.search(text).group()}"
    # the first figure of the kernel brought BokehJS with it, inline (megabytes, not a URL)
    loads = [len(text) for mime, text in _outputs(executed.cells[1])
             if mime == "application/javascript"]
    assert max(loads) > 1_000_000


def test_the_documented_settings_are_the_ones_changed(executed):
    out = "".join(o.get("text", "") for o in executed.cells[4].outputs)
    assert out.split() == ["True", "True"]


def test_outside_a_kernel_nothing_is_loaded_into_a_page():
    import panel as pn

    before = pn.config.inline
    assert plots.offline_notebook() is False
    assert pn.config.inline == before


def test_the_fallback_shows_a_self_contained_page(result):
    from IPython.core.formatters import DisplayFormatter

    formatter = DisplayFormatter()
    figure = plots.plot_summary(result)
    plots._notebook.fall_back(formatter)
    data, _ = formatter.format(figure)
    frame = data["text/html"]
    assert frame.startswith('<iframe srcdoc="')
    page = html.unescape(frame.split('srcdoc="', 1)[1].split('" style=', 1)[0])
    assert page.startswith("<!DOCTYPE html>") and "Bokeh" in page
    assert not EXTERNAL.search(page) and not CDN.search(page)
    assert not EXTERNAL.search(plots.standalone_html(plots.plot_seeds(result)))
