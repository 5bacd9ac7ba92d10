"""StudyBuilder in JupyterLab + headless Chromium: pick two methods and three seeds, Run,
read the summary tab; then a longer run stopped midway keeps what finished."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

FIXTURE = Path(__file__).resolve().parents[1] / "notebooks" / "builder_two_methods.ipynb"
NOTEBOOK = "builder_browser.ipynb"
RUN_ENABLED = "() => !document.querySelector('.mushin-builder button.mushin-builder-run').disabled"


def _text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def test_pick_run_read_the_summary_then_stop_a_second_run(lab, page, lab_helpers, tmp_path):
    shutil.copy(FIXTURE, lab.root / NOTEBOOK)
    lab_helpers.run_notebook_in_lab(page, lab, NOTEBOOK)
    builder = page.locator(".mushin-builder")
    builder.wait_for(timeout=60_000)
    run = builder.locator("button.mushin-builder-run")
    stop = builder.locator("button.mushin-builder-stop")
    assert run.is_disabled() and stop.is_disabled()  # no method picked yet
    assert "pick at least one method" in _text(page, ".mushin-builder-message-methods")

    # the form: both methods, three seeds, a working dir of its own
    methods = builder.locator(".mushin-builder-methods select")
    assert methods.locator("option").all_inner_texts() == ["train_wide", "train_narrow"]
    methods.select_option(label=["train_wide", "train_narrow"])
    builder.locator(".mushin-builder-seeds input").fill("0")
    page.wait_for_function("() => document.querySelector('.mushin-builder-message-seeds')"
                           ".innerText.includes('at least 2 seeds')", timeout=20_000)
    assert run.is_disabled()
    builder.locator(".mushin-builder-seeds input").fill("0-2")
    builder.locator(".mushin-builder-working-dir input").fill("builder_study")
    page.wait_for_function(RUN_ENABLED, timeout=20_000)
    assert _text(page, ".mushin-builder-message-seeds") == ""

    run.click()
    builder.locator(".mushin-builder-monitor .mushin-monitor").wait_for(timeout=60_000)
    summary = builder.locator(".mushin-builder-summary")
    summary.wait_for(timeout=150_000)
    text = summary.inner_text()
    assert "BenchmarkResult: 2 methods x 3 seeds, 6 metrics" in text
    assert "reference='train_wide'" in text
    assert re.search(r"train_narrow\s+accuracy\s+0\.\d+", text)
    tabs = builder.locator(".mushin-builder-results .lm-TabBar-tab").all_inner_texts()
    assert [t.strip() for t in tabs] == ["Summary", "Comparisons", "Plots", "Show code"]
    assert re.match(r"done in [\d.]+ s$", _text(page, ".mushin-builder-status"))
    shot = tmp_path / "builder.png"
    builder.screenshot(path=str(shot))
    assert lab_helpers.png_is_not_blank(shot)

    # the plots tab shows three images; the code tab the Study(...) call
    builder.locator(".mushin-builder-results .lm-TabBar-tab", has_text="Plots").click()
    images = builder.locator(".mushin-builder-results img")
    images.first.wait_for(timeout=20_000)
    assert images.count() == 3
    builder.locator(".mushin-builder-results .lm-TabBar-tab", has_text="Show code").click()
    code = builder.locator(".mushin-builder-code-tab")
    code.wait_for(timeout=20_000)
    assert "seeds=[0, 1, 2]," in code.inner_text()
    assert "working_dir='builder_study'," in code.inner_text()

    # a second run over six seeds: the first three are kept; Stop ends it midway
    builder.locator(".mushin-builder-seeds input").fill("0-5")
    page.wait_for_function(RUN_ENABLED, timeout=20_000)
    run.click()
    running = builder.locator(".mushin-builder-monitor .mnb-cell.r")
    running.first.wait_for(timeout=120_000)
    # the trainings of the first run are skipped, not redone
    assert builder.locator(".mushin-builder-monitor .mnb-cell.s").count() == 6
    stop.click()
    page.wait_for_function("() => document.querySelector('.mushin-builder-status')"
                           ".innerText.startsWith('stopped in')", timeout=150_000)
    status = _text(page, ".mushin-builder-status")
    left = int(re.search(r"(\d+) training\(s\) left out", status).group(1))
    assert 1 <= left <= 5  # the running training finished; the others were skipped
    summary.wait_for(timeout=30_000)
    text = summary.inner_text()
    # trainings run method by method (train_wide's seeds 3-5, then train_narrow's): a seed
    # that no method reached is no column of the result
    seeds = 6 if left <= 3 else 9 - left
    assert f"BenchmarkResult: 2 methods x {seeds} seeds, 6 metrics" in text
    assert "missing (no checkpoint, left out)" in text
    assert text.count("skipped: the StudyBuilder's Stop ended the study") == left
    # the training grid stays under the form: the skipped trainings are marked
    grids = builder.locator(".mushin-builder-monitor .mushin-monitor")
    assert grids.count() == 2  # trainings, then evaluations
    # skipped, not failed: the reused trainings and the ones Stop left out (run next time)
    assert grids.first.locator(".mnb-cell.f").count() == 0
    assert grids.first.locator(".mnb-cell.s").count() == 6 + left
    # only the trainings Stop left out carry its reason (the reused ones carry none)
    assert grids.first.locator('.mnb-cell.s[title*="StudyBuilder\'s Stop"]').count() == left
    builder.screenshot(path=str(tmp_path / "builder_stopped.png"))
    assert lab_helpers.png_is_not_blank(tmp_path / "builder_stopped.png")
    assert not [e for e in page.console_errors if "widget" in e.lower()]
