"""The app's check panel: leave-one-out accuracy per class, and a confusion matrix whose
cells show the images behind them; a mistake's nearest example can be removed at once."""

from __future__ import annotations

import html

import ipywidgets as widgets

from ._thumbs import inline_image, thumbnail_widget

__all__ = ["CheckPanel"]

_CELL_THUMBNAILS = 3


class CheckPanel(widgets.VBox):
    """ "check" runs the builder's leave-one-out check and draws the result."""

    def __init__(self, app):
        self.app, self.builder = app, app.builder
        self.button = widgets.Button(description="check", tooltip="leave-one-out check: each "
                                     "image is classified by all the others")
        self.button.add_class("cbr-check-button")
        self.button.on_click(lambda _: self.run())
        self.summary = widgets.HTML("<span class='cbr-note'>How well does each class hold "
                                    "together? Each image is classified by all the others.</span>")
        self.summary.add_class("cbr-check-summary")
        self.matrix = widgets.GridBox()
        self.matrix.add_class("cbr-matrix")
        self.detail = widgets.VBox()
        self.detail.add_class("cbr-cell-detail")
        self.result = None
        self._selected = None
        super().__init__([widgets.HBox([self.button, self.summary],
                                       layout=widgets.Layout(align_items="center")),
                          self.matrix, self.detail])
        self.add_class("cbr-check")

    def run(self):
        """Check the project and draw the matrix (keeps the selected cell)."""
        result = self.app.run("check", self.builder.check,
                              done=lambda r: f"leave-one-out accuracy {r.accuracy:.0%}")
        self.result = result
        if result is None:
            return
        per_class = " · ".join(f"{html.escape(name)} {acc:.0%}"
                               for name, acc in result.per_class.items())
        skipped = (f"<br>not checked (fewer than 2 images): "
                   f"{html.escape(', '.join(result.skipped))}" if result.skipped else "")
        self.summary.value = (f"<b>{result.accuracy:.0%}</b> of {int(result.matrix.sum())} "
                              f"images answered right ({per_class}){skipped}<br>"
                              "<span class='cbr-note'>rows: true class · columns: answer · "
                              "click a cell to see its images</span>")
        self._draw_matrix(result)
        self._show_cell(self._selected)

    def stale(self):
        """The project changed: the shown result is out of date."""
        if self.result is not None:
            self.summary.value = ("<span class='cbr-note'>the project changed: click "
                                  "<b>check</b> again</span>")
            self.matrix.children, self.detail.children = [], []
            self.result = None

    def _draw_matrix(self, result):
        cells = [widgets.HTML("")] + [widgets.HTML(f"<b>{html.escape(c)}</b>")
                                      for c in result.columns]
        for i, row in enumerate(result.rows):
            cells.append(widgets.HTML(f"<b>{html.escape(row)}</b>"))
            for j, column in enumerate(result.columns):
                cells.append(self._cell(row, column, int(result.matrix[i, j])))
        for old in self.matrix.children:
            old.close()
        self.matrix.children = cells
        self.matrix.layout.grid_template_columns = (
            f"max-content repeat({len(result.columns)}, minmax(72px, max-content))")

    def _cell(self, row, column, count):
        button = widgets.Button(description=str(count), tooltip=f"{row} answered {column}",
                                button_style="" if count == 0 else
                                ("success" if row == column else "danger"),
                                layout=widgets.Layout(width="auto"))
        button.add_class("cbr-cell")
        button.on_click(lambda _: self._show_cell((row, column)))
        items = self.result.cells.get((row, column), [])[:_CELL_THUMBNAILS]
        thumbs = "".join(inline_image(self.builder.samples(row)[m.position].thumbnail, 28)
                         for m in items)
        return widgets.VBox([button, widgets.HTML(thumbs)])

    def _show_cell(self, key):
        self._selected = key
        for old in self.detail.children:
            old.close()
        items = [] if key is None or self.result is None else self.result.cells.get(key, [])
        if key is None:
            self.detail.children = []
            return
        row, column = key
        title = widgets.HTML(f"<b>{html.escape(row)}</b> images answered "
                             f"<b>{html.escape(column)}</b>: {len(items)}")
        self.detail.children = [title] + [self._explained(row, m) for m in items]

    def _explained(self, row, item):
        """A sample, the example that answered for it, and "remove this example"."""
        sample = self.builder.samples(row)[item.position]
        nearest = self.builder.samples(item.nearest_class)[item.nearest_position]
        remove = widgets.Button(description="remove this example",
                                tooltip="remove the example that gave this answer")
        remove.add_class("cbr-remove-example")
        remove.on_click(lambda _: self._remove(item.nearest_class, nearest))
        text = widgets.HTML(
            f"{html.escape(row)} #{item.position + 1} &rarr; nearest example: "
            f"<b>{html.escape(item.nearest_class)}</b> #{item.nearest_position + 1} "
            f"(similarity {item.similarity:.2f})")
        return widgets.HBox([thumbnail_widget(sample), thumbnail_widget(nearest), text, remove],
                            layout=widgets.Layout(align_items="center"))

    def _remove(self, name, sample):
        positions = [i for i, s in enumerate(self.builder.samples(name)) if s is sample]
        if self.app.run(f"remove this example ({name})",
                        lambda: self.builder.remove_images(name, positions),
                        done=lambda _: f"{sample.source} removed from {name!r}") is not None:
            self.run()
