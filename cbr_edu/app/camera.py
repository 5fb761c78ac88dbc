"""A small webcam widget (``anywidget``): the camera in the page, frames to Python.

The JavaScript (``camera.js``) ships inside the package: nothing is built or
downloaded. Each frame reaches ``on_frame`` as an upload dict
``{"name": "camera.jpg", "content": <JPEG bytes>}``, the form the builder reads
like any uploaded photo. Without a camera (or without permission) the widget
says so and calls ``on_error(message)``; uploads keep working.

* ``mode="hold"`` — frames are sent while the button is held (samples);
* ``mode="live"`` — a frame is sent when Python has handled the previous one
  (the live preview), so a slow kernel is never flooded.

Example
-------
>>> frames = []
>>> camera = Camera(frames.append, mode="hold")
>>> camera._received(camera, {"event": "frame", "purpose": "sample"}, [b"jpeg"])
>>> frames
[{'name': 'camera.jpg', 'content': b'jpeg'}]
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

__all__ = ["Camera"]


class Camera(anywidget.AnyWidget):
    """The webcam: ``on_frame(upload)`` for each frame, ``on_error(message)`` if none."""

    _esm = Path(__file__).with_name("camera.js")
    mode = traitlets.Unicode("hold").tag(sync=True)
    label = traitlets.Unicode("hold to record").tag(sync=True)
    fps = traitlets.Float(4.0).tag(sync=True)
    frame_side = traitlets.Int(320).tag(sync=True)   # longest side of a frame sent
    width = traitlets.Int(240).tag(sync=True)        # of the video in the page

    def __init__(self, on_frame, *, mode="hold", on_error=None, **kwargs):
        if mode not in ("hold", "live"):
            raise ValueError(f"mode is 'hold' or 'live', got {mode!r}")
        label = kwargs.pop("label", "hold to record" if mode == "hold" else "pause")
        super().__init__(mode=mode, label=label, **kwargs)
        self._on_frame = on_frame
        self._on_error = on_error
        self.on_msg(self._received)

    def _received(self, _widget, content, buffers):
        event = content.get("event") if isinstance(content, dict) else None
        if event == "frame" and buffers:
            try:
                self._on_frame({"name": "camera.jpg", "content": bytes(buffers[0])})
            finally:
                if self.mode == "live":
                    self.send({"event": "ready"})
        elif event == "error" and self._on_error is not None:
            self._on_error(str(content.get("message", "camera unavailable")))
