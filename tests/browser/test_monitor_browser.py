"""SweepMonitor in JupyterLab + headless Chromium: cells go from running to done, live."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

JOBS = 6
FAILING = 4

SETUP = """
import time
from mushin_nb.progress import report
from mushin_nb.workflows import multirun, sweep

def task(lr):
    for step in range(1, 9):
        time.sleep(0.12)
        report(step=step, total=8, loss=lr / step, acc=step / 8)
    if abs(lr - 1e-4) < 1e-12:
        raise ValueError("<nan> loss")
    return {"loss": lr / 8}
"""

# A real sweep; progress=True gives the notebook's SweepMonitor, as a user gets it.
SWEEP = f"""
wf = sweep(task, {{"lr": multirun([10.0 ** -i for i in range({JOBS})])}},
           working_dir="runs/browser", title="browser sweep", progress=True)
"""

_FIRST_RUNNING = """() => {
  const cell = document.querySelector(".mushin-monitor .mnb-cell.r");
  return cell ? cell.dataset.index : null;
}"""


def test_job_cells_turn_from_running_to_done(lab, page, lab_helpers, tmp_path):
    lab.write_notebook("monitor_sweep.ipynb", [SETUP.strip(), SWEEP.strip()])
    lab_helpers.open_notebook(page, lab, "monitor_sweep.ipynb")
    lab_helpers.run_all_cells(page, "monitor_sweep.ipynb")

    monitor = page.locator(".mushin-monitor")
    monitor.wait_for(timeout=60_000)
    # the grid is drawn from the first state message, which may land after the view
    page.wait_for_function(
        f"() => document.querySelectorAll('.mushin-monitor .mnb-cell').length === {JOBS}",
        timeout=30_000)
    # live: a job is seen running...
    index = page.wait_for_function(_FIRST_RUNNING, timeout=60_000, polling=50).json_value()
    running = page.locator(f'.mushin-monitor .mnb-cell[data-index="{index}"]')
    assert "running" in running.get_attribute("title")
    page.wait_for_selector(".mushin-monitor .mnb-run .mnb-run-fill", timeout=10_000)
    monitor.screenshot(path=str(tmp_path / "running.png"))
    # ...and the same cell turns done (or failed, for the failing job)
    page.wait_for_selector(f'.mushin-monitor .mnb-cell[data-index="{index}"]:is(.d, .f)',
                           timeout=60_000)
    page.wait_for_selector('.mushin-monitor[data-finished="true"]', timeout=120_000)
    lab_helpers.wait_for_cells_done(page, "monitor_sweep.ipynb")

    assert page.locator(".mushin-monitor .mnb-cell.d").count() == JOBS - 1
    assert page.locator(".mushin-monitor .mnb-cell.f").count() == 1
    assert page.locator(".mushin-monitor .mnb-cell.r").count() == 0
    assert f"{JOBS}/{JOBS} jobs" in monitor.locator(".mnb-counts").inner_text()
    assert "stopped" in monitor.locator(".mnb-clock").inner_text()

    # the live curve: one line per job for the selected metric, and the selector switches it
    assert monitor.locator("select.mnb-metric option").all_inner_texts() == ["loss", "acc"]
    assert monitor.locator("svg.mnb-chart polyline").count() == JOBS
    monitor.locator("select.mnb-metric").select_option("acc")
    page.wait_for_function("""() => document.querySelector(
        '.mushin-monitor svg.mnb-chart polyline title').textContent.includes('acc =')""")

    # a failed job shows its error on its cell: tooltip, and the full text on click
    failed = page.locator(f'.mushin-monitor .mnb-cell[data-index="{FAILING}"]')
    assert "ValueError: <nan> loss" in failed.get_attribute("title")
    failed.click()
    assert "ValueError: <nan> loss" in monitor.locator(".mnb-detail pre.mnb-error").inner_text()

    # the static snapshot close() leaves under the widget (what a saved notebook shows)
    snapshot = page.locator(".mushin-snapshot")
    assert f"{JOBS} jobs, {JOBS - 1} done, 1 failed" in snapshot.inner_text()

    shot = tmp_path / "monitor.png"
    monitor.screenshot(path=str(shot))
    page.screenshot(path=str(tmp_path / "lab.png"), full_page=True)
    assert lab_helpers.png_is_not_blank(shot)
    assert _has_colour(shot, (0x43, 0xA0, 0x47)) and _has_colour(shot, (0xE5, 0x39, 0x35))
    assert not [e for e in page.console_errors if "sweep_monitor" in e or "anywidget" in e]


def _has_colour(path, rgb, tolerance=12) -> bool:
    """True when the screenshot holds the status colour ``rgb`` (done green, failed red)."""
    from PIL import Image

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    return any(all(abs(c - r) <= tolerance for c, r in zip(colour, rgb))
               for _, colour in colours)


GRID_500 = """
from mushin_nb.notebook.widgets import SweepMonitor
mon = SweepMonitor()
mon.start([f"seed={i}" for i in range(500)], title="five hundred")
for i in range(500):
    mon.job_start(i)
    for step in range(1, 6):
        mon.job_report(i, step, 5, {"loss": 1.0 / (step + i % 7)})
    if i % 50 == 7:
        mon.job_end(i, "failed", f"RuntimeError: job {i} <diverged>")
    elif i % 100 == 99:
        mon.job_end(i, "skipped")
    else:
        mon.job_end(i, "done")
mon.close(ok=False)
"""


def test_a_grid_of_500_jobs(lab, page, lab_helpers, tmp_path):
    lab.write_notebook("monitor_500.ipynb", [GRID_500.strip()])
    lab_helpers.run_notebook_in_lab(page, lab, "monitor_500.ipynb")
    monitor = page.locator(".mushin-monitor")
    page.wait_for_selector('.mushin-monitor[data-finished="true"]', timeout=60_000)
    assert monitor.locator(".mnb-grid.mnb-dense .mnb-cell").count() == 500
    assert monitor.locator(".mnb-cell.f").count() == 10
    assert monitor.locator(".mnb-cell.s").count() == 5
    assert monitor.locator(".mnb-cell.d").count() == 485
    assert "500/500 jobs" in monitor.locator(".mnb-counts").inner_text()
    # the curve keeps the most recent jobs only (max_curves), not 500 lines
    assert monitor.locator("svg.mnb-chart polyline").count() == 24
    assert "RuntimeError: job 57 <diverged>" in monitor.locator(
        '.mnb-cell[data-index="57"]').get_attribute("title")
    shot = tmp_path / "grid500.png"
    monitor.screenshot(path=str(shot))
    assert lab_helpers.png_is_not_blank(shot)


TUNE_SETUP = """
import time
from mushin_nb.tune import EpochTrainer, tune
from mushin_nb.workflows import multirun

class Slow(EpochTrainer):
    metric = "score"

    def create_model(self, params):
        self.q = params.q

    def train_epoch(self, epoch):
        time.sleep(0.15)
        return {"score": self.q * (epoch + 1)}

    def save(self, checkpoint):
        checkpoint.save_pickle(self.q)

    def load(self, checkpoint, params):
        self.q = checkpoint.load_pickle()
"""

# Rounds shared by two joblib workers: the tuning's own list shows every job, its epochs
# streamed from whichever worker trains it.
TUNE = """
results = tune(Slow(), {"q": multirun([0.1, 0.2, 0.3, 0.4])}, rounds=[2, 4],
               reduction=2, working_dir="runs/browser-tune", launcher="joblib",
               overrides=["hydra.launcher.n_jobs=2"], progress=True)
"""


def test_tuning_on_workers_shows_each_jobs_epochs(lab, page, lab_helpers, tmp_path):
    lab.write_notebook("monitor_tune.ipynb", [TUNE_SETUP.strip(), TUNE.strip()])
    lab_helpers.run_notebook_in_lab(page, lab, "monitor_tune.ipynb", timeout=240)
    monitor = page.locator(".mushin-monitor")
    page.wait_for_selector('.mushin-monitor[data-finished="true"]', timeout=60_000)
    assert monitor.locator(".mnb-cell").count() == 4
    assert monitor.locator(".mnb-cell.d").count() == 4
    assert "4/4 jobs" in monitor.locator(".mnb-counts").inner_text()
    # a curve for each job, drawn from the epochs the workers reported
    assert monitor.locator("select.mnb-metric option").all_inner_texts() == ["score"]
    points = [len(p.split()) for p in monitor.locator("svg.mnb-chart polyline").evaluate_all(
        "lines => lines.map(l => l.getAttribute('points'))")]
    assert sorted(points) == [2, 2, 4, 4]  # the two kept ones trained on to epoch 4
    shot = tmp_path / "tune.png"
    monitor.screenshot(path=str(shot))
    assert lab_helpers.png_is_not_blank(shot)
