"""Drive JupyterLab in a Playwright page: open a copy of a notebook, run it, use widgets.

The app object is exposed in the page (``--LabApp.expose_app_in_browser``), so
running cells and waiting for the kernel go through JupyterLab's own commands and
models rather than through menus and pixels.
"""

from __future__ import annotations

import itertools
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "browser"   # screenshots worth looking at (out/ is not committed)
_COPIES = itertools.count(1)

# JavaScript run in the page: the current notebook's state.
_KERNEL_IDLE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
                 && panel.sessionContext.session.kernel;
  return !!(kernel && kernel.status === 'idle' && panel.sessionContext.isReady);
}"""
_RUN_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter((c) => c.model.type === 'code');
  const done = cells.filter((c) => c.model.executionCount !== null).length;
  const running = panel.content.node.querySelectorAll('.jp-InputPrompt').length
    ? Array.from(panel.content.node.querySelectorAll('.jp-InputPrompt'))
        .some((p) => p.textContent.includes('*'))
    : false;
  const errors = [];
  for (const c of cells) {
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
    }
  }
  const status = panel.sessionContext.session.kernel.status;
  return {total: cells.length, done, running, errors, status};
}"""


class Lab:
    """One browser page on the test's JupyterLab."""

    def __init__(self, page, url, root, shots):
        self.page, self.url, self.root, self.shots = page, url, Path(root), Path(shots)
        self.shots.mkdir(parents=True, exist_ok=True)

    def open(self, name):
        """Open a fresh copy of ``notebooks/<name>`` (the browser edits what it opens)."""
        copy = f"copy{next(_COPIES)}-{name}"
        shutil.copy(self.root / "notebooks" / name, self.root / "notebooks" / copy)
        self.page.goto(f"{self.url}/lab/tree/notebooks/{copy}?reset")   # no other tabs
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        self.page.wait_for_function(_KERNEL_IDLE, timeout=90_000)
        return copy

    def run_all(self, *, timeout=300):
        """Run every cell and wait until all have run; fail on an error output."""
        self.page.wait_for_function(_KERNEL_IDLE, timeout=90_000)
        self.page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.page.evaluate(_RUN_STATE)
            if state["errors"]:
                raise AssertionError(f"a cell failed: {state['errors'][0]}")
            if (state["done"] == state["total"] and not state["running"]
                    and state["status"] == "idle"):
                return state
            time.sleep(0.5)
        raise AssertionError(f"the notebook did not finish in {timeout} s: {state}")

    def wait_idle(self, timeout=60):
        """Wait until the kernel has handled everything (e.g. a widget's callback)."""
        time.sleep(0.3)
        self.page.wait_for_function(_KERNEL_IDLE, timeout=timeout * 1000)

    def shot(self, name, locator=None):
        """Keep a screenshot in ``out/browser/<name>.png`` (of ``locator`` or the page)."""
        path = self.shots / f"{name}.png"
        if locator is None:
            self.page.screenshot(path=str(path))
            return path
        size = self.page.viewport_size
        height = locator.bounding_box()["height"]
        if height > size["height"] - 200:   # a tall widget: a tall window, so it fits whole
            self.page.set_viewport_size({"width": size["width"], "height": int(height) + 300})
        try:
            locator.scroll_into_view_if_needed()
            locator.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(size)
        return path

    def upload(self, button, files):
        """Click a FileUpload button and choose ``files`` in the file chooser."""
        button.scroll_into_view_if_needed()
        with self.page.expect_file_chooser() as chooser:
            button.click()
        chooser.value.set_files([str(f) for f in files])
        self.wait_idle()
