"""Real-browser fixtures: a JupyterLab server on localhost and headless Debian Chromium.

Reusable by every browser test:

- ``lab`` (session): the running server, a :class:`Lab` (``url``, ``token``, ``root``,
  ``tree_url(path)``, ``write_notebook(name, cells)``);
- ``browser`` (session): Playwright's Chromium, started from ``/usr/bin/chromium``
  (never a downloaded build);
- ``page`` (function): a fresh browser page whose console errors are kept in
  ``page.console_errors``;
- ``lab_helpers``: :func:`open_notebook`, :func:`run_all_cells`, :func:`wait_for_cells_done`,
  :func:`run_notebook_in_lab` (all three in one) and :func:`png_is_not_blank`.

Nothing reaches outside the machine: news, update checks and the extension manager are off.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

CHROMIUM = os.environ.get("MUSHIN_NB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
LAB_START_TIMEOUT = 120.0
_IDLE_EXTENSIONS = ("panel.io.jupyter_server_extension", "jupyter_lsp",
                    "jupyter_server_terminals")

# JupyterLab settings that keep the page quiet and offline.
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


@dataclass
class Lab:
    """A JupyterLab server started for the tests."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def tree_url(self, path: str) -> str:
        """URL that opens ``path`` (relative to :attr:`root`) in JupyterLab."""
        return f"{self.url}lab/tree/{path}?token={self.token}"

    def api(self, method: str, route: str, body: dict | None = None) -> dict | list | None:
        """Call the server's REST API (``route`` like ``"api/kernels"``)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{route}", data=data, method=method,
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        """Write a python3 notebook of code ``cells`` under :attr:`root`."""
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                     "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
        return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lab_failure(message: str, log: Path) -> str:
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    return f"{message}\n--- jupyter lab log (tail) ---\n{tail}"


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> Lab:
    """Start JupyterLab on a free localhost port in a temp root; stop it at the end."""
    base = tmp_path_factory.mktemp("lab")
    root, home = base / "root", base / "home"
    root.mkdir()
    settings = home / "settings"
    for name, values in _LAB_SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    # server extensions the tests do not use only slow the start-up down
    (home / "config").mkdir(parents=True)
    (home / "config" / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {name: False for name in _IDLE_EXTENSIONS}}}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ,
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "rt"),
           "JUPYTER_DATA_DIR": str(home / "data"), "IPYTHONDIR": str(home / "ipython"),
           "JUPYTER_PLATFORM_DIRS": "1", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
           "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--ServerApp.terminals_enabled=False",
           "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly",
           "--LabApp.expose_app_in_browser=True",
           f"--LabApp.user_settings_dir={settings}",
           f"--LabApp.workspaces_dir={home / 'workspaces'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
        cmd.append("--allow-root")
    log = base / "lab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                   cwd=root)
    server = Lab(url=f"http://127.0.0.1:{port}/", token=token, root=root, process=process,
                 log=log)
    deadline = time.monotonic() + LAB_START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(_lab_failure(f"jupyter lab exited with {process.returncode}", log))
        try:
            server.api("GET", "api/status")
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(_lab_failure("jupyter lab did not answer in time", log))
            time.sleep(0.3)
    yield server
    _stop_lab(server)


def _stop_lab(server: Lab) -> None:
    # a clean shutdown also stops the kernels the tests started
    try:
        server.api("POST", "api/shutdown")
        server.process.wait(timeout=20)
    except Exception:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from the system (Debian's ``chromium``), driven by Playwright."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make browser-deps` installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing: run `apt-get install chromium` (or make test-browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A new page (1280x900); console errors are collected in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    new_page = context.new_page()
    new_page.console_errors = []
    new_page.on("console", lambda msg: msg.type == "error"
                and new_page.console_errors.append(msg.text))
    new_page.on("pageerror", lambda exc: new_page.console_errors.append(str(exc)))
    yield new_page
    context.close()


# ----------------------------------------------------------------------------- helpers
# JavaScript run in the page; each takes the notebook's path (relative to the lab root).
_FIND = """(path) => Array.from(window.jupyterapp.shell.widgets("main"))
                     .find((w) => w.context && w.context.path === path)"""

_KERNEL_IDLE = f"""(path) => {{
  const w = ({_FIND})(path);
  const kernel = w && w.sessionContext && w.sessionContext.session
                 && w.sessionContext.session.kernel;
  return !!(kernel && kernel.status === "idle" && w.context.isReady
            && w.content && w.content.widgets && w.content.widgets.length > 0);
}}"""

_RUN_ALL = f"""(path) => {{
  const w = ({_FIND})(path);
  window.jupyterapp.shell.activateById(w.id);
  window.jupyterapp.commands.execute("notebook:run-all-cells");
}}"""

_CELLS_DONE = f"""(path) => {{
  const w = ({_FIND})(path);
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = w.content.widgets.filter((c) => c.model.type === "code");
  return !!kernel && kernel.status === "idle"
         && cells.every((c) => c.model.executionCount !== null);
}}"""

_CELL_ERRORS = f"""(path) => {{
  const w = ({_FIND})(path);
  const errors = [];
  w.content.widgets.forEach((cell, i) => {{
    if (cell.model.type !== "code") return;
    for (const out of cell.model.outputs.toJSON()) {{
      if (out.output_type === "error") errors.push(`cell ${{i}}: ${{out.ename}}: ${{out.evalue}}`);
    }}
  }});
  return errors;
}}"""


def open_notebook(page, lab: Lab, path: str, timeout: float = 120.0) -> None:
    """Open ``path`` in JupyterLab (a fresh workspace) and wait until its kernel is idle."""
    page.goto(lab.tree_url(path) + "&reset")  # ?reset: no tabs restored from earlier tests
    page.wait_for_function("() => !!window.jupyterapp", timeout=timeout * 1000)
    page.wait_for_selector(".jp-Notebook", timeout=timeout * 1000)
    page.wait_for_function(_KERNEL_IDLE, arg=path, timeout=timeout * 1000)


def run_all_cells(page, path: str) -> None:
    """Start running every cell of the open notebook ``path`` (returns at once)."""
    page.evaluate(_RUN_ALL, path)


def wait_for_cells_done(page, path: str, timeout: float = 120.0,
                        raise_on_error: bool = True) -> list[str]:
    """Wait until every code cell of ``path`` has run and its kernel is idle.

    Returns the cells' error outputs; raises ``AssertionError`` on any unless told not to.
    """
    page.wait_for_function(_CELLS_DONE, arg=path, timeout=timeout * 1000, polling=250)
    errors = page.evaluate(_CELL_ERRORS, path)
    if errors and raise_on_error:
        raise AssertionError("notebook cells failed in JupyterLab:\n" + "\n".join(errors))
    return errors


def run_notebook_in_lab(page, lab: Lab, path: str, timeout: float = 180.0) -> None:
    """Open ``path``, run all its cells and wait for them; fail on any cell error."""
    open_notebook(page, lab, path, timeout)
    run_all_cells(page, path)
    wait_for_cells_done(page, path, timeout)


@pytest.fixture
def lab_helpers():
    """The helper functions, for tests that prefer a fixture to an import."""
    return SimpleNamespace(open_notebook=open_notebook, run_all_cells=run_all_cells,
                           wait_for_cells_done=wait_for_cells_done,
                           run_notebook_in_lab=run_notebook_in_lab,
                           png_is_not_blank=png_is_not_blank)


def png_is_not_blank(path: str | os.PathLike, min_colours: int = 8) -> bool:
    """True when the PNG at ``path`` holds a picture, not one flat colour."""
    from PIL import Image

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return colours is None or len(colours) >= min_colours
