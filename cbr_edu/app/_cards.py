"""The app's class cards: name, count, thumbnails with a remove ×, upload, webcam.

Each card is a widget bound to one class of the builder; every control calls
one builder method through the app's ``run`` (which reports success or the
error in the status line).
"""

from __future__ import annotations

import ipywidgets as widgets

from ._thumbs import thumbnail_widget
from ._webcam import CameraSlot
from .upload import FilePicker

__all__ = ["ClassCard", "VISIBLE_THUMBNAILS"]

#: Thumbnails shown per class (the newest); the count says how many there are.
VISIBLE_THUMBNAILS = 12


class ClassCard(widgets.VBox):
    """One class: its name (editable), count, upload, webcam, samples, remove."""

    def __init__(self, app, name):
        self.app, self.builder, self.name = app, app.builder, name
        self.name_box = widgets.Text(value=name, continuous_update=False,
                                     layout=widgets.Layout(width="160px"))
        self.name_box.add_class("cbr-class-name")
        self.name_box.observe(self._rename, "value")
        self.count = widgets.HTML()
        self.count.add_class("cbr-class-count")
        self.upload = FilePicker(self._uploaded, label="upload", on_error=self._upload_error)
        self.upload.add_class("cbr-class-upload")
        self.webcam = CameraSlot(app, label="webcam", mode="hold", on_frame=self._frame,
                                 on_error=self._camera_error, css="cbr-class-webcam")
        self.remove = widgets.Button(description="remove class",
                                     layout=widgets.Layout(width="auto"))
        self.remove.add_class("cbr-class-remove")
        self.remove.on_click(self._remove_class)
        self.thumbs = widgets.Box(layout=widgets.Layout(flex_flow="row wrap"))
        self.thumbs.add_class("cbr-thumbs")
        self._tiles = {}   # id(sample) -> tile widget
        head = widgets.HBox([self.name_box, self.count, self.upload, self.webcam.button,
                             self.remove],
                            layout=widgets.Layout(align_items="center", flex_flow="row wrap"))
        super().__init__([head, self.webcam.box, self.thumbs])
        self.add_class("cbr-class-card")
        self.refresh()

    # -- drawing --------------------------------------------------------------
    def refresh(self):
        """Redraw the count and thumbnails (tiles of unchanged samples are kept)."""
        samples = self.builder.samples(self.name)
        n = len(samples)
        more = n - VISIBLE_THUMBNAILS
        self.count.value = (f"<span class='cbr-count'>{n} image{'s' if n != 1 else ''}"
                            + (f" · newest {VISIBLE_THUMBNAILS} shown" if more > 0 else "")
                            + "</span>")
        shown = samples[-VISIBLE_THUMBNAILS:]
        keep = {id(s) for s in shown}
        for key in [k for k in self._tiles if k not in keep]:
            self._tiles.pop(key).close()
        self.thumbs.children = [self._tile(s) for s in shown]
        if self.remove.description != "remove class":
            self._arm_remove(False)

    def _tile(self, sample):
        if id(sample) not in self._tiles:
            image = thumbnail_widget(sample)
            cross = widgets.Button(description="×", tooltip=f"remove {sample.source}",
                                   layout=widgets.Layout(width="64px", height="20px"))
            cross.add_class("cbr-thumb-remove")
            cross.on_click(lambda _, s=sample: self._remove_sample(s))
            tile = widgets.VBox([image, cross], layout=widgets.Layout(margin="2px"))
            tile.add_class("cbr-thumb")
            self._tiles[id(sample)] = tile
        return self._tiles[id(sample)]

    def close(self):
        self.webcam.close()
        for tile in self._tiles.values():
            tile.close()
        self.upload.close()
        super().close()

    # -- actions ----------------------------------------------------------------
    def _rename(self, change):
        new = change["new"]
        if new.strip() == self.name:
            return
        if self.app.run(f"rename {self.name!r}", lambda: self.builder.rename_class(self.name, new),
                        done=lambda _: f"now {new.strip()!r}") is None:
            self.name_box.value = self.name   # refused: show the name it still has

    def _uploaded(self, files):
        self.app.run(f"upload to {self.name!r}",
                     lambda: self.builder.add_images(self.name, files,
                                                     progress=self.app.progress),
                     done=lambda n: f"{n} image{'s' if n != 1 else ''} added")

    def _upload_error(self, message):
        self.app.say(f"upload to {self.name!r}", message, ok=False)

    def _remove_sample(self, sample):
        positions = [i for i, s in enumerate(self.builder.samples(self.name)) if s is sample]
        self.app.run(f"remove a {self.name!r} image",
                     lambda: self.builder.remove_images(self.name, positions),
                     done=lambda _: f"{sample.source} removed")

    def _arm_remove(self, armed):
        self.remove.description = "really remove?" if armed else "remove class"
        self.remove.button_style = "danger" if armed else ""

    def _remove_class(self, _):
        if self.remove.description == "remove class":   # the first click asks
            self._arm_remove(True)
            return
        name = self.name
        self.app.run(f"remove class {name!r}", lambda: self.builder.remove_class(name),
                     done=lambda _: "done")

    # -- webcam -----------------------------------------------------------------
    def _frame(self, frame):
        self.app.run(f"webcam to {self.name!r}",
                     lambda: self.builder.add_images(self.name, [frame]),
                     done=lambda _: f"{self.builder.count(self.name)} images")

    def _camera_error(self, message):
        self.app.say(f"webcam for {self.name!r}", message + "; upload photos instead", ok=False)
