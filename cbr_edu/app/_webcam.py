"""A webcam slot in the app: a toggle button that opens the camera in a box.

Only one camera is open in the app at a time: opening one asks the app to close
the others (``app.close_cameras``).
"""

from __future__ import annotations

import ipywidgets as widgets

__all__ = ["CameraSlot"]


class CameraSlot:
    """``button`` (a toggle) and ``box`` (where the camera shows) for one place in the app."""

    def __init__(self, app, *, label, mode, on_frame, on_error, css):
        self.app, self.mode, self.css = app, mode, css
        self._on_frame, self._on_error = on_frame, on_error
        self.button = widgets.ToggleButton(description=label,
                                           layout=widgets.Layout(width="auto"))
        self.button.add_class(css)
        self.button.observe(self._toggle, "value")
        self.box = widgets.Box()
        self.camera = None

    def _toggle(self, change):
        if not change["new"]:
            self.close()
            return
        from .camera import Camera
        self.app.close_cameras(except_for=self)
        self.camera = Camera(self._on_frame, mode=self.mode, on_error=self._on_error)
        self.camera.add_class(f"{self.css}-camera")
        self.box.children = [self.camera]

    def close(self):
        """Close the camera (the page stops it) and release the button."""
        if self.camera is not None:
            self.box.children = []
            self.camera.close()
            self.camera = None
        if self.button.value:
            self.button.value = False
