"""Behaviour of cbr_edu.images: reading many formats and loading album folders."""

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from cbr_edu.images import (
    MAX_SHRINK, AlbumError, ImageReadError, is_hidden, load_folder, read_image, resize, to_rgb,
)

# --------------------------------------------------------------------------- helpers


def two_colour(w=40, h=20):
    """Left half red, right half blue (RGB uint8)."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (255, 0, 0)
    a[:, w // 2:] = (0, 0, 255)
    return a


def save_exif_jpeg(path, array, orientation):
    im = Image.fromarray(array)
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    im.save(path, "JPEG", quality=95, exif=exif.tobytes())


def png_header_only(path, width, height):
    """A tiny PNG whose header claims width x height (never decodable)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    Path(path).write_bytes(data)


def snapshot(root):
    """{relative path: (kind, sha256 or link target, mtime_ns, size)} of the tree, no following."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p), st.st_mtime_ns, st.st_size)
            elif os.path.isdir(p):
                out[rel] = ("dir", None, st.st_mtime_ns, None)
            elif not os.path.isfile(p):  # FIFO etc.: never open it
                out[rel] = ("special", None, st.st_mtime_ns, None)
            else:
                digest = hashlib.sha256(Path(p).read_bytes()).hexdigest()
                out[rel] = ("file", digest, st.st_mtime_ns, st.st_size)
    return out


# --------------------------------------------------------------------------- read_image


def test_exif_orientation_is_applied(tmp_path):
    a = two_colour(40, 20)
    p = tmp_path / "portrait.jpg"
    save_exif_jpeg(p, a, orientation=6)  # "rotate 90° clockwise to display"
    out = read_image(p)
    assert out.shape == (40, 20, 3)
    expected = np.rot90(a, k=-1)  # clockwise
    assert np.abs(out.astype(int) - expected.astype(int)).mean() < 10
    # the red half ends up on top
    assert out[:10, :, 0].mean() > 200 and out[-10:, :, 2].mean() > 200
    # without EXIF the same pixels stay landscape
    p2 = tmp_path / "plain.jpg"
    Image.fromarray(a).save(p2, quality=95)
    assert read_image(p2).shape == (20, 40, 3)


def test_rgba_is_composited_on_white(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[0, 0] = (255, 0, 0, 255)      # opaque red
    a[0, 1] = (255, 0, 0, 0)        # fully transparent red -> white
    a[0, 2] = (0, 0, 0, 128)        # half-transparent black -> mid grey
    p = tmp_path / "rgba.png"
    Image.fromarray(a, "RGBA").save(p)
    out = read_image(p)
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3)
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 1].tolist() == [255, 255, 255]
    assert 120 <= out[0, 2, 0] <= 135


def test_la_and_palette_transparency(tmp_path):
    p = tmp_path / "la.png"
    Image.new("LA", (3, 3), (0, 0)).save(p)
    assert (read_image(p) == 255).all()
    # P image whose index 1 is transparent
    pal = Image.new("P", (4, 1))
    pal.putpalette([0, 255, 0, 255, 0, 0] + [0] * 762)
    pal.putdata([0, 1, 0, 1])
    q = tmp_path / "p.png"
    pal.save(q, transparency=1)
    out = read_image(q)
    assert out[0, 0].tolist() == [0, 255, 0]
    assert out[0, 1].tolist() == [255, 255, 255]


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (6, 6), c).convert("P") for c in ((255, 0, 0), (0, 0, 255))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(p) as im:
        assert im.mode == "P" and getattr(im, "n_frames", 1) == 2
    out = read_image(p)
    assert out.shape == (6, 6, 3)
    assert out[..., 0].min() > 200 and out[..., 2].max() < 60  # red, not blue


def test_grey_l_and_1_modes(tmp_path):
    p = tmp_path / "l.png"
    Image.fromarray(np.array([[0, 128, 255]], np.uint8), "L").save(p)
    out = read_image(p)
    assert out.shape == (1, 3, 3)
    assert out[0, :, 0].tolist() == [0, 128, 255]
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    b = tmp_path / "bits.bmp"
    Image.new("1", (5, 5), 1).save(b)
    assert (read_image(b) == 255).all()


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    a = np.array([[0, 257 * 128, 65535, 1000]], np.uint16)
    p = tmp_path / "sixteen.png"
    Image.fromarray(a).save(p)
    with Image.open(p) as im:
        assert im.mode.startswith("I")
    out = read_image(p)[0, :, 0]
    assert out.tolist() == [0, 128, 255, 4]  # 1000/257 = 3.9 -> 4 (clipping would give 255)


def test_float_and_int32_tiff(tmp_path):
    f = tmp_path / "float.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F").save(f)
    assert read_image(f)[0, :, 0].tolist() == [0, 128, 255]
    g = tmp_path / "wide.tif"
    Image.fromarray(np.array([[-100.0, 0.0, 100.0]], np.float32), "F").save(g)
    stretched = read_image(g)[0, :, 0].tolist()
    assert stretched[0] == 0 and stretched[2] == 255 and stretched[1] in (127, 128)


def test_cmyk_jpeg(tmp_path):
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(p, quality=95)
    with Image.open(p) as im:
        assert im.mode == "CMYK"
    out = read_image(p)
    r, g, b = out[..., 0].mean(), out[..., 1].mean(), out[..., 2].mean()
    assert r > 200 and g < 60 and b < 60


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_webp(tmp_path):
    p = tmp_path / "a.webp"
    Image.fromarray(two_colour()).save(p, lossless=True)
    assert np.array_equal(read_image(p), two_colour())


def test_max_side_downsizes_only(tmp_path):
    p = tmp_path / "big.jpg"
    Image.fromarray(np.full((300, 600, 3), 90, np.uint8)).save(p)
    assert read_image(p, max_side=100).shape == (50, 100, 3)
    assert read_image(p, max_side=1000).shape == (300, 600, 3)  # never upsized


def test_decompression_bomb_guard(tmp_path):
    p = tmp_path / "bomb.png"
    png_header_only(p, 8000, 8000)  # 64 MP claimed, ~100 bytes on disk
    with pytest.raises(ImageReadError) as e:
        read_image(p)
    msg = str(e.value)
    assert "bomb.png" in msg and "64.0 megapixels" in msg and "50.0 megapixels" in msg
    # far beyond Pillow's own hard limit: still our clear error type
    q = tmp_path / "huge.png"
    png_header_only(q, 60000, 60000)
    with pytest.raises(ImageReadError, match="huge.png"):
        read_image(q)
    # a real image above a user-chosen limit
    r = tmp_path / "small.png"
    Image.new("RGB", (20, 20)).save(r)
    with pytest.raises(ImageReadError, match="above the limit"):
        read_image(r, max_pixels=100)


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"hello, I am text\n", "not an image"),
])
def test_bad_files_raise_clear_error(tmp_path, content, reason):
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason) as e:
        read_image(p)
    assert "bad.jpg" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_truncated_jpeg(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        buf, "JPEG")
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(p)


def test_missing_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="does not exist"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path)


def test_to_rgb_shapes():
    assert to_rgb(np.zeros((2, 2), np.uint8)).shape == (2, 2, 3)
    assert to_rgb(np.ones((2, 2, 1), np.float32))[0, 0].tolist() == [255, 255, 255]
    rgba = np.zeros((1, 1, 4), np.uint8)
    assert to_rgb(rgba)[0, 0].tolist() == [255, 255, 255]
    assert to_rgb(np.full((1, 1, 3), 65535, np.uint16))[0, 0].tolist() == [255] * 3
    with pytest.raises(ValueError):
        to_rgb(np.zeros((2, 2, 2)))


# --------------------------------------------------------------------------- resize


def test_resize_reads_mediapipes_grid():
    """Output pixel x reads input x * W / w, bilinear between neighbours, rounded."""
    ramp = np.tile(np.arange(0, 200, 10, dtype=np.uint8), (3, 1))  # 3 x 20, 10 per pixel
    rgb = np.repeat(ramp[..., None], 3, axis=2)
    assert resize(rgb, (3, 5))[0, :, 0].tolist() == [0, 40, 80, 120, 160]  # every 4th
    assert resize(rgb, (3, 8))[0, :, 0].tolist() == [0, 25, 50, 75, 100, 125, 150, 175]
    up = resize(rgb[:, :2], (3, 4))[0, :, 0].tolist()  # two pixels 0, 10 -> four
    assert up == [0, 5, 10, 10]  # the last reads past the edge: the edge pixel repeats


def test_resize_averages_big_photos_before_bilinear():
    """A photo far bigger than the model is box-reduced first: fine detail averages
    out instead of aliasing (one column in eighteen would be all black or all white)."""
    stripes = np.zeros((300, 4000, 3), np.uint8)
    stripes[:, ::2] = 255
    out = resize(stripes, (150, 224)).astype(int)
    assert out.min() >= 95 and out.max() <= 160, (out.min(), out.max())
    # up to MAX_SHRINK times the size nothing is averaged: MediaPipe's own pixels
    small = stripes[:, : 224 * MAX_SHRINK]
    assert set(np.unique(resize(small, (150, 224)))) == {255}


def test_is_hidden():
    assert is_hidden(".DS_Store") and is_hidden("Thumbs.db") and is_hidden("__MACOSX")
    assert not is_hidden("cat.jpg")


# --------------------------------------------------------------------------- load_folder


@pytest.fixture
def album(tmp_path):
    """An album with good and bad files. Returns (root, expected good relative paths)."""
    root = tmp_path / "album"
    cat, dog, bird = root / "cat", root / "dog", root / "日本の鳥"
    for d in (cat, dog, bird, cat / "2019" / "summer", root / "__MACOSX" / "cat",
              root / ".hidden_class", dog / ".thumbnails"):
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def rgb():
        return rng.integers(0, 255, (24, 32, 3), np.uint8)

    good = []
    # cat: EXIF JPEG, RGBA PNG, nested folder image, unicode name
    save_exif_jpeg(cat / "a_exif.jpg", two_colour(), 6); good.append("cat/a_exif.jpg")
    Image.fromarray(rng.integers(0, 255, (10, 10, 4), np.uint8), "RGBA").save(cat / "b_rgba.png")
    good.append("cat/b_rgba.png")
    Image.fromarray(rgb()).save(cat / "2019" / "summer" / "c_nested.png")
    good.append("cat/2019/summer/c_nested.png")
    Image.fromarray(rgb()).save(cat / "ñandú café.jpg"); good.append("cat/ñandú café.jpg")
    # dog: P GIF, L, I;16, CMYK JPEG, WebP
    Image.fromarray(rgb()).convert("P").save(dog / "d_palette.gif"); good.append("dog/d_palette.gif")
    Image.fromarray(rgb()[..., 0], "L").save(dog / "e_grey.png"); good.append("dog/e_grey.png")
    Image.fromarray(np.full((5, 5), 40000, np.uint16)).save(dog / "f_16bit.png")
    good.append("dog/f_16bit.png")
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(dog / "g_cmyk.jpg"); good.append("dog/g_cmyk.jpg")
    if features.check("webp"):
        Image.fromarray(rgb()).save(dog / "h.webp"); good.append("dog/h.webp")
    Image.fromarray(rgb()).save(bird / "鳥.png"); good.append("日本の鳥/鳥.png")

    bad = {}
    (cat / "empty.jpg").write_bytes(b""); bad["cat/empty.jpg"] = "empty file"
    buf = io.BytesIO(); Image.fromarray(rgb()).save(buf, "JPEG")
    (cat / "truncated.jpg").write_bytes(buf.getvalue()[:200]); bad["cat/truncated.jpg"] = "truncated"
    (dog / "text.jpg").write_text("not really a photo"); bad["dog/text.jpg"] = "not an image"
    png_header_only(dog / "bomb.png", 9000, 9000); bad["dog/bomb.png"] = "megapixels"
    (dog / "notes.txt").write_text("vet on Tuesday"); bad["dog/notes.txt"] = "extension '.txt'"
    (dog / "IMG_1.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic"); bad["dog/IMG_1.HEIC"] = "HEIC"
    (dog / ".DS_Store").write_bytes(b"\x00\x01"); bad["dog/.DS_Store"] = "hidden"
    Image.fromarray(rgb()).save(cat / "._a_exif.jpg"); bad["cat/._a_exif.jpg"] = "hidden"
    (dog / "Thumbs.db").write_bytes(b"x"); bad["dog/Thumbs.db"] = "hidden"
    bad["dog/.thumbnails"] = "hidden"
    bad["__MACOSX"] = "hidden"
    bad[".hidden_class"] = "hidden"
    Image.fromarray(rgb()).save(root / "loose.png"); bad["loose.png"] = "not inside a class folder"
    # symlink loop inside a class, a link pointing at itself, and a broken link
    os.symlink("..", cat / "2019" / "loop")
    bad["cat/2019/loop"] = "already visited"
    os.symlink("self_link", dog / "self_link"); bad["dog/self_link"] = "cannot access"
    os.symlink("missing.jpg", dog / "broken.jpg"); bad["dog/broken.jpg"] = "broken symbolic link"
    if hasattr(os, "mkfifo"):  # reading a FIFO would block forever
        os.mkfifo(dog / "pipe.jpg"); bad["dog/pipe.jpg"] = "not a regular file"
    return root, good, bad


def test_load_folder_good_and_bad(album):
    root, good, bad = album
    before = snapshot(root)
    result = load_folder(root)
    after = snapshot(root)
    assert before == after, "load_folder must not modify the album"

    rel = [p.relative_to(root).as_posix() for p in result.paths]
    assert sorted(rel) == sorted(good)
    assert result.class_names == sorted(["cat", "dog", "日本の鳥"])
    assert result.labels == [r.split("/")[0] for r in rel]
    assert len(result.images) == len(good)
    for img in result.images:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[-1] == 3
    exif = result.images[rel.index("cat/a_exif.jpg")]
    assert exif.shape == (40, 20, 3)  # rotated by EXIF
    sixteen = result.images[rel.index("dog/f_16bit.png")]
    assert int(sixteen[0, 0, 0]) == round(40000 / 257)
    assert result.y.tolist() == [result.class_names.index(c) for c in result.labels]

    skipped = {p.relative_to(root).as_posix(): why for p, why in result.skipped}
    assert set(skipped) == set(bad), set(skipped) ^ set(bad)
    for name, fragment in bad.items():
        assert fragment in skipped[name], (name, skipped[name])
    assert "dog/bomb.png" in skipped and "50.0 megapixels" in skipped["dog/bomb.png"]
    assert "skipped" in result.summary()


def test_load_folder_is_deterministic(album):
    root, _, _ = album
    a, b = load_folder(root), load_folder(root)
    assert [str(p) for p in a.paths] == [str(p) for p in b.paths]
    assert all(np.array_equal(x, y) for x, y in zip(a.images, b.images))
    assert a.skipped == b.skipped


def test_lazy_mode(album):
    root, good, _ = album
    lazy = load_folder(root, load_images=False)
    assert lazy.images == [] and lazy.lazy
    # only headers are checked, so every good file is listed; files whose
    # damage is past the header only fail when read
    rel = [p.relative_to(root).as_posix() for p in lazy.paths]
    assert set(good) <= set(rel)
    assert "cat/empty.jpg" not in rel and "dog/text.jpg" not in rel and "dog/bomb.png" not in rel
    for i, r in enumerate(rel):
        if r not in good:
            with pytest.raises(ImageReadError):
                lazy.read(i)
    i = rel.index("cat/a_exif.jpg")
    assert lazy.read(i).shape == (40, 20, 3)


def test_symlinked_class_folder_is_followed(tmp_path):
    elsewhere = tmp_path / "photos"
    elsewhere.mkdir()
    Image.new("RGB", (4, 4)).save(elsewhere / "x.png")
    root = tmp_path / "album"
    (root / "a").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(root / "a" / "y.png")
    os.symlink(elsewhere, root / "b")
    os.symlink(root, root / "a" / "back_to_root")  # would re-read every class
    res = load_folder(root)
    assert res.labels == ["a", "b"]
    assert any("already visited" in why for _, why in res.skipped)


def test_album_errors(tmp_path):
    with pytest.raises(AlbumError, match="does not exist"):
        load_folder(tmp_path / "missing")
    f = tmp_path / "photos.zip"
    f.write_bytes(b"PK")
    with pytest.raises(AlbumError, match="is a file, not a folder.*extract"):
        load_folder(f)
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("RGB", (4, 4)).save(flat / "a.png")
    with pytest.raises(AlbumError, match="no class sub-folders.*1 loose"):
        load_folder(flat)
    one = tmp_path / "one"
    (one / "cat").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(one / "cat" / "a.png")
    with pytest.raises(AlbumError, match="at least 2"):
        load_folder(one)
    assert load_folder(one, min_classes=1).class_names == ["cat"]
    nothing = tmp_path / "nothing"
    (nothing / "cat").mkdir(parents=True)
    (nothing / "dog").mkdir()
    (nothing / "dog" / "x.jpg").write_bytes(b"")
    with pytest.raises(AlbumError, match="No readable images.*empty file"):
        load_folder(nothing)
    assert issubclass(AlbumError, ValueError)


def test_empty_class_is_named(tmp_path):
    root = tmp_path / "album"
    for c in ("cat", "dog", "fish"):
        (root / c).mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(root / "cat" / "a.png")
    Image.new("RGB", (4, 4)).save(root / "dog" / "a.png")
    (root / "fish" / "broken.jpg").write_text("oops")
    with pytest.raises(AlbumError, match="'fish'.*allow_empty_classes"):
        load_folder(root)
    res = load_folder(root, allow_empty_classes=True)
    assert res.class_names == ["cat", "dog"] and res.empty_classes == ["fish"]
    reasons = dict((p.name, why) for p, why in res.skipped)
    assert "no readable images" in reasons["fish"] and "not an image" in reasons["broken.jpg"]
