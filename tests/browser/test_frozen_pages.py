"""Frozen widget pictures (the instructor pages) as Chromium lays them out: no kernel, no Lab.

The builder's class cards show each example as a thumbnail with a remove × below it; on a
static page they must keep the live app's layout: every thumbnail a 64 px square, clear of
its ×, whatever the photo's shape.
"""

from __future__ import annotations

import pytest

from cbr_edu.app import Builder
from cbr_edu.app.view import BuilderView
from cbr_edu.instructor.render import render_page
from frozen_widgets import notebook_showing, odd_photos

from .conftest import chromium_path
from .labpage import SHOTS

pytestmark = pytest.mark.browser

TILES = """() => [...document.querySelectorAll('.cbr-frozen .cbr-thumb')].map(tile => {
    const box = el => { const r = el.getBoundingClientRect();
                        return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
    return {image: box(tile.querySelector('img')),
            cross: box(tile.querySelector('.cbr-thumb-remove'))}; })"""


def _overlap(a, b):
    return a["left"] < b["right"] and b["left"] < a["right"] and \
        a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_frozen_builder_thumbnails_stay_clear_of_their_remove_buttons(tmp_path):
    from playwright.sync_api import sync_playwright
    builder = Builder(embedder="pixels")
    for name, photos in odd_photos().items():
        builder.add_class(name, photos)
    page_path = render_page(notebook_showing(BuilderView(builder)), tmp_path / "frozen.html")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            page = chromium.new_page(viewport={"width": 1200, "height": 900})
            page.goto(page_path.as_uri())
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.locator(".cbr-builder").screenshot(path=SHOTS / "frozen_builder.png")
            tiles = page.evaluate(TILES)
        finally:
            chromium.close()
    assert len(tiles) == 4
    for tile in tiles:
        image, cross = tile["image"], tile["cross"]
        assert not _overlap(image, cross), tile
        assert (image["right"] - image["left"], image["bottom"] - image["top"]) == (64, 64), tile
