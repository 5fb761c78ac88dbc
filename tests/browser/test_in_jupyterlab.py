"""The app and the notebooks' widgets in a real JupyterLab, in headless Chromium.

* notebook 00 shows the builder: a learner creates two classes by uploading files, records
  samples with the (fake) webcam, tries a photo and sees the confidence bars change,
  removes a class, checks, and exports with a download link;
* 01's rotation sliders move the picture; 04's k slider follows the aggregation;
* the builder's upload works in 05 and 07 as they ship.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from .labpage import SHOTS

pytestmark = pytest.mark.browser
ANY = re.compile(".*")   # an attribute present, whatever its value

# ---------------------------------------------------------------- the builder in 00

@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """JPEG files of bundled photo views: ``{class: [paths]}`` (4 to add, the rest to try)."""
    from cbr_edu import datasets
    ds = datasets.load("photo_views")
    folder = tmp_path_factory.mktemp("photos")
    out = {}
    for name in ("astronaut", "rocket", "flower"):
        c = ds.class_names.index(name)
        out[name] = []
        for j, i in enumerate(np.flatnonzero(ds.labels == c)):
            path = folder / f"{name}_{j}.jpg"
            Image.fromarray(ds.images[i]).save(path, quality=90)
            out[name].append(path)
    (folder / "notes.txt").write_text("not a photo")
    out["text"] = [folder / "notes.txt"]
    return out


def add_class(lab, app, name):
    app.locator(".cbr-new-class-name input").fill(name)
    app.locator(".cbr-add-class").click()
    lab.wait_idle()
    expect_status(app, f"'{name}' added")


def class_card(app, name):
    """The card whose name box holds ``name``."""
    cards = app.locator(".cbr-class-card")
    for i in range(cards.count()):
        if cards.nth(i).locator(".cbr-class-name input").input_value() == name:
            return cards.nth(i)
    raise AssertionError(f"no card for class {name!r}")


def expect_status(app, text, timeout=30_000):
    from playwright.sync_api import expect
    expect(app.locator(".cbr-status")).to_contain_text(text, timeout=timeout)


def bar_values(app):
    """``{class: text}`` of the confidence bars."""
    rows = app.locator(".cbr-bars .cbr-bar-row[data-class]")
    return {rows.nth(i).get_attribute("data-class"):
            rows.nth(i).locator(".cbr-bar-value").inner_text() for i in range(rows.count())}


def test_builder_in_notebook_00(lab, page, photos):
    from playwright.sync_api import expect
    lab.open("00_welcome.ipynb")
    lab.run_all()
    app = page.locator(".cbr-builder").first
    app.scroll_into_view_if_needed()
    expect(app.locator(".cbr-class-card")).to_have_count(2)   # the notebook's cat and coffee

    # two classes by uploading files; a text file is refused and changes nothing
    for name in ("astronaut", "rocket"):
        add_class(lab, app, name)
        lab.upload(class_card(app, name).locator(".cbr-class-upload"), photos[name][:4])
        expect_status(app, f"upload to '{name}': 4 images added")
        expect(class_card(app, name).locator(".cbr-thumb")).to_have_count(4)
    lab.upload(class_card(app, "rocket").locator(".cbr-class-upload"), photos["text"])
    expect_status(app, "✗ upload to 'rocket'")
    expect(class_card(app, "rocket").locator(".cbr-class-count")).to_contain_text("4 images")
    lab.shot("builder-classes", app)

    # try a photo: one bar per class, the right one first
    lab.upload(app.locator(".cbr-preview-upload"), photos["rocket"][5:6])
    expect(app.locator(".cbr-bars .cbr-best")).to_have_attribute("data-class", "rocket")
    before = bar_values(app)
    assert set(before) == {"cat", "coffee", "astronaut", "rocket"}, before
    lab.shot("builder", app)                                  # the README's picture

    # samples from the fake webcam, held for a moment
    add_class(lab, app, "webcam")
    webcam_card = class_card(app, "webcam")
    webcam_card.locator(".cbr-class-webcam").click()
    record = webcam_card.locator(".cbr-camera-button")
    expect(record).to_be_enabled(timeout=20_000)
    record.scroll_into_view_if_needed()
    # held (pointer events on the button itself: the page still moves while the camera and
    # the thumbnails load, so a mouse aimed once can miss) until three frames are in
    record.dispatch_event("pointerdown")
    expect(webcam_card.locator(".cbr-camera-status")).to_have_text(
        re.compile(r"recording: ([3-9]|\d\d+) frame"), timeout=30_000)
    record.dispatch_event("pointerup")
    lab.wait_idle()
    expect(webcam_card.locator(".cbr-class-count")).not_to_contain_text("0 images",
                                                                        timeout=30_000)
    lab.shot("builder-webcam", app)

    # the bars changed: a new class has a bar now
    after = bar_values(app)
    assert "webcam" in after and after != before, (before, after)

    # remove a class (two clicks: the first asks)
    remove = webcam_card.locator(".cbr-class-remove")
    remove.click()
    expect(remove).to_contain_text("really remove?")
    remove.click()
    lab.wait_idle()
    expect(app.locator(".cbr-class-card")).to_have_count(4)
    assert "webcam" not in bar_values(app)

    # check: a confusion matrix whose cells show images
    app.locator(".cbr-check-button").click()
    expect_status(app, "leave-one-out accuracy", timeout=60_000)
    expect(app.locator(".cbr-matrix .cbr-cell").first).to_be_visible()
    assert app.locator(".cbr-matrix img").count() > 0

    # export: a download link with the file size, and the download itself
    app.locator(".cbr-export-button").click()
    link = app.locator(".cbr-download-link").first
    expect(link).to_contain_text("download my_classifier.tflite", timeout=180_000)
    expect(link).to_contain_text("MB")
    lab.shot("builder-export", app)
    with page.expect_download(timeout=60_000) as download:
        link.click()
    saved = SHOTS.parent / "my_classifier.tflite"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "my_classifier.tflite"
    written = next(lab.root.rglob("cbr_builder/my_classifier.tflite"))
    assert saved.read_bytes() == written.read_bytes()
    saved.unlink()


# ---------------------------------------------------------------- the notebooks' widgets

def labelled(page, kind, label):
    """The widget of CSS class ``kind`` whose description is exactly ``label``."""
    name = page.locator(".widget-label", has_text=re.compile(f"^{re.escape(label)}$"))
    return page.locator(f".{kind}").filter(has=name).first


def picture(output):
    """The ``src`` of the (matplotlib) image in a widget's output."""
    return output.locator("img").first.get_attribute("src")


def wait_for_new_picture(lab, output, old, timeout=60):
    lab.wait_idle()
    lab.page.wait_for_function(
        "([el, old]) => { const img = el.querySelector('img'); return img && img.src !== old; }",
        arg=[output.element_handle(), old], timeout=timeout * 1000)


def test_01_rotation_slider_moves_the_picture(lab, page):
    from playwright.sync_api import expect
    lab.open("01_similarity.ipynb")
    lab.run_all()
    widget = page.locator(".widget-interact").first
    widget.scroll_into_view_if_needed()
    output = widget.locator(".widget-output")
    expect(output.locator("img")).to_have_count(1)
    handle = widget.locator(".cbr-angle .noUi-handle")
    for angle in ("65", "70", "75"):                   # one step at a time: 60° -> 75°
        before = picture(output)
        handle.press("ArrowRight")
        wait_for_new_picture(lab, output, before)
        expect(widget.locator(".cbr-angle .widget-readout")).to_contain_text(angle)
    rotated = picture(output)
    widget.locator(".cbr-length .noUi-handle").press("End")    # length of b: 2.0
    wait_for_new_picture(lab, output, rotated)
    lab.shot("nb01-rotation", widget)


def test_04_k_slider_follows_the_aggregation(lab, page):
    from playwright.sync_api import expect
    lab.open("04_aggregation_layer.ipynb")
    lab.run_all()
    dropdown = labelled(page, "widget-dropdown", "aggregation")
    dropdown.scroll_into_view_if_needed()
    k = labelled(page, "widget-slider", "k")
    output = page.locator(".widget-output").filter(has=page.locator("img")).first
    slider = k.locator(".noUi-target")
    expect(slider).not_to_have_attribute("disabled", ANY)
    before = picture(output)
    dropdown.locator("select").select_option("max")
    wait_for_new_picture(lab, output, before)
    expect(slider).to_have_attribute("disabled", ANY)       # k changes nothing for max …
    dropdown.locator("select").select_option("mean")
    expect(slider).to_have_attribute("disabled", ANY)       # … nor for mean
    dropdown.locator("select").select_option("topk_mean")
    expect(slider).not_to_have_attribute("disabled", ANY)
    lab.wait_idle()
    before = picture(output)
    k.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")                      # k: 2 -> 3
    wait_for_new_picture(lab, output, before)
    lab.shot("nb04-aggregation", page.locator(".jp-Cell").filter(has=dropdown).first)


@pytest.fixture(scope="module")
def grey_photos(tmp_path_factory):
    """Three small photo files of one new class (a bundled grey photo, cropped)."""
    from skimage import data
    folder = tmp_path_factory.mktemp("upload")
    camera = data.camera()
    paths = []
    for j, (y, x) in enumerate([(0, 0), (100, 60), (200, 120)]):
        path = folder / f"camera_{j}.png"
        Image.fromarray(np.ascontiguousarray(camera[y:y + 300, x:x + 300])).save(path)
        paths.append(path)
    return paths


@pytest.fixture(params=["05_build_your_own.ipynb", "07_hackathon_starter.ipynb"])
def notebook(request):
    return request.param


def test_builder_upload_in(notebook, lab, page, grey_photos):
    from playwright.sync_api import expect
    lab.open(notebook)
    lab.run_all()
    app = page.locator(".cbr-builder").first
    app.scroll_into_view_if_needed()
    cards = app.locator(".cbr-class-card")
    count = cards.count()
    app.locator(".cbr-new-class-name input").fill("photographer")
    app.locator(".cbr-add-class").click()
    lab.wait_idle()
    expect(cards).to_have_count(count + 1)
    card = cards.nth(count)
    lab.upload(card.locator(".cbr-class-upload"), grey_photos)
    expect(app.locator(".cbr-status")).to_contain_text(
        "upload to 'photographer': 3 images added")
    expect(card.locator(".cbr-thumb")).to_have_count(3)
    lab.upload(app.locator(".cbr-preview-upload"), grey_photos[:1])
    expect(app.locator(".cbr-bars .cbr-best")).to_have_attribute("data-class", "photographer")
    lab.shot(f"builder-upload-{notebook[:2]}", app)
