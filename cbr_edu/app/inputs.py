"""What people give the builder, as pixels: files, uploads, camera frames, arrays.

:func:`decode` turns one item into ``(H, W, 3)`` uint8 RGB through the
project's pixel policy (:mod:`cbr_edu.images`): a path is read with
``read_image``; an upload — a ``{"name": ..., "content": bytes}`` dict, as
``ipywidgets.FileUpload`` gives them, or a camera frame — is read the same way
from a private temporary file, so it gets the same checks (EXIF orientation,
odd modes, decompression-bomb guard) and the same messages; arrays and PIL
images go through ``to_rgb``. :func:`thumbnail` keeps a small JPEG for display:
the builder never holds the full image after it has been embedded.

Example
-------
>>> import io, numpy as np
>>> from PIL import Image
>>> png = io.BytesIO(); Image.new("RGB", (300, 200), "red").save(png, "PNG")
>>> rgb = decode({"name": "red.png", "content": png.getvalue()})
>>> rgb.shape, source_name({"name": "red.png", "content": b""})
((200, 300, 3), 'red.png')
>>> Image.open(io.BytesIO(thumbnail(rgb))).size
(128, 85)
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..images import ImageReadError, read_image, to_rgb

__all__ = ["decode", "thumbnail", "source_name", "is_upload", "THUMBNAIL_SIDE", "MAX_SIDE"]

#: Longest side of the thumbnails the builder keeps (JPEG, a few kB each).
THUMBNAIL_SIDE = 128
#: Photos are decoded at most this large (the model needs 224 px; memory stays small).
MAX_SIDE = 1024


def is_upload(item) -> bool:
    """True for an upload: a mapping with ``name`` and ``content`` (bytes)."""
    return isinstance(item, dict) and "content" in item


def source_name(item) -> str:
    """A short name for where a sample came from (file name, upload name or kind)."""
    if is_upload(item):
        name = Path(str(item.get("name") or "").replace("\0", "")).name
        if name in ("", ".", ".."):
            return "upload"
        suffix = Path(name).suffix[:12]
        return name if len(name) <= 100 else name[:100 - len(suffix)] + suffix
    if isinstance(item, (str, os.PathLike)):
        return Path(item).name
    if isinstance(item, Image.Image):
        return "image"
    return "array"


def decode(item) -> np.ndarray:
    """One image (path, upload dict, PIL image or array) -> ``(H, W, 3)`` uint8 RGB.

    Raises ``cbr_edu.images.ImageReadError`` (files, uploads) or ``ValueError``
    (arrays) with a message that names the item.
    """
    if is_upload(item):
        return _decode_upload(source_name(item), bytes(item["content"]))
    if isinstance(item, (str, os.PathLike)):
        return read_image(item, max_side=MAX_SIDE)
    return to_rgb(item)


def _decode_upload(name: str, data: bytes) -> np.ndarray:
    """Read uploaded bytes with ``read_image``, under the upload's own name."""
    with tempfile.TemporaryDirectory(prefix="cbr-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            return read_image(path, max_side=MAX_SIDE)
        except ImageReadError as error:   # name the upload, not the temporary file
            raise ImageReadError(name, error.reason, error.hint,
                                 python_hint=error.python_hint) from None


def thumbnail(rgb: np.ndarray, *, side: int = THUMBNAIL_SIDE) -> bytes:
    """A JPEG of ``rgb`` whose longest side is at most ``side`` (aspect ratio kept)."""
    image = Image.fromarray(np.ascontiguousarray(rgb))
    image.thumbnail((side, side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
