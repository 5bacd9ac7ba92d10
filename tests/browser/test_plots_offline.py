"""Interactive plots draw in JupyterLab (run, then reopened from disk) and in the exported
report, with nothing reachable outside the machine: every request to a host other than
localhost is blocked (Playwright ``route``), and each figure must hold a drawn canvas of
many colours, its data among them.

Screenshots of each output land in ``$MUSHIN_NB_SHOTS`` when it is set (else in tmp).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

SETUP = """
import numpy as np, xarray as xr
import mushin_nb
from mushin_nb.compare import BenchmarkResult
rng = np.random.default_rng(0)
acc = np.stack([rng.normal(m, 0.01, 6) for m in (0.96, 0.95, 0.90)])
ds = xr.Dataset({"accuracy": (("method", "seed"), acc), "ece": (("method", "seed"), 1 - acc)},
                coords={"method": ["cnn", "mlp", "linear"], "seed": range(6)})
result = BenchmarkResult.from_dataset(ds)
eps = [0.0, 0.05, 0.1, 0.2]
curve = xr.Dataset({"accuracy": (("epsilon", "seed"), 0.95 - np.outer(eps, np.ones(4))
                                 + rng.normal(0, 0.01, (4, 4)))},
                   coords={"epsilon": eps, "seed": range(4)})
"""

# one cell per plot kind, in the order a user meets them; the bare hvplot comes last
PLOTS = {
    "summary": 'result.plot("summary")',
    "pvalues": 'result.plot("pvalues", metric="accuracy")',
    "seeds": 'result.plot("seeds")',
    "curve": 'mushin_nb.plot_curve(curve, "accuracy", "epsilon")',
    "bare": 'import hvplot.xarray\nds.accuracy.hvplot.line(x="seed", by="method")',
}

MIN_COLOURS = 12  # a drawn figure has axes, glyphs and antialiased text; a blank one 1-3
MIN_GLYPH_PIXELS = 40  # axes and text are grey; the data is drawn in colour


def _glyph_pixels(path: Path) -> int:
    """Pixels of a saturated colour: the figure's data, not its axes, ticks or labels."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=int)
    return int(((pixels.max(axis=2) - pixels.min(axis=2)) > 60).sum())


def _local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname in (
        "127.0.0.1", "localhost", "::1")


def _offline(page) -> list[str]:
    """Abort every request that would leave the machine; return the list they land in."""
    blocked: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if _local(url):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    page.context.route("**/*", route)
    return blocked


@pytest.fixture
def shots(tmp_path) -> Path:
    where = Path(os.environ.get("MUSHIN_NB_SHOTS", tmp_path))
    where.mkdir(parents=True, exist_ok=True)
    return where


def _drawn(locator, path: Path, png_is_not_blank) -> None:
    """``locator`` holds a canvas whose picture is not one flat colour."""
    canvas = locator.locator("canvas").first  # Playwright's CSS pierces bokeh's shadow DOM
    canvas.wait_for(state="visible", timeout=60_000)
    locator.page.wait_for_timeout(500)  # let the first frame paint
    locator.screenshot(path=str(path))
    canvas.screenshot(path=str(path.with_suffix(".canvas.png")))
    assert png_is_not_blank(path.with_suffix(".canvas.png"), MIN_COLOURS), \
        f"{path.stem}: the canvas is blank"
    glyphs = _glyph_pixels(path.with_suffix(".canvas.png"))
    assert glyphs >= MIN_GLYPH_PIXELS, f"{path.stem}: axes without data ({glyphs} pixels)"


def test_every_plot_kind_draws_offline_in_jupyterlab(lab, page, lab_helpers, shots):
    blocked = _offline(page)
    path = "plots_offline.ipynb"
    lab.write_notebook(path, [SETUP.strip(), *PLOTS.values()])
    lab_helpers.run_notebook_in_lab(page, lab, path)
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    for i, kind in enumerate(PLOTS, start=1):
        output = cells.nth(i).locator(".jp-OutputArea-output").last
        output.scroll_into_view_if_needed()
        _drawn(output, shots / f"lab_{kind}.png", lab_helpers.png_is_not_blank)
    page.screenshot(path=str(shots / "lab_page.png"), full_page=True)
    assert blocked == [], f"requests that would have left the machine: {blocked[:5]}"

    # saved and opened again from disk, without running a cell: the outputs draw as saved
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(f"""() => !Array.from(window.jupyterapp.shell.widgets('main'))
        .some((w) => w.context && w.context.path === {path!r} && w.context.model.dirty)""")
    page.goto(lab.tree_url(path) + "&reset")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    for i, kind in enumerate(PLOTS, start=1):
        output = cells.nth(i).locator(".jp-OutputArea-output").last
        output.scroll_into_view_if_needed()
        _drawn(output, shots / f"reopened_{kind}.png", lab_helpers.png_is_not_blank)
    assert blocked == [], f"requests that would have left the machine: {blocked[:5]}"


def test_the_exported_report_draws_offline(lab, page, lab_helpers, shots, tmp_path):
    import numpy as np
    import xarray as xr

    from mushin_nb._demo import _report
    from mushin_nb.compare import BenchmarkResult

    rng = np.random.default_rng(0)
    acc = np.stack([rng.normal(m, 0.01, 6) for m in (0.96, 0.95, 0.90)])
    ds = xr.Dataset({"accuracy": (("method", "seed"), acc)},
                    coords={"method": ["cnn", "mlp", "linear"], "seed": range(6)})
    _report(BenchmarkResult.from_dataset(ds), lab.root)
    blocked = _offline(page)
    page.goto(f"{lab.url}files/report.html?token={lab.token}")
    figures = page.locator(".bk-Figure, .bk-Canvas").first
    figures.wait_for(timeout=60_000)
    page.wait_for_function("() => document.readyState === 'complete'")
    canvases = page.locator("canvas")
    page.wait_for_timeout(1000)
    count = canvases.count()
    assert count >= 3, f"{count} canvases in report.html; the three figures need three"
    for i in range(count):
        canvases.nth(i).scroll_into_view_if_needed()
        canvases.nth(i).screenshot(path=str(shots / f"report_{i}.png"))
    drawn = [lab_helpers.png_is_not_blank(shots / f"report_{i}.png", MIN_COLOURS)
             and _glyph_pixels(shots / f"report_{i}.png") >= MIN_GLYPH_PIXELS
             for i in range(count)]
    page.screenshot(path=str(shots / "report_page.png"), full_page=True)
    assert sum(drawn) >= 3, f"blank canvases in report.html: {drawn}"
    assert blocked == [], f"requests that would have left the machine: {blocked[:5]}"
