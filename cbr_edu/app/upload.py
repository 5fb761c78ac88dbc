"""A file picker (``anywidget``) that sends the chosen files to Python, in parts.

``ipywidgets.FileUpload`` sends every chosen file in one message, which a
folder of phone photos makes larger than the Jupyter server accepts, and it
shows a file counter in its label. This picker sends each file in parts of at
most 4 MB and calls ``on_files(uploads)`` once all have arrived, with one
``{"name": ..., "content": bytes}`` dict per file in the order chosen.

Example
-------
>>> got = []
>>> picker = FilePicker(got.append, label="upload")
>>> for message, buffers in [({"event": "begin", "count": 1}, []),
...                          ({"event": "part", "index": 0, "name": "a.jpg", "part": 0,
...                            "parts": 2}, [b"ab"]),
...                          ({"event": "part", "index": 0, "name": "a.jpg", "part": 1,
...                            "parts": 2}, [b"c"]),
...                          ({"event": "end", "count": 1}, [])]:
...     picker._received(picker, message, buffers)
>>> got
[[{'name': 'a.jpg', 'content': b'abc'}]]
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

__all__ = ["FilePicker"]


class FilePicker(anywidget.AnyWidget):
    """A button that picks files; ``on_files(list of upload dicts)`` receives them."""

    _esm = Path(__file__).with_name("upload.js")
    label = traitlets.Unicode("upload").tag(sync=True)
    accept = traitlets.Unicode("image/*").tag(sync=True)
    multiple = traitlets.Bool(True).tag(sync=True)

    def __init__(self, on_files, *, on_error=None, **kwargs):
        super().__init__(**kwargs)
        self._on_files = on_files
        self._on_error = on_error
        self._parts = {}
        self._expected = 0
        self.on_msg(self._received)

    def _received(self, _widget, content, buffers):
        event = content.get("event") if isinstance(content, dict) else None
        if event == "begin":
            self._parts, self._expected = {}, int(content.get("count", 0))
        elif event == "part" and buffers:
            entry = self._parts.setdefault(int(content["index"]),
                                           {"name": str(content.get("name", "upload")),
                                            "parts": int(content["parts"]), "data": {}})
            entry["data"][int(content["part"])] = bytes(buffers[0])
        elif event == "end":
            self._finish()

    def _finish(self):
        files, self._parts = self._parts, {}
        complete = [i for i, f in files.items() if len(f["data"]) == f["parts"]]
        if len(complete) != self._expected or len(files) != self._expected:
            if self._on_error is not None:
                self._on_error(f"only {len(complete)} of {self._expected} files arrived "
                               "complete; choose them again")
            return
        self._on_files([{"name": files[i]["name"],
                         "content": b"".join(files[i]["data"][p]
                                             for p in range(files[i]["parts"]))}
                        for i in sorted(files)])
