"""Browser tests: a real JupyterLab on 127.0.0.1, driven by Playwright with Debian's Chromium.

The session starts one JupyterLab (a random free port, no token, its own
settings / runtime / data folders, its own copy of the notebooks) and one
headless Chromium with a fake webcam. A test gets a fresh browser page
(``page``) with camera permission; :class:`Lab` opens notebooks and runs them.

Without Playwright (the ``browser`` extra) or without Chromium these tests are
skipped with one line — unless ``CBR_EDU_REQUIRE_BROWSER=1`` (CI), which makes
that a failure. A failing test keeps a screenshot (its path is in the report);
tests also keep screenshots of the moments worth looking at, in ``out/browser/``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .labpage import ROOT, SHOTS, Lab

REQUIRED = os.environ.get("CBR_EDU_REQUIRE_BROWSER", "") not in ("", "0")
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def chromium_path():
    """Debian's Chromium binary (the /usr/bin wrapper prints a shell warning), or None."""
    candidates = [os.environ.get("CBR_EDU_CHROMIUM"), "/usr/lib/chromium/chromium",
                  shutil.which("chromium"), shutil.which("chromium-browser"),
                  shutil.which("google-chrome")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed (`make test-browser` installs the browser extra)"
    if chromium_path() is None:
        return ("Chromium not found (Debian/Ubuntu: apt-get install chromium; or set "
                "CBR_EDU_CHROMIUM to a Chromium/Chrome binary)")
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url, process, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer at {url} within {seconds} s")


def pytest_collection_modifyitems(config, items):
    """Without a browser, skip the browser tests (one line in the summary) — unless required."""
    reason = missing()
    if reason is None or REQUIRED:
        return
    skip = pytest.mark.skip(reason=f"browser tests skipped: {reason}")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """A JupyterLab serving a copy of ``notebooks/``; yields ``(url, root folder)``."""
    reason = missing()
    if reason is not None:
        pytest.fail(f"CBR_EDU_REQUIRE_BROWSER is set but {reason}", pytrace=False)
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    settings = root / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(root / "runtime"), JUPYTER_DATA_DIR=str(root / "data"),
               JUPYTER_CONFIG_DIR=str(root / "config"), TF_CPP_MIN_LOG_LEVEL="2")
    port = _free_port()
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
               f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
               "--ServerApp.disable_check_xsrf=True"]   # the teardown DELETEs kernels
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = open(root / "jupyterlab.log", "wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/api/status", process)
        yield url, root
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def browser(lab_server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=FAKE_CAMERA)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, lab_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  permissions=["camera"], accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def lab(page, lab_server):
    url, root = lab_server
    yield Lab(page, url, root, SHOTS)
    page.close()
    _shut_down_kernels(url)   # each test opens its own notebook: free its kernel


def _shut_down_kernels(url):
    with urllib.request.urlopen(f"{url}/api/kernels", timeout=10) as response:
        kernels = json.loads(response.read())
    for kernel in kernels:
        request = urllib.request.Request(f"{url}/api/kernels/{kernel['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and page is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"FAILED-{item.name}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            report.sections.append(("screenshot", f"kept at {path}"))
        except Exception as error:  # noqa: BLE001 - the page may be gone
            report.sections.append(("screenshot", f"could not be taken: {error}"))
