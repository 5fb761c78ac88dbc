"""A download link for a file the kernel wrote (``anywidget``; the JavaScript ships inside).

A click in the page asks Python for the file; its bytes travel over the
widget's connection and the browser saves them under the file's name. No
server URL is involved, so it works in JupyterLab, Notebook, VS Code and Colab.

Example
-------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "model.tflite")
>>> with open(path, "wb") as f:
...     _ = f.write(b"x" * 1500)
>>> DownloadLink(path).label
'download model.tflite (1.5 kB)'
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

__all__ = ["DownloadLink", "file_size"]


def file_size(n_bytes: int) -> str:
    """``1234567`` -> ``'1.2 MB'`` (decimal units, as file browsers show them)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


class DownloadLink(anywidget.AnyWidget):
    """A link that downloads ``path`` (its name and size are in the label)."""

    _esm = Path(__file__).with_name("download.js")
    label = traitlets.Unicode("").tag(sync=True)
    filename = traitlets.Unicode("").tag(sync=True)

    def __init__(self, path, **kwargs):
        path = Path(path)
        size = file_size(path.stat().st_size)
        super().__init__(label=f"download {path.name} ({size})", filename=path.name, **kwargs)
        self.path = path
        self.on_msg(self._received)

    def _received(self, _widget, content, _buffers):
        if isinstance(content, dict) and content.get("event") == "fetch":
            self.send({"event": "file", "filename": self.path.name},
                      buffers=[self.path.read_bytes()])
