"""SweepMonitor in a real Jupyter kernel (nbclient): widget view, live state, saved snapshot."""

from __future__ import annotations

import json
import textwrap

import nbformat
import pytest
from nbclient import NotebookClient

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STATE_MIME = "application/vnd.jupyter.widget-state+json"

CELLS = [
    # sweep_progress(True) picks the widget inside a kernel and displays it here
    """
    from mushin_nb.progress import job_context, report, sweep_progress
    mon = sweep_progress(True)
    print(type(mon).__name__)
    """,
    # a sweep-like loop: in-process jobs call report() through their job context
    """
    mon.start(["lr=<0.1>", "lr=0.01", "lr=0.001"], title="kernel sweep")
    for i in range(3):
        mon.job_start(i)
        with job_context(i, sink=mon):
            for step in range(1, 4):
                report(step=step, total=3, loss=1.0 / (step + i))
        if i == 1:
            mon.job_end(i, "failed", "Traceback\\nValueError: lr <too> small")
        else:
            mon.job_end(i, "done")
    mon.close(ok=False)
    print(mon.statuses, mon.done, mon.failed, mon.steps)
    """,
    # a callback's exception goes to the notebook's traceback display
    """
    from mushin_nb.progress._poller import report_callback_error
    try:
        raise ValueError("callback <boom>")
    except ValueError as exc:
        report_callback_error("a test callback", exc)
    """,
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(src).strip()) for src in CELLS]
    workdir = tmp_path_factory.mktemp("kernel")
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    path = workdir / "monitor.ipynb"
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)  # what a saved notebook holds


def _outputs(cell, kind):
    return [o for o in cell.outputs if o.output_type == kind]


def test_the_kernel_picks_the_widget_and_runs_the_sweep(executed):
    first, second, _ = executed.cells
    assert _outputs(first, "stream")[0].text.strip() == "SweepMonitor"
    printed = _outputs(second, "stream")[0].text.split(maxsplit=3)
    assert printed[:3] == ["dfd", "2", "1"]
    assert printed[3].strip() == "[3, 3, 3]"


def test_the_saved_notebook_has_the_widget_view_and_the_snapshot(executed):
    displays = _outputs(executed.cells[0], "display_data")
    views = [o for o in displays if WIDGET_MIME in o.data]
    assert len(views) == 1
    snapshots = [o for o in displays if "text/html" in o.data]
    assert len(snapshots) == 1  # close() filled the slot reserved under the widget
    page = snapshots[0].data["text/html"]
    assert "mushin-snapshot" in page and "<b>kernel sweep</b>: 3 jobs, 2 done, 1 failed" in page
    assert "lr=&lt;0.1&gt;" in page and "lr &lt;too&gt; small" in page
    assert "<too>" not in page
    assert snapshots[0].data["text/plain"].startswith("kernel sweep: 3 jobs, 2 done, 1 failed")


def test_the_saved_widget_state_is_the_final_state(executed):
    model_id = next(o.data[WIDGET_MIME]["model_id"]
                    for o in _outputs(executed.cells[0], "display_data")
                    if WIDGET_MIME in o.data)
    state = executed.metadata["widgets"][STATE_MIME]["state"][model_id]["state"]
    assert state["statuses"] == "dfd" and state["finished"] is True and state["ok"] is False
    assert state["labels"] == ["lr=<0.1>", "lr=0.01", "lr=0.001"]
    assert state["errors"] == {"1": "Traceback\nValueError: lr <too> small"}
    curve = json.loads(state["curve"])  # sent as one JSON text, decoded by the front-end
    # job 2 reported loss = 1 / (step + 2), sent with 6 significant digits
    assert curve["loss"]["2"] == [[1, 0.333333], [2, 0.25], [3, 0.2]]
    assert "export default" in state["_esm"]
    json.dumps(state, allow_nan=False)  # valid JSON for the browser: no NaN anywhere


def test_callback_errors_reach_the_traceback_display(executed):
    errors = _outputs(executed.cells[2], "error")
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "callback <boom>")]
