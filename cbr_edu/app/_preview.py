"""The app's preview panel: try a photo (upload or live webcam), see one bar per class,
the nearest example ("why this answer") and the *unknown* threshold slider."""

from __future__ import annotations

import html

import ipywidgets as widgets

from ._thumbs import inline_image
from ._webcam import CameraSlot
from .builder import BuilderError
from .upload import FilePicker

__all__ = ["PreviewPanel", "bars_html"]

# one colour per class, in order (matplotlib's tab10: readable on white)
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]


def bars_html(classes, answer, *, threshold=None) -> str:
    """One confidence bar per class (empty classes say so), best answer first marked.

    >>> "cat" in bars_html(["cat"], None)
    True
    """
    rows = []
    best = answer.ranking[0][0] if answer is not None else None
    if answer is not None and answer.unknown:
        rows.append(f"<div class='cbr-bar-row cbr-unknown'><b>unknown</b>: the best "
                    f"similarity {answer.ranking[0][1]:.2f} is below the threshold "
                    f"{threshold:.2f}</div>")
    for i, name in enumerate(classes):
        score = None if answer is None else answer.scores.get(name)
        colour = PALETTE[i % len(PALETTE)]
        width = 0 if score is None else max(0.0, min(1.0, score)) * 100
        text = ("no images" if answer is not None and score is None else
                "" if score is None else f"{score:.2f}")
        strong = " cbr-best" if name == best else ""
        rows.append(
            f"<div class='cbr-bar-row{strong}' data-class='{html.escape(name, quote=True)}'>"
            f"<span class='cbr-bar-name'>{html.escape(name)}</span>"
            f"<span class='cbr-bar-track'><span class='cbr-bar-fill' "
            f"style='width:{width:.0f}%;background:{colour}'></span></span>"
            f"<span class='cbr-bar-value'>{text}</span></div>")
    return "".join(rows) or "<i>add a class to begin</i>"


class PreviewPanel(widgets.VBox):
    """Try the classifier on a photo or the live webcam."""

    def __init__(self, app):
        self.app, self.builder = app, app.builder
        self.upload = FilePicker(self._uploaded, label="try a photo", multiple=False)
        self.upload.add_class("cbr-preview-upload")
        self.webcam = CameraSlot(app, label="live webcam", mode="live", on_frame=self._frame,
                                 on_error=self._camera_error, css="cbr-preview-webcam")
        self.image = widgets.HTML()
        self.image.add_class("cbr-preview-image")
        self.bars = widgets.HTML(bars_html(self.builder.classes, None))
        self.bars.add_class("cbr-bars")
        self.why = widgets.HTML()
        self.why.add_class("cbr-why")
        self.threshold = widgets.FloatSlider(value=self.builder.threshold or 0.0, min=0.0,
                                             max=1.0, step=0.01, description="unknown below",
                                             readout_format=".2f", continuous_update=False,
                                             style={"description_width": "initial"})
        self.threshold.add_class("cbr-threshold")
        self.threshold.observe(self._threshold_moved, "value")
        self.threshold_note = widgets.HTML()
        self.threshold_note.add_class("cbr-threshold-note")
        self._last = None          # the last image tried, answered again after each change
        self._show_threshold()
        super().__init__([
            widgets.HTML("<b>Try it</b>"),
            widgets.HBox([self.upload, self.webcam.button]), self.webcam.box,
            widgets.HBox([self.image, self.bars], layout=widgets.Layout(align_items="center")),
            self.why,
            self.threshold, self.threshold_note])
        self.add_class("cbr-preview")

    def refresh(self):
        """Answer the last image again (the project or the threshold changed)."""
        self._show_threshold()
        self._answer(self._last, quiet=True)

    def _answer(self, image, *, quiet=False):
        answer = None
        if image is not None:
            try:
                answer = self.builder.answer(image)
            except BuilderError as error:
                if not quiet:
                    self.app.say("try a photo", str(error), ok=False)
        self.bars.value = bars_html(self.builder.classes, answer,
                                    threshold=self.builder.threshold)
        if answer is None:
            self.image.value = self.why.value = ""
            return answer
        self.image.value = inline_image(answer.thumbnail, 128, fit="contain")
        name, position, similarity = answer.nearest
        nearest = inline_image(self.builder.samples(name)[position].thumbnail, 64)
        self.why.value = (f"<div class='cbr-why-row'>{nearest}<span class='cbr-why-text'>why "
                          f"this answer: its nearest example is <b>{html.escape(name)}</b> "
                          f"#{position + 1} (similarity {similarity:.2f})</span></div>")
        return answer

    def _uploaded(self, files):
        self._last = files[0]
        answer = self._answer(self._last)
        if answer is not None:
            best, score = answer.ranking[0]
            self.app.say("try a photo", f"{files[0]['name']}: {best} ({score:.2f})")

    def _threshold_moved(self, change):
        value = change["new"]
        self.builder.threshold = value if value > 0 else None   # the builder calls refresh

    def _show_threshold(self):
        t = self.builder.threshold
        if abs(self.threshold.value - (t or 0.0)) > 1e-9:
            self.threshold.value = t or 0.0
        self.threshold_note.value = (
            "<span class='cbr-note'>unknown threshold off: slide right to answer 'unknown' "
            "for photos unlike every example</span>" if t is None else
            f"<span class='cbr-note'>photos whose best similarity is below {t:.2f} are "
            "answered 'unknown'</span>")

    def _frame(self, frame):
        self._last = frame
        self._answer(frame, quiet=True)

    def _camera_error(self, message):
        self.app.say("live webcam", message + "; try a photo instead", ok=False)
