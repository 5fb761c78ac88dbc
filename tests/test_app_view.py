"""The builder's widgets, driven through their callbacks (clicks, value changes, messages
from the page), as a browser would — without one."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from cbr_edu.app import Builder
from cbr_edu.app.view import BuilderView
from test_app_builder import photo, photos, png


def pick(picker, uploads):
    """What the page sends when files are chosen in a FilePicker (one part each)."""
    picker._received(picker, {"event": "begin", "count": len(uploads)}, [])
    for i, upload in enumerate(uploads):
        picker._received(picker, {"event": "part", "index": i, "name": upload["name"],
                                  "part": 0, "parts": 1}, [upload["content"]])
    picker._received(picker, {"event": "end", "count": len(uploads)}, [])


def status(view):
    return view.status.value


@pytest.fixture
def view(tmp_path):
    app = Builder(embedder="pixels:8:rgb", cache=False)
    app.add_class("red", photos("red", 3))
    app.add_class("green", photos("green", 3, start=10))
    return BuilderView(app, folder=tmp_path / "out")


def add_class(view, name):
    view.new_name.value = name
    view.add_button.click()


def test_add_a_class_and_upload_photos(view):
    add_class(view, "blue")
    assert view.builder.classes == ["red", "green", "blue"] and "'blue' added" in status(view)
    assert view.new_name.value == ""
    card = view.cards["blue"]
    pick(card.upload, [png(p, f"b{i}.png") for i, p in enumerate(photos("blue", 2, start=20))])
    assert view.builder.count("blue") == 2 and len(card.thumbs.children) == 2
    assert "✓ <b>upload to 'blue'</b>: 2 images added" in status(view)
    assert "2 images" in card.count.value


def test_bad_input_shows_the_buttons_name_and_changes_nothing(view):
    add_class(view, "Red")
    assert "✗ <b>add a class</b>" in status(view) and "already a class" in status(view)
    assert view.builder.classes == ["red", "green"]
    pick(view.cards["red"].upload, [png(photo("red", 40)), {"name": "x.jpg", "content": b"no"}])
    assert "upload to 'red'" in status(view) and "x.jpg" in status(view)
    assert view.builder.count("red") == 3
    add_class(view, "blue")
    view.files.export_button.click()
    assert "export" in status(view) and "'blue' has no images" in status(view)
    assert not view.files.export_result.children


def test_remove_a_sample_and_a_class_and_rename(view):
    card = view.cards["red"]
    card.thumbs.children[0].children[1].click()                  # the × under the first
    assert view.builder.count("red") == 2 and len(card.thumbs.children) == 2
    card.remove.click()                                          # the first click asks
    assert view.builder.classes == ["red", "green"] and card.remove.description == "really remove?"
    card.remove.click()
    assert view.builder.classes == ["green"] and list(view.cards) == ["green"]
    view.cards["green"].name_box.value = "lime"
    assert view.builder.classes == ["lime"] and list(view.cards) == ["lime"]
    add_class(view, "red")
    view.cards["red"].name_box.value = "lime"                    # taken: refused, name restored
    assert view.cards["red"].name_box.value == "red" and "already a class" in status(view)


def test_the_preview_bars_the_nearest_example_and_the_threshold(view):
    preview = view.preview
    pick(preview.upload, [png(photo("green", 77))])
    assert "cbr-bar-row cbr-best' data-class='green'" in preview.bars.value
    assert "nearest example is <b>green</b>" in preview.why.value and "<img" in preview.why.value
    assert "try a photo" in status(view) and "green" in status(view)
    preview.threshold.value = 0.999
    assert view.builder.threshold == pytest.approx(0.999)
    assert "cbr-unknown" in preview.bars.value
    preview.threshold.value = 0.0
    assert view.builder.threshold is None and "cbr-unknown" not in preview.bars.value
    add_class(view, "blue")
    assert "data-class='blue'" in preview.bars.value and "no images" in preview.bars.value


def test_webcam_frames_become_samples_and_a_missing_camera_is_reported(view):
    card = view.cards["green"]
    card.webcam.button.value = True
    camera = card.webcam.camera
    assert camera is not None and card.webcam.box.children == (camera,)
    frame = png(photo("green", 90))["content"]
    camera._received(camera, {"event": "frame", "purpose": "sample"}, [frame])
    assert view.builder.count("green") == 4
    camera._received(camera, {"event": "error", "message": "no camera found"}, [])
    assert "✗" in status(view) and "no camera found" in status(view)
    view.preview.webcam.button.value = True                      # one camera at a time
    assert card.webcam.camera is None and not card.webcam.button.value
    live = view.preview.webcam.camera
    sent = []
    live.send = lambda content, buffers=None: sent.append(content)
    live._received(live, {"event": "frame", "purpose": "preview"}, [frame])
    assert "data-class='green'" in view.preview.bars.value and sent == [{"event": "ready"}]


def test_check_shows_the_images_and_removes_the_example_to_blame(view):
    view.builder.add_images("red", [photo("green", 40)])         # a green photo filed as red
    view.checker.button.click()
    assert "leave-one-out accuracy" in status(view)
    cells = [c for c in view.checker.matrix.children if hasattr(c, "children")]
    assert len(cells) == 4 and all("<img" in c.children[1].value for c in cells
                                   if c.children[0].description != "0")
    wrong = next(c for c in cells if c.children[0].button_style == "danger")
    wrong.children[0].click()
    [title, row] = view.checker.detail.children
    assert "answered <b>green</b>: 1" in title.value
    row.children[-1].click()                                     # remove this example
    assert view.builder.count("green") == 2
    assert view.checker.result is not None                       # checked again at once


def test_export_and_save_show_download_links_and_a_project_loads_back(view, tmp_path):
    view.files.kind.value = "int8"
    view.files.export_button.click()
    link = view.files.export_result.children[0]
    assert link.label.startswith("download my_classifier.tflite (") and "kB)" in link.label
    sent = []
    link.send = lambda content, buffers=None: sent.append((content, buffers))
    link._received(link, {"event": "fetch"}, [])
    assert sent[0][0]["filename"] == "my_classifier.tflite"
    assert sent[0][1][0] == (tmp_path / "out" / "my_classifier.tflite").read_bytes()

    view.files.save_button.click()
    saved = tmp_path / "out" / "my_project.zip"
    assert zipfile.is_zipfile(saved) and "save project" in status(view)
    other = Builder(embedder="pixels:8:rgb", cache=False)
    other_view = BuilderView(other, folder=tmp_path / "other")
    pick(other_view.files.load_upload, [{"name": "my_project.zip",
                                         "content": saved.read_bytes()}])
    assert other.classes == ["red", "green"] and list(other_view.cards) == ["red", "green"]
    pick(other_view.files.load_upload, [{"name": "nope.zip", "content": b"nope"}])
    assert "✗" in status(other_view) and "not a builder project" in status(other_view)
    assert other.classes == ["red", "green"]


def test_a_picker_that_lost_a_part_says_so(view):
    card = view.cards["red"]
    card.upload._received(card.upload, {"event": "begin", "count": 1}, [])
    card.upload._received(card.upload, {"event": "part", "index": 0, "name": "a.png",
                                        "part": 0, "parts": 2}, [b"half"])
    card.upload._received(card.upload, {"event": "end", "count": 1}, [])
    assert "only 0 of 1 files arrived" in status(view) and view.builder.count("red") == 3


def test_displaying_the_builder_shows_the_view_with_a_text_fallback(view):
    bundle = view.builder._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("<Builder pixels:8:rgb: 2 classes (red 3, green 3)")
    assert Image.open(io.BytesIO(view.builder.samples("red")[0].thumbnail)).format == "JPEG"
