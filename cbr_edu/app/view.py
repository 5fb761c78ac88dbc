"""The builder's widget view: class cards, "add a class", preview, check, export, files.

``BuilderView(builder)`` is an ipywidgets ``VBox`` bound to one
:class:`~cbr_edu.app.builder.Builder`; displaying the builder shows it. Every
control calls a builder method through :meth:`BuilderView.run`, which reports
the outcome in the status line in the app's words — "✓ upload to 'cat': 3
images added", "✗ export: class 'dog' has no images: …" — and leaves the
project unchanged on an error. Widgets carry stable ``cbr-…`` CSS classes
(for the style sheet and for tests).

Example
-------
>>> from cbr_edu.app import Builder
>>> app = Builder(embedder="pixels:4", cache=False)
>>> view = BuilderView(app)
>>> view.new_name.value = "cat"; view.add_button.click()
>>> app.classes, view.status.value.startswith("<span class='cbr-ok'>")
(['cat'], True)
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets

from ._cards import ClassCard
from ._files import FilesPanel
from ._preview import PreviewPanel
from ._report import CheckPanel
from .builder import BuilderError

__all__ = ["BuilderView", "OUTPUT_FOLDER"]

#: Where the app writes exports and saved projects (beside the notebook).
OUTPUT_FOLDER = Path("cbr_builder")
_STYLE = Path(__file__).with_name("view.css")
_PROGRESS_FROM = 8   # more images than this in one action show the progress bar


def _section(title, body, **layout):
    head = widgets.HTML(f"<div class='cbr-section'>{title}</div>")
    return widgets.VBox([head, body], layout=widgets.Layout(**layout))


class BuilderView(widgets.VBox):
    """The app: every widget calls one method of ``builder``."""

    def __init__(self, builder, *, folder=OUTPUT_FOLDER):
        self.builder = builder
        self.folder = Path(folder)
        self.header = widgets.HTML()
        self.status = widgets.HTML()
        self.status.add_class("cbr-status")
        self.progress_bar = widgets.IntProgress(layout=widgets.Layout(display="none"))
        self.progress_bar.add_class("cbr-progress")
        self.cards_box = widgets.VBox()
        self.cards_box.add_class("cbr-cards")
        self.cards = {}
        self.new_name = widgets.Text(placeholder="new class name",
                                     layout=widgets.Layout(width="160px"))
        self.new_name.add_class("cbr-new-class-name")
        self.add_button = widgets.Button(description="add a class")
        self.add_button.add_class("cbr-add-class")
        self.add_button.on_click(lambda _: self._add_class())
        self.preview = PreviewPanel(self)
        self.checker = CheckPanel(self)
        self.files = FilesPanel(self)
        classes = widgets.VBox([self.cards_box, widgets.HBox([self.new_name, self.add_button])])
        super().__init__([
            widgets.HTML(f"<style>{_STYLE.read_text(encoding='utf-8')}</style>"),
            self.header, self.status, self.progress_bar,
            widgets.HBox([_section("Classes", classes, flex="3 1 440px", margin="0 12px 0 0"),
                          _section("Preview", self.preview, flex="2 1 340px")],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start")),
            _section("Check", self.checker),
            _section("Export and save", self.files)])
        self.add_class("cbr-builder")
        builder._watch(self._changed)
        self._changed("classes", None)
        self.say("builder", "ready: add a class, then upload photos or use the webcam", ok=None)

    # -- services for the panels ----------------------------------------------
    def say(self, action, message, *, ok=True):
        """Show a status line: ✓ (ok), ✗ (not ok) or plain (None)."""
        mark, css = {True: ("✓ ", "cbr-ok"), False: ("✗ ", "cbr-error"),
                     None: ("", "cbr-info")}[ok]
        action, message = html.escape(action, quote=False), html.escape(message, quote=False)
        self.status.value = f"<span class='{css}'>{mark}<b>{action}</b>: {message}</span>"

    def run(self, action, fn, *, done=lambda _: "done"):
        """Run one builder action; report it; return its result (None when refused)."""
        try:
            result = fn()
        except BuilderError as error:
            self.say(action, str(error), ok=False)
            return None
        finally:
            self.progress(None, None)
        self.say(action, done(result))
        return result if result is not None else True

    def progress(self, done, total):
        """Show progress of a long action (hidden for small ones and when finished)."""
        bar = self.progress_bar
        if done is None or total is None or total <= _PROGRESS_FROM:
            bar.layout.display = "none"
            return
        bar.max, bar.value = total, done
        bar.description = f"{done}/{total}"
        bar.layout.display = ""

    def close_cameras(self, *, except_for=None):
        """Only one camera at a time: close the others."""
        for slot in [*(card.webcam for card in self.cards.values()), self.preview.webcam]:
            if slot is not except_for:
                slot.close()

    # -- changes --------------------------------------------------------------
    def _add_class(self):
        name = self.new_name.value
        if self.run("add a class", lambda: self.builder.add_class(name),
                    done=lambda _: f"{name.strip()!r} added: upload photos or use the "
                                   "webcam") is not None:
            self.new_name.value = ""

    def _changed(self, what, name):
        if what == "classes":
            self._draw_cards()
        elif what == "samples" and name in self.cards:
            self.cards[name].refresh()
        n, c = sum(map(self.builder.count, self.builder.classes)), len(self.builder.classes)
        self.header.value = (f"<div class='cbr-header'><b>Classification-by-Retrieval "
                             f"builder</b> · embedder {html.escape(self.builder.embedder.spec)}"
                             f" · {c} class{'es' if c != 1 else ''}, {n} image"
                             f"{'s' if n != 1 else ''} · "
                             "nothing is trained: adding a photo adds one index row</div>")
        self.preview.refresh()
        if what != "threshold":
            self.checker.stale()

    def _draw_cards(self):
        names = self.builder.classes
        for old in [c for c in self.cards if c not in names]:
            self.cards.pop(old).close()
        for c in names:
            if c in self.cards:
                self.cards[c].refresh()
            else:
                self.cards[c] = ClassCard(self, c)
        self.cards_box.children = [self.cards[c] for c in names]
