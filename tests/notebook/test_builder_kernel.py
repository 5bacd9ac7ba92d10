"""StudyBuilder in a real Jupyter kernel (nbclient): the fixture notebook defines two train
functions and a DataLoader; cells then drive the widgets' traitlets as the front-end would,
click Run, keep working while it trains, and run the "Show code" text as a cell of its own."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

FIXTURE = Path(__file__).resolve().parents[1] / "notebooks" / "builder_two_methods.ipynb"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

DRIVE = """
import json, time
DELAY = 0.0  # no need to wait: nobody clicks Stop here
builder.methods.value = ("train_wide", "train_narrow")
builder.seeds.value = "0-2"
builder.working_dir.value = "study_kernel"
form = {"errors": builder.errors, "disabled": builder.run_button.disabled,
        "classes": builder.num_classes.value, "data": builder.data.value}
started = time.monotonic()
builder.run_button.click()
print(json.dumps({"form": form, "click_s": time.monotonic() - started,
                  "running": builder.running}))
"""
WHILE_TRAINING = """
print(json.dumps({"running": builder.running,
                  "monitor": type(builder.monitor_box.children[0]).__name__}))
"""
RESULT = """
finished = builder.wait(300)
print(json.dumps({"titles": list(builder.results.titles), "methods": finished.methods,
                  "seeds": finished.data["seed"].values.tolist(), "status": builder.status.value,
                  "code": builder.code()}))
"""
MOVE_AWAY = 'import os\nos.rename("study_kernel", "study_kernel_builder")'
COMPARE = """
import numpy as np
print(json.dumps({
    "same": {m: bool(np.array_equal(result.data[m].values, builder.result.data[m].values))
             for m in builder.result.metrics},
    "comparisons": bool(result.comparisons.equals(builder.result.comparisons)),
    "separate": study is not builder.study,
}))
"""
ROUND_TRIP = """
again = StudyBuilder.from_study(study)
print(json.dumps({"methods": list(again.methods.value), "seeds": again.seeds.value,
                  "data": again.data.value, "working_dir": again.working_dir.value,
                  "code_without_dir": again.code().replace(again.working_dir.value, "W")
                  == builder.code().replace("study_kernel", "W")}))
"""


def _json(cell) -> dict:
    """The JSON line a driving cell printed (the study may print its own lines around it)."""
    texts = [o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]
    lines = [line for text in texts for line in text.splitlines() if line.startswith("{")]
    assert len(lines) == 1, cell.outputs
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Run the fixture notebook, then the driving cells, in one real kernel."""
    nb = nbformat.read(FIXTURE, as_version=4)
    workdir = tmp_path_factory.mktemp("builder_kernel")
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    cells = {}
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)

        def run(name, source):
            nb.cells.append(nbformat.v4.new_code_cell(source.strip()))
            cells[name] = client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
            errors = [o for o in cells[name].outputs if o.output_type == "error"]
            assert not errors, f"cell {name!r} failed: {errors[0].ename}: {errors[0].evalue}"

        run("drive", DRIVE)
        run("while_training", WHILE_TRAINING)
        run("result", RESULT)
        run("move_away", MOVE_AWAY)
        run("show_code", _json(cells["result"])["code"])  # the code, as a cell of its own
        run("compare", COMPARE)
        run("round_trip", ROUND_TRIP)
    return nb, cells, workdir


def test_the_builder_is_displayed_as_a_widget(session):
    nb, _, _ = session
    shown = [o for o in nb.cells[2].outputs if o.output_type in ("display_data",
                                                                 "execute_result")]
    assert len(shown) == 1 and WIDGET_MIME in shown[0].data


def test_the_form_lists_the_notebook_and_run_returns_at_once(session):
    _, cells, _ = session
    drive = _json(cells["drive"])
    assert drive["form"] == {"errors": {}, "disabled": False, "classes": 10,
                             "data": "test_loader"}
    assert drive["running"] is True and drive["click_s"] < 5
    # the kernel ran the next cell while the study trained
    assert _json(cells["while_training"]) == {"running": True, "monitor": "SweepMonitor"}


def test_the_result_tabs_and_the_show_code_cell_agree(session):
    _, cells, workdir = session
    result = _json(cells["result"])
    assert result["titles"] == ["Summary", "Comparisons", "Plots", "Show code"]
    assert result["methods"] == ["train_wide", "train_narrow"] and result["seeds"] == [0, 1, 2]
    assert result["status"].startswith("<span>done in ")
    assert "study = Study(" in result["code"] and "data=test_loader," in result["code"]
    # the code ran in a fresh directory, trained again and found the very same numbers
    compared = _json(cells["compare"])
    assert compared["separate"] and compared["comparisons"]
    assert compared["same"] == dict.fromkeys(
        ["accuracy", "f1", "precision", "recall", "auroc", "ece"], True)
    assert sorted(p.name for p in (workdir / "study_kernel" / "checkpoints").iterdir()) == sorted(
        p.name for p in (workdir / "study_kernel_builder" / "checkpoints").iterdir())
    shown = [o for o in cells["show_code"].outputs if o.output_type == "execute_result"]
    assert "BenchmarkResult: 2 methods x 3 seeds" in shown[0].data["text/plain"]


def test_from_study_in_the_kernel_fills_the_same_form(session):
    _, cells, workdir = session
    again = _json(cells["round_trip"])
    assert again["methods"] == ["train_wide", "train_narrow"] and again["seeds"] == "0-2"
    assert again["data"] == "test_loader"
    assert Path(again["working_dir"]) == (workdir / "study_kernel").resolve()
    assert again["code_without_dir"]
