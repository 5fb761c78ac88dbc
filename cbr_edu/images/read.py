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

__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "UNSUPPORTED_IMAGE_EXTENSIONS",
           "ImageReadError", "read_image", "to_rgb", "check_header"]

#: Images whose header claims more pixels than this are refused (50 MP).
DEFAULT_MAX_PIXELS = 50_000_000

#: File extensions an album load tries to read (lower case, with dot).
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".bmp", ".dib",
    ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm",
})

#: Extensions we recognise as images Pillow cannot read here.
UNSUPPORTED_IMAGE_EXTENSIONS = {
    ".heic": "HEIC/HEIF", ".heif": "HEIC/HEIF", ".avif": "AVIF", ".svg": "SVG",
    ".raw": "camera RAW", ".cr2": "camera RAW", ".nef": "camera RAW",
    ".arw": "camera RAW", ".dng": "camera RAW", ".psd": "Photoshop",
}


class ImageReadError(ValueError):
    """An image file could not be read; the message names the file and a fix.

    ``path`` is the offending file and ``reason`` a short phrase (also used in
    an album's skip list).

    Example
    -------
    >>> try:
    ...     read_image("no/such/file.jpg")
    ... except ImageReadError as e:
    ...     print(e.reason)
    file does not exist
    """

    def __init__(self, path, reason: str, hint: str = ""):
        self.path = Path(path)
        self.reason = reason
        self.hint = hint
        msg = f"Cannot read image '{path}': {reason}."
        if hint:
            msg += f" {hint}"
        super().__init__(msg)


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
        raise _read_error(path, error) from None
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
        raise ImageReadError(path, "it is a folder, not a file",
                             "Pass an image file, or load a folder of images as an album.")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(path, "not a regular file", "Pass an image file.")
    if st.st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)",
                             "The file was probably not copied or downloaded completely; "
                             "replace it.")
    kind = UNSUPPORTED_IMAGE_EXTENSIONS.get(path.suffix.lower())
    if kind:
        raise ImageReadError(path, f"{kind} images are not supported",
                             "Convert it to JPEG or PNG first.")


def _check_pixels(path: Path, size, max_pixels: int | None) -> None:
    """The decompression-bomb guard: refuse a header that claims too many pixels."""
    w, h = size
    if max_pixels is not None and w * h > max_pixels:
        raise ImageReadError(
            path, f"{w}×{h} = {w * h / 1e6:.1f} megapixels is above the limit of "
                  f"{max_pixels / 1e6:.1f} megapixels (decompression-bomb guard)",
            "If the image is genuine, downsize it with an image editor, or pass "
            "a larger max_pixels=.")


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
            "If the image is genuine, downsize it, or raise PIL.Image.MAX_IMAGE_PIXELS.")
    if isinstance(error, UnidentifiedImageError):
        return ImageReadError(path, "not an image file Pillow can read",
                              "Check that it really is a JPEG/PNG/GIF/WebP/BMP/TIFF "
                              "(the extension may be wrong).")
    if isinstance(error, MemoryError):
        return ImageReadError(path, "not enough memory to decode it",
                              "Pass max_side= to downsize while reading.")
    text = str(error) or type(error).__name__  # truncated data, broken headers, codecs…
    reason = ("truncated or corrupt image data" if "truncat" in text.lower()
              else f"corrupt or unsupported image ({text})")
    return ImageReadError(path, reason, "Open it in an image viewer; re-export or replace it.")


def check_header(path: Path, max_pixels: int | None) -> None:
    """Cheap readability check without decoding the pixels; raises ImageReadError."""
    _check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                size = im.size
    except Exception as error:  # noqa: BLE001 - every failure becomes one clear message
        raise _read_error(path, error) from None
    _check_pixels(path, size, max_pixels)
