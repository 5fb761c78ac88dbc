"""The app's file panel: export float / int8 with a download link and the file size;
save the project (with a download link) and load one."""

from __future__ import annotations

import tempfile
from pathlib import Path

import ipywidgets as widgets

from .download import DownloadLink, file_size
from .upload import FilePicker

__all__ = ["FilesPanel"]


class FilesPanel(widgets.VBox):
    """Export the model for a phone; save and load the project."""

    def __init__(self, app):
        self.app, self.builder = app, app.builder
        self.kind = widgets.ToggleButtons(options=["float", "int8"], value="float",
                                          tooltips=["32-bit weights", "int8 index: 4x smaller"],
                                          style={"button_width": "60px"})
        self.kind.add_class("cbr-export-kind")
        self.model_name = widgets.Text(value="my_classifier", description="model",
                                       layout=widgets.Layout(width="240px"))
        self.export_button = widgets.Button(description="export .tflite", button_style="primary")
        self.export_button.add_class("cbr-export-button")
        self.export_button.on_click(lambda _: self.export())
        self.export_result = widgets.HBox(layout=widgets.Layout(align_items="center"))
        self.export_result.add_class("cbr-export-result")
        self.project_name = widgets.Text(value="my_project", description="project",
                                         layout=widgets.Layout(width="240px"))
        self.save_button = widgets.Button(description="save project")
        self.save_button.add_class("cbr-save-button")
        self.save_button.on_click(lambda _: self.save())
        self.load_upload = FilePicker(self._load, label="load project", accept=".zip",
                                      multiple=False)
        self.load_upload.add_class("cbr-load-upload")
        self.save_result = widgets.HBox(layout=widgets.Layout(align_items="center"))
        self.save_result.add_class("cbr-save-result")
        super().__init__([
            widgets.HBox([self.kind, self.model_name, self.export_button],
                         layout=widgets.Layout(align_items="center", flex_flow="row wrap")),
            self.export_result,
            widgets.HBox([self.project_name, self.save_button, self.load_upload],
                         layout=widgets.Layout(align_items="center", flex_flow="row wrap")),
            self.save_result])
        self.add_class("cbr-files")

    def _target(self, box, suffix):
        name = Path(box.value.strip() or box.placeholder or "untitled").name
        name = name[:-len(suffix)] if name.lower().endswith(suffix) else name
        self.app.folder.mkdir(parents=True, exist_ok=True)
        return self.app.folder / f"{name}{suffix}"

    def _show(self, box, path, note):
        for old in box.children:
            old.close()
        link = DownloadLink(path)
        link.add_class("cbr-download-widget")
        box.children = [link, widgets.HTML(f"<span class='cbr-note'>{note}</span>")]

    def export(self):
        """Export with the chosen kind into the app's folder; show the download link."""
        int8 = self.kind.value == "int8"
        path = self._target(self.model_name, ".tflite")
        self.app.say("export", f"writing {path.name} (the first export converts the "
                               "embedder: about half a minute)…", ok=None)
        result = self.app.run(
            "export", lambda: self.builder.export(path, int8=int8, overwrite=True),
            done=lambda r: f"{r.path.name}, {file_size(r.bytes)}, {r.num_classes} classes")
        if result is not None:
            self._show(self.export_result, result.path,
                       f"{file_size(result.bytes)} · {'int8' if int8 else 'float'} · "
                       f"{result.num_classes} classes · saved in {result.path}")

    def save(self):
        """Save the project into the app's folder; show the download link."""
        path = self._target(self.project_name, ".zip")
        saved = self.app.run("save project",
                             lambda: self.builder.save(path, overwrite=True),
                             done=lambda p: f"{p.name}, {file_size(p.stat().st_size)}")
        if saved is not None:
            self._show(self.save_result, saved, f"saved in {saved}")

    def _load(self, files):
        upload = files[0]
        with tempfile.TemporaryDirectory(prefix="cbr-project-") as folder:
            path = Path(folder) / "project.zip"
            path.write_bytes(bytes(upload["content"]))
            other = self.app.run(f"load project {upload['name']!r}",
                                 lambda: type(self.builder).load(path),
                                 done=lambda b: f"{len(b.classes)} classes")
        if other is not None:
            self.builder._adopt(other)
