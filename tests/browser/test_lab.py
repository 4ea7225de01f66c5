"""The lessons in a real browser: JupyterLab in headless Chromium runs every lesson that
shows widgets or plots, and checks that they render.

For each such lesson (found from the outputs stored in the notebook), in a copy of
notebooks/ without outputs or execution counts (nothing is saved over the committed
files, and a cell's number can only come from this run):
- open it in JupyterLab, wait for its kernel, and run all cells from the Run menu
  (the item selected by its data-command, runmenu:run-all: "Restart Kernel and Run
  All Cells…" also says "Run All Cells");
- every code cell runs; a widget output shows a live widget (no "Error displaying
  widget", not its text repr); a plot is an <img> that loaded; no cell shows an error
  or stderr unless it is tagged raises-exception.
A screenshot of each lesson goes to results/browser/ (gitignored), and one more on failure.

JupyterLab runs as a subprocess with its own config, runtime, settings and workspace
folders in a temporary folder, as root if need be (--allow-root), with a token, and with
the news prompt, autosave and notebook windowing turned off. Chromium is Debian's
(/usr/bin/chromium), driven through Playwright's sync API; Playwright's own browser
downloads are never used. Without chromium the tests skip (under CI they fail: CI
installs it).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from testpolicy import skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150),
              pytest.mark.no_leak_check(reason="a JupyterLab server and Chromium are shared by the module's tests")]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "results" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDGET = "application/vnd.jupyter.widget-view+json"
IMAGE = "image/png"
SETTINGS = {  # JupyterLab user settings, written to its own settings folder
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # every cell stays in the page, so every output can be checked
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


# -- which lessons ------------------------------------------------------------------------

def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _shows(cell: dict, mime: str) -> int:
    return sum(mime in out.get("data", {}) for out in cell.get("outputs", []))


def visual_lessons() -> list[str]:
    """The lessons whose stored outputs hold a widget or a plot."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        try:
            cells = _cells(path)
        except (OSError, ValueError):
            continue
        if any(_shows(c, WIDGET) or _shows(c, IMAGE) for c in cells if c["cell_type"] == "code"):
            found.append(path.name)
    return found


def _missing_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements.txt)"
    return None


@pytest.fixture(scope="module")
def browser_ready():
    reason = _missing_reason()
    if reason:
        skip_or_fail(reason)


# -- JupyterLab ------------------------------------------------------------------------

class Lab:
    """A JupyterLab server in a subprocess, serving a copy of notebooks/."""

    def __init__(self, base: Path):
        self.base = base
        self.root = base / "root"
        shutil.copytree(NOTEBOOKS, self.root / "notebooks",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        for path in (self.root / "notebooks").glob("[0-9][0-9]-*.ipynb"):
            _strip(path)  # so a cell's number can only come from this run
        folders = {name: base / name for name in ("config", "runtime", "settings", "workspaces")}
        for folder in folders.values():
            folder.mkdir()
        for name, values in SETTINGS.items():
            path = folders["settings"] / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(folders["config"]),
                   JUPYTER_RUNTIME_DIR=str(folders["runtime"]),
                   JUPYTERLAB_SETTINGS_DIR=str(folders["settings"]),
                   JUPYTERLAB_WORKSPACES_DIR=str(folders["workspaces"]),
                   JUPYTER_PLATFORM_DIRS="1")  # kernels inherit it: no PYTHONWARNINGS here
        env.pop("JUPYTER_TOKEN", None)
        self.token = secrets.token_hex(16)
        self.runtime = folders["runtime"]
        self.log_path = base / "lab.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser",
             "--ServerApp.open_browser=False", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={_free_port()}", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={self.root}", "--LabApp.news_url=None",
             "--ServerApp.terminals_enabled=False",
             # kernels on Unix sockets: no TCP port for another test to take first
             *(["--KernelManager.transport=ipc"] if os.name == "posix" else [])],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.root,
            start_new_session=True)
        self.url = self._wait_ready(60)

    def _wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log()}")
            for info in self.runtime.glob("jpserver-*.json"):
                try:
                    url = json.loads(info.read_text())["url"].rstrip("/")
                    if self.api("GET", "/api/status", url=url) is not None:
                        return url
                except (OSError, ValueError, KeyError):
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"JupyterLab did not start within {timeout:g} s:\n{self.log()}")

    def api(self, method: str, path: str, *, url: str | None = None):
        request = urllib.request.Request(f"{url or self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def wait_kernel(self, path: str, timeout: float) -> None:
        """Wait until the notebook at *path* has a connected, idle kernel."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for session in self.api("GET", "/api/sessions") or []:
                kernel = session.get("kernel") or {}
                if (session.get("path") == path and kernel.get("execution_state") == "idle"
                        and kernel.get("connections", 0) >= 1):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"no idle kernel for {path} within {timeout:g} s:\n{self.log()}")

    def shutdown_kernels(self) -> None:
        for kernel in self.api("GET", "/api/kernels") or []:
            try:
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
            except OSError:
                pass

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        try:
            self.shutdown_kernels()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


def _strip(path: Path) -> None:
    """Remove the stored outputs and execution counts of a notebook copy."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


def _free_port() -> int:
    # JupyterLab binds it itself; if another process takes it first, Lab tries the next
    # port (port_retries) and writes the one it got to its runtime file, which we read.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(browser_ready):
    with tempfile.TemporaryDirectory(prefix="socketlab-browser-") as base:
        server = Lab(Path(base))
        try:
            yield server
        finally:
            server.stop()
        assert server.proc.returncode is not None


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


# -- running one lesson ---------------------------------------------------------------

PROMPTS_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')]
    .filter(c => c.classList.contains('jp-CodeCell'))
    .map(c => (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '')"""

KERNEL_IDLE_JS = """() => [...document.querySelectorAll('.jp-KernelStatus, .jp-StatusBar-TextItem')]
    .some(e => /Idle/.test(e.textContent))"""

CELL_JS = """(i) => {
  const cell = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')][i];
  if (!cell) return null;
  const outputs = [...cell.querySelectorAll('.jp-OutputArea-output')];
  return {
    text: outputs.map(o => o.innerText).join('\\n'),
    widgets: cell.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
    images: [...cell.querySelectorAll('.jp-OutputArea-output img')].map(
        img => img.complete && img.naturalWidth > 0),
    errors: cell.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length,
    plain: [...cell.querySelectorAll('.jp-OutputArea-output [data-mime-type="text/plain"]')]
        .map(o => o.innerText),
  };
}"""


def _menu(page, menu: str, *commands: str) -> None:
    """Click Menu → the item with one of these data-commands (JupyterLab 4's menus use
    runmenu:/editmenu: ids, the notebook's own commands are notebook:...). Never by its
    label: "Run All Cells" is also part of "Restart Kernel and Run All Cells…"."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).first.click()
    wanted = ", ".join(f'.lm-Menu-item[data-command="{c}"]' for c in commands)
    item = page.locator(wanted).first
    item.wait_for(state="visible", timeout=10_000)
    item.click()


def _accept_dialogs(page) -> None:
    """Accept a dialog that asks something (e.g. which kernel): the default is right."""
    for _ in range(3):
        button = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
        if not button.count():
            return
        button.first.click()
        page.wait_for_timeout(300)


def _wait_run(page, cells: list[dict], timeout: float) -> list[str]:
    """Wait until no cell is running and every non-empty code cell has a number."""
    code = [c for c in cells if c["cell_type"] == "code"]
    wanted = [bool("".join(c["source"]).strip()) for c in code]
    deadline = time.monotonic() + timeout
    last, calm = None, 0
    while time.monotonic() < deadline:
        prompts = page.evaluate(PROMPTS_JS)
        running = any("*" in p for p in prompts)
        numbered = [bool(re.search(r"\[\d+\]", p)) for p in prompts]
        if not running and len(prompts) == len(wanted) and all(
                n or not w for n, w in zip(numbered, wanted)):
            return prompts
        # A cell that failed stops Run All: nothing changes and the kernel is idle. A slow
        # cell (a busy machine) changes nothing either, but its kernel is busy: keep waiting.
        idle = not running and page.evaluate(KERNEL_IDLE_JS)
        calm = calm + 1 if (prompts == last and idle) else 0
        if calm >= 10:  # idle for 2 s without finishing: a cell failed and stopped the run
            return prompts
        last = prompts
        time.sleep(0.2)
    return page.evaluate(PROMPTS_JS)


def _screenshot(page, name: str, suffix: str = "") -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{Path(name).stem}{suffix}.png"
    page.screenshot(path=str(path))
    return path


def _scroll_to_first_visual(page) -> None:
    """Bring the first widget (else the first plot) into view for the screenshot."""
    page.evaluate("""() => {
      const panel = '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output ';
      const el = document.querySelector(panel + '.jupyter-widgets') || document.querySelector(panel + 'img');
      if (el) el.scrollIntoView({block: 'center'});
    }""")
    page.wait_for_timeout(300)


def check_lesson(page, cells: list[dict], prompts: list[str]) -> list[str]:
    """Everything wrong with the rendered lesson, as sentences (empty when all is well)."""
    problems = []
    code_index = -1
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        code_index += 1
        source = "".join(cell["source"]).strip()
        first = source.splitlines()[0][:60] if source else ""
        where = f"cell {i} ({first!r})"
        if source and (code_index >= len(prompts) or not re.search(r"\[\d+\]", prompts[code_index])):
            problems.append(f"{where} did not run")
            continue
        seen = page.evaluate(CELL_JS, i)
        if seen is None:
            problems.append(f"{where} is not in the page")
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        text = seen["text"]
        if "Error displaying widget" in text or "model not found" in text:
            problems.append(f"{where}: {text.strip()[:200]!r}")
        if _shows(cell, WIDGET):
            if seen["widgets"] < _shows(cell, WIDGET):
                problems.append(f"{where}: {_shows(cell, WIDGET)} widget(s) expected, "
                                f"{seen['widgets']} rendered")
            reprs = {"".join(o["data"]["text/plain"]) for o in cell["outputs"]
                     if WIDGET in o.get("data", {})}
            shown = reprs & {p.strip() for p in seen["plain"]}
            if shown:
                problems.append(f"{where}: the widget shows as text {sorted(shown)}")
        if re.search(r"^\w+Model\(|^(VBox|HBox|IntSlider|Output|HTML|Button)\(", text, re.M):
            problems.append(f"{where}: raw widget model text {text.strip()[:120]!r}")
        if _shows(cell, IMAGE):
            loaded = [ok for ok in seen["images"] if ok]
            if len(loaded) < _shows(cell, IMAGE):
                problems.append(f"{where}: {_shows(cell, IMAGE)} plot image(s) expected, "
                                f"{len(loaded)} loaded ({len(seen['images'])} <img>)")
        if re.search(r"^<Figure size .*>$", text, re.M) and not seen["images"]:
            problems.append(f"{where}: a figure shown as text, not as an image")
        if seen["errors"] and "raises-exception" not in tags:
            problems.append(f"{where} shows an error or stderr: {text.strip()[-300:]!r}")
    return problems


LESSONS = visual_lessons()


# an empty list fails at collection (pyproject: empty_parameter_set_mark), so that lessons
# that lost their stored widgets and plots cannot pass this test by skipping it
@pytest.mark.parametrize("name", LESSONS)
def test_widgets_and_plots_render_in_jupyterlab(lab, browser, name):
    cells = _cells(NOTEBOOKS / name)  # with the stored outputs: what should render
    started = time.monotonic()
    (RESULTS / f"{Path(name).stem}-failure.png").unlink(missing_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab.url}/lab/tree/notebooks/{name}?token={lab.token}&reset",
                  wait_until="domcontentloaded", timeout=60_000)
        page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        lab.wait_kernel(f"notebooks/{name}", timeout=60)
        page.locator(".jp-Notebook-ExecutionIndicator").first.wait_for(timeout=30_000)
        page.wait_for_function(KERNEL_IDLE_JS, timeout=30_000)
        _accept_dialogs(page)
        _menu(page, "Run", "runmenu:run-all", "notebook:run-all-cells")
        prompts = _wait_run(page, cells, timeout=90)
        page.wait_for_timeout(500)  # widget views render just after their cell finishes
        problems = check_lesson(page, cells, prompts)
        _scroll_to_first_visual(page)
        _screenshot(page, name)
        if problems:
            shot = _screenshot(page, name, "-failure")
            pytest.fail(f"{name} in JupyterLab ({time.monotonic() - started:.0f} s; "
                        f"screenshot {shot.relative_to(ROOT)}):\n  " + "\n  ".join(problems),
                        pytrace=False)
    except Exception:
        try:
            _screenshot(page, name, "-failure")
        except Exception:
            pass
        raise
    finally:
        page.close()
        lab.shutdown_kernels()
