"""Decoding: one image file, PIL image or array -> an ``(H, W, 3)`` uint8 RGB array.

:func:`read_image` reads a file (read-only) whatever its format or mode;
:func:`to_rgb` converts a PIL image or an array. Both follow one mode policy.

Mode policy (what :func:`read_image` does to each Pillow mode):

* EXIF orientation is applied first, so a phone photo taken in portrait comes
  back upright (``ImageOps.exif_transpose``).
* ``RGB``, ``L``, ``1``, ``P`` (no transparency), ``CMYK``, ``YCbCr``, ``LAB``,
  ``HSV`` → converted to RGB by Pillow.
* Anything with transparency (``RGBA``, ``LA``, ``PA``, ``P`` with a
  transparency entry, premultiplied ``RGBa``/``La``) is composited **on a white
  background**: a transparent logo on white is what people see in a viewer,
  whereas dropping alpha would expose arbitrary colours hidden under it.
* 16-bit grey (``I;16*``) is *scaled* to 8 bits (``value / 257``), not
  clipped, so a 16-bit scan keeps its full tonal range. 32-bit integer ``I``
  is treated the same way when its values fit 0…65535, otherwise stretched
  min→0, max→255. Float ``F`` in 0…1 is multiplied by 255, any other range is
  stretched min→max; NaN becomes 0.
* Animated GIF / WebP / PNG and multi-page TIFF: the first frame.

Formats are decided by content, not by the file name: whatever Pillow decodes is
read (AVIF too where Pillow has it), a TIFF Pillow cannot decode (e.g. 4-channel
32-bit float) is read with ``tifffile``, and a file nothing here decodes is named
by what its first bytes say it is (HEIC, SVG, PDF, a video, an archive…).

Sizes: the reader never crops and never upsizes (resizing to a model's input
size is :mod:`cbr_edu.images.prepare`'s job). It only *downsizes* on request
(``max_side``), to save memory with large photos; the aspect ratio is kept. JPEGs are then decoded at reduced scale
(``Image.draft``), which is much faster and lighter than decoding in full.

Decompression bombs: a file whose header claims more than ``max_pixels``
pixels (default 50 megapixels) is refused *before* it is decoded. Pillow's own
guard (``Image.MAX_IMAGE_PIXELS``, ``DecompressionBombError``) still applies
on top and is reported the same way.

Example
-------
>>> import numpy as np, tempfile, os
>>> from PIL import Image
>>> d = tempfile.mkdtemp()
>>> Image.new("LA", (4, 2), (0, 0)).save(os.path.join(d, "logo.png"))
>>> read_image(os.path.join(d, "logo.png"))[0, 0]   # transparent -> white
array([255, 255, 255], dtype=uint8)
"""

from __future__ import annotations

import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .._errors import InputError

__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "RAW_EXTENSIONS", "ImageReadError",
           "read_image", "to_rgb", "check_header"]

#: Images whose header claims more pixels than this are refused (50 MP).
DEFAULT_MAX_PIXELS = 50_000_000

#: File extensions an album load tries to read (lower case, with dot); the
#: content then decides (a HEIC or SVG file is reported as such if it cannot be read).
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".bmp", ".dib",
    ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm", ".avif", ".heic", ".heif",
    ".svg", ".psd", ".qoi", ".tga", ".jp2",
})

#: Camera RAW files: a TIFF-like container whose first image is only a preview,
#: so an album skips them by name rather than index the preview.
RAW_EXTENSIONS = frozenset({".raw", ".cr2", ".cr3", ".nef", ".arw", ".dng", ".orf", ".rw2"})

_CONVERT = "Convert it to JPEG or PNG first."


class ImageReadError(InputError):
    """An image file could not be read; the message names the file and a fix.

    ``path`` is the offending file and ``reason`` a short phrase (also used in
    an album's skip list); ``message`` leaves out the Python keyword hint.

    Example
    -------
    >>> try:
    ...     read_image("no/such/file.jpg")
    ... except ImageReadError as e:
    ...     print(e.reason)
    file does not exist
    """

    def __init__(self, path, reason: str, hint: str = "", *, python_hint: str = ""):
        self.path = Path(path)
        self.reason = reason
        self.hint = hint
        super().__init__(f"Cannot read image '{path}': {reason}. {hint}".strip(),
                         python_hint=python_hint)


# --------------------------------------------------------------------------- #
# one image
# --------------------------------------------------------------------------- #

def _scale_to_uint8(a: np.ndarray, mode: str) -> np.ndarray:
    """Scale a single-channel high-bit-depth array to uint8 (see module doc)."""
    if mode.startswith("I;16") or (
        mode == "I" and a.size and a.min() >= 0 and a.max() <= 65535
    ):
        return np.round(a.astype(np.float64) / 257.0).astype(np.uint8)
    a = a.astype(np.float64)
    a = np.where(np.isfinite(a), a, 0.0)
    if mode == "F" and a.size and a.min() >= 0.0 and a.max() <= 1.0:
        return np.round(a * 255.0).astype(np.uint8)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return np.round((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _pil_to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow image to RGB following the module's mode policy."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I") or mode == "F":
        grey = _scale_to_uint8(np.asarray(im), mode)
        return Image.fromarray(grey, "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in im.info
    ) or (mode in ("L", "RGB") and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def _array_to_uint8(a: np.ndarray) -> np.ndarray:
    """Pixel values of an array -> uint8 (the array rule of :func:`to_rgb`)."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if a.dtype == np.uint16:
        return np.round(a / 257.0).astype(np.uint8)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"unsupported pixel type {a.dtype}; pass numbers (uint8 0..255)")
    if a.size == 0:
        return a.astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(a.min()), float(a.max())
        if lo >= 0.0 and hi <= 1.0:
            return np.round(a * 255.0).astype(np.uint8)
        if lo >= 0.0 and hi <= 255.0:
            return np.round(a).astype(np.uint8)
        raise ValueError(f"float pixels must lie in 0..1 or 0..255, got {lo:.3g}..{hi:.3g}; "
                         "pass the image before any normalisation")
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi > 255:
        raise ValueError(f"integer pixels must lie in 0..255 (got {a.dtype} values "
                         f"{lo}..{hi}); convert to uint8 first")
    return a.astype(np.uint8)


def to_rgb(image) -> np.ndarray:
    """Return an ``(H, W, 3)`` uint8 RGB copy of a PIL image or an array.

    PIL images follow the mode policy above. Arrays may be ``(H, W)`` grey,
    ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` (alpha composited on white);
    uint8 is taken as is, uint16 divided by 257, bool becomes 0/255, floats in
    0…1 are multiplied by 255 and floats in 0…255 rounded (NaN becomes 0);
    other ranges are refused with a ValueError.

    Example
    -------
    >>> to_rgb(np.zeros((2, 3))).shape
    (2, 3, 3)
    >>> to_rgb(np.full((1, 1), 0.5))[0, 0].tolist(), to_rgb(np.full((1, 1), 200.0))[0, 0, 0]
    ([128, 128, 128], np.uint8(200))
    """
    if isinstance(image, Image.Image):
        return np.array(_pil_to_rgb(image), dtype=np.uint8)
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise ValueError(
            f"expected an image array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); "
            f"got {a.shape}")
    if 0 in a.shape[:2]:
        raise ValueError(f"empty image of shape {a.shape}")
    a = _array_to_uint8(a)
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=-1)
    if a.shape[-1] == 4:
        return np.array(_pil_to_rgb(Image.fromarray(np.ascontiguousarray(a), "RGBA")))
    return np.array(a, dtype=np.uint8, copy=True)


def read_image(path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               max_side: int | None = None) -> np.ndarray:
    """Read one image file as an ``(H, W, 3)`` uint8 RGB array.

    Parameters
    ----------
    path : str or PathLike
        The file. It is opened read-only and never modified.
    max_pixels : int or None
        Refuse images whose header claims more pixels than this (checked
        before decoding). ``None`` leaves only Pillow's own guard.
    max_side : int or None
        If given, downsize (keeping the aspect ratio, never upsizing) so that
        the longer side is at most this many pixels.

    Raises
    ------
    ImageReadError
        With the file name, the reason and what to do.

    Example
    -------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> p = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> Image.new("L", (40, 20), 7).save(p)
    >>> read_image(p).shape, read_image(p, max_side=10).shape
    ((20, 40, 3), (5, 10, 3))
    """
    path = Path(path)
    _check_file(path)
    try:
        with warnings.catch_warnings():
            # Our own limit is the policy; Pillow's warning is not needed.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                _check_pixels(path, im.size, max_pixels)
                arr = np.array(_load_rgb(im, max_side), dtype=np.uint8)
    except ImageReadError:
        raise
    except Exception as error:  # noqa: BLE001 - every failure becomes one clear message
        if not _is_tiff_pillow_cannot_open(path, error):
            raise _read_error(path, error) from None
        arr = _read_tiff(path, max_pixels, max_side)
    if arr.ndim != 3 or arr.shape[-1] != 3 or 0 in arr.shape:
        raise ImageReadError(path, f"decoded to an unexpected shape {arr.shape}",
                             "Re-export it as an RGB JPEG or PNG.")
    return arr


def _check_file(path: Path) -> None:
    """Refuse what is not a non-empty regular file in a format we read, before opening."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageReadError(path, "file does not exist",
                             "Check the path and the file name.") from None
    except OSError as e:
        raise ImageReadError(path, f"cannot access the file ({e.strerror or e})",
                             "Check the file's permissions.") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(path, "it is a folder, not a file", "Pass an image file.",
                             python_hint="To read a folder of class folders, use load_folder().")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(path, "not a regular file", "Pass an image file.")
    if path.suffix.lower() in RAW_EXTENSIONS:
        raise ImageReadError(path, "camera RAW files are not read (only their small preview "
                                   "could be)", _CONVERT)
    if st.st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)",
                             "The file was probably not copied or downloaded completely; "
                             "replace it.")


def _check_pixels(path: Path, size, max_pixels: int | None) -> None:
    """The decompression-bomb guard: refuse a header that claims too many pixels."""
    w, h = size
    if max_pixels is not None and w * h > max_pixels:
        raise ImageReadError(
            path, f"{w}×{h} = {w * h / 1e6:.1f} megapixels is above the limit of "
                  f"{max_pixels / 1e6:.1f} megapixels (decompression-bomb guard)",
            "If the image is genuine, downsize it with an image editor.",
            python_hint="Or pass a larger max_pixels=.")


def _load_rgb(im: Image.Image, max_side: int | None) -> Image.Image:
    """Decode an opened image upright, in RGB, at most ``max_side`` pixels long."""
    if max_side is not None and max(im.size) > max_side:
        # JPEG: decode directly at a reduced scale (>= requested size).
        im.draft(im.mode, (max_side, max_side))
    im.load()
    rgb = _pil_to_rgb(ImageOps.exif_transpose(im))
    if max_side is not None and max(rgb.size) > max_side:
        rgb = rgb.copy()
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return rgb


def _read_error(path: Path, error: Exception) -> ImageReadError:
    """What went wrong while decoding, as a message that names the file and a fix."""
    if isinstance(error, Image.DecompressionBombError):
        return ImageReadError(
            path, f"refused by Pillow's decompression-bomb guard ({error})",
            "If the image is genuine, downsize it with an image editor.",
            python_hint="Or raise PIL.Image.MAX_IMAGE_PIXELS.")
    if isinstance(error, UnidentifiedImageError):
        return _unreadable(path)
    if isinstance(error, MemoryError):
        return ImageReadError(path, "not enough memory to decode it",
                              "Downsize it with an image editor.",
                              python_hint="Or pass max_side= to downsize while reading.")
    text = str(error) or type(error).__name__  # truncated data, broken headers, codecs…
    reason = ("truncated or corrupt image data" if "truncat" in text.lower()
              else f"corrupt or unsupported image ({text})")
    return ImageReadError(path, reason, "Open it in an image viewer; re-export or replace it.")


# what a file's first bytes say it is: (test on the first 512 bytes, format name)
_SIGNATURES = [
    (lambda h: h.startswith(b"\xff\xd8\xff"), "JPEG"),
    (lambda h: h.startswith(b"\x89PNG"), "PNG"),
    (lambda h: h.startswith((b"GIF87a", b"GIF89a")), "GIF"),
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP", "WebP"),
    (lambda h: h.startswith((b"II*\0", b"MM\0*")), "TIFF"),
    (lambda h: h[4:8] == b"ftyp" and h[8:12] in (b"avif", b"avis"), "AVIF"),
    (lambda h: h[4:8] == b"ftyp" and h[8:12] in (b"heic", b"heix", b"hevc", b"hevx", b"heim",
                                                 b"heis", b"mif1", b"msf1"), "HEIC/HEIF"),
    (lambda h: h[4:8] == b"ftyp", "video (MP4/MOV)"),
    (lambda h: h.startswith(b"8BPS"), "Photoshop (PSD)"),
    (lambda h: h.startswith(b"%PDF"), "PDF document"),
    (lambda h: h.startswith(b"PK\x03\x04"), "ZIP archive"),
    (lambda h: b"<svg" in h.lower(), "SVG (vector)"),
]


def _content_kind(path: Path):
    """The format a file's first bytes announce (see ``_SIGNATURES``), or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    return next((name for test, name in _SIGNATURES if test(head)), None)


def _unreadable(path: Path) -> ImageReadError:
    """A file Pillow does not recognise, named by its content rather than its name."""
    kind = _content_kind(path)
    named = f" (its name says '{path.suffix}')" if path.suffix else ""
    if kind is None:
        return ImageReadError(path, "not an image file Pillow can read",
                              "Check that it really is a JPEG/PNG/GIF/WebP/BMP/TIFF image.")
    if kind in ("JPEG", "PNG", "GIF", "WebP"):
        return ImageReadError(path, f"a damaged {kind} file",
                              "Open it in an image viewer; re-export or replace it.")
    if kind in ("video (MP4/MOV)", "PDF document", "ZIP archive"):
        return ImageReadError(path, f"it is a {kind}, not an image{named}",
                              "Use an image file (extract or export the pictures first).")
    return ImageReadError(path, f"a {kind} image, which cannot be decoded here{named}",
                          _CONVERT)


def _is_tiff_pillow_cannot_open(path: Path, error: Exception) -> bool:
    return isinstance(error, UnidentifiedImageError) and _content_kind(path) == "TIFF"


def _tiff_pixels(path: Path, max_pixels, *, decode: bool):
    """The first page of a TIFF Pillow cannot decode, read with ``tifffile`` (or only its size)."""
    try:
        import tifffile
    except ImportError:
        raise ImageReadError(path, "a TIFF that Pillow cannot decode (e.g. 32-bit float)",
                             "Save it as an 8-bit RGB TIFF, PNG or JPEG.") from None
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            _check_pixels(path, (page.imagewidth, page.imagelength), max_pixels)
            return page.asarray() if decode else None
    except ImageReadError:
        raise
    except Exception as error:  # noqa: BLE001 - every failure becomes one clear message
        raise ImageReadError(path, f"a TIFF that cannot be decoded ({error})",
                             "Save it as an 8-bit RGB TIFF, PNG or JPEG.") from None


def _read_tiff(path: Path, max_pixels, max_side):
    """An RGB uint8 array of a TIFF Pillow cannot decode (float, many channels…)."""
    pixels = _tiff_pixels(path, max_pixels, decode=True)
    if pixels.ndim == 3 and pixels.shape[0] in (3, 4) and pixels.shape[-1] not in (3, 4):
        pixels = np.moveaxis(pixels, 0, -1)  # planes first (planar configuration 2)
    try:
        rgb = to_rgb(pixels)
    except ValueError as error:
        raise ImageReadError(path, f"TIFF pixels that cannot be shown as RGB ({error})",
                             "Save it as an 8-bit RGB TIFF, PNG or JPEG.") from None
    if max_side is not None and max(rgb.shape[:2]) > max_side:
        im = Image.fromarray(rgb)
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        rgb = np.asarray(im)
    return rgb


def check_header(path: Path, max_pixels: int | None) -> None:
    """Cheap readability check without decoding the pixels; raises ImageReadError."""
    _check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                size = im.size
    except Exception as error:  # noqa: BLE001 - every failure becomes one clear message
        if not _is_tiff_pillow_cannot_open(path, error):
            raise _read_error(path, error) from None
        _tiff_pixels(path, max_pixels, decode=False)
        return
    _check_pixels(path, size, max_pixels)
