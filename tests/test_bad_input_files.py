"""Bad-input corpus, image files: decided by content, not by name.

What Pillow (or, for TIFFs it cannot decode, tifffile) reads is read whatever the
file is called; a file nothing here decodes is named by what its bytes say it is.
Albums built from all of them leave every file as it was.
"""

import io

import numpy as np
import pytest
from conftest import snapshot
from PIL import Image, features

from cbr_edu.images import ImageReadError, load_folder, read_image

tifffile = pytest.importorskip("tifffile")


def _jpeg_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def _avif(path):
    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    Image.new("RGB", (16, 12), (30, 30, 200)).save(path, "AVIF")


def _float_rgba_tiff(path, scale=1.0):
    pixels = np.zeros((12, 16, 4), np.float32)
    pixels[..., 1] = 0.8 * scale         # green
    pixels[..., 3] = 1.0 * scale         # opaque...
    pixels[:, :4, 3] = 0.0               # ...but for a transparent strip on the left
    tifffile.imwrite(path, pixels, photometric="rgb", extrasamples=["unassalpha"])


def _planar_float_tiff(path):
    tifffile.imwrite(path, np.full((3, 12, 16), 0.5, np.float32), photometric="rgb",
                     planarconfig="separate")


READABLE = {
    "avif": ("photo.avif", _avif),
    "avif named .jpg": ("photo.jpg", _avif),
    "jpeg named .png": ("photo.png", lambda p: p.write_bytes(_jpeg_bytes())),
    "float RGBA tiff": ("scan.tif", _float_rgba_tiff),
    "planar float tiff": ("scan.tiff", _planar_float_tiff),
    "16-bit grey tiff": ("grey.tif", lambda p: tifffile.imwrite(
        p, np.full((12, 16), 40000, np.uint16))),
}


@pytest.mark.parametrize("case", list(READABLE))
def test_images_pillow_or_tifffile_can_read_are_read(tmp_path, case):
    name, make = READABLE[case]
    make(tmp_path / name)
    rgb = read_image(tmp_path / name)
    assert rgb.dtype == np.uint8 and rgb.shape == (12, 16, 3)


def test_a_float_rgba_tiff_keeps_its_colours_and_alpha(tmp_path):
    _float_rgba_tiff(tmp_path / "scan.tif")
    rgb = read_image(tmp_path / "scan.tif")
    assert rgb[0, 0].tolist() == [255, 255, 255]      # transparent: white, as in a viewer
    assert rgb[0, 10].tolist() == [0, 204, 0]          # 0.8 green
    assert read_image(tmp_path / "scan.tif", max_side=8).shape == (6, 8, 3)


def _ftyp(brand):
    return b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x00\x00" + bytes(40)


UNREADABLE = {
    "heic": ("IMG_1.heic", _ftyp(b"heic"), "a HEIC/HEIF image, which cannot be decoded here"),
    "heic named .jpg": ("IMG_2.jpg", _ftyp(b"heic"), "HEIC/HEIF image, which cannot be decoded "
                                                     "here (its name says '.jpg')"),
    "svg": ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
            "a SVG (vector) image"),
    "photoshop": ("art.psd", b"8BPS\x00\x09" + bytes(40), "Photoshop (PSD)"),
    "pdf named .png": ("scan.png", b"%PDF-1.7\n" + bytes(40),
                       "it is a PDF document, not an image (its name says '.png')"),
    "video named .jpg": ("clip.jpg", _ftyp(b"isom"), "it is a video (MP4/MOV), not an image"),
    "zip named .png": ("photos.png", b"PK\x03\x04" + bytes(40), "it is a ZIP archive"),
    "text named .jpg": ("notes.jpg", b"buy milk\n", "not an image file Pillow can read"),
    "damaged jpeg": ("cut.jpg", b"\xff\xd8\xff\xe0" + bytes(30), "JPEG"),
    "truncated png": ("cut.png", None, "truncated"),
    "hdr float tiff": ("hdr.tif", None, "TIFF pixels that cannot be shown as RGB"),
    "camera raw": ("IMG_3.dng", b"II*\x00" + bytes(40), "camera RAW"),
    "empty": ("empty.jpg", b"", "empty file"),
}


def _make_unreadable(path, data):
    if path.name == "cut.png":
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8)).save(
            buffer, "PNG")
        path.write_bytes(buffer.getvalue()[:300])
    elif path.name == "hdr.tif":
        _float_rgba_tiff(path, scale=1000.0)
    else:
        path.write_bytes(data)


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_files_are_named_by_their_content(tmp_path, case):
    name, data, phrase = UNREADABLE[case]
    _make_unreadable(tmp_path / name, data)
    before = snapshot(tmp_path)
    with pytest.raises(ImageReadError) as error:
        read_image(tmp_path / name)
    assert phrase in str(error.value) and name in str(error.value)
    if case not in ("text named .jpg",):
        assert "extension may be wrong" not in str(error.value)
    assert snapshot(tmp_path) == before


def test_an_album_of_all_of_them(tmp_path):
    """The readable ones are indexed, the others skipped with their reason; nothing changes."""
    root = tmp_path / "album"
    (root / "good").mkdir(parents=True)
    (root / "bad").mkdir()
    for case, (name, make) in READABLE.items():
        if case.startswith("avif") and not features.check("avif"):
            continue
        make(root / "good" / name)
    Image.new("RGB", (8, 8)).save(root / "bad" / "fine.png")  # the class has one good image
    for name, data, _ in UNREADABLE.values():
        _make_unreadable(root / "bad" / name, data)
    before = snapshot(root)
    eager, lazy = load_folder(root), load_folder(root, load_images=False)
    assert snapshot(root) == before
    good = sorted(p.name for p, label in zip(eager.paths, eager.labels) if label == "good")
    assert good == sorted({name for name, _ in READABLE.values()
                           if features.check("avif") or not name.endswith(".avif")})
    # a lazy load checks headers only: it also lists what decodes badly later
    assert set(eager.paths) <= set(lazy.paths)
    assert {p.name for p in set(lazy.paths) - set(eager.paths)} <= {"cut.png", "cut.jpg", "hdr.tif"}
    reasons = {p.name: why for p, why in eager.skipped}
    for name, _, phrase in UNREADABLE.values():
        assert name in reasons, name
    assert "HEIC/HEIF" in reasons["IMG_2.jpg"] and "camera RAW" in reasons["IMG_3.dng"]
