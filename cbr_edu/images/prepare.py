"""The one pixel policy: a file, PIL image or array -> RGB uint8 at a model's input size.

Every road from an image to a model goes through :func:`prepare_images` (or
:func:`prepare_image` for one): the embedders, the LiteRT runner, the command
line, the few-shot baselines, the data sets and the exercises. So the same photo
gives the same pixels — and the same scores — in a notebook and in the exported
``.tflite``.

1. **Decode** (:func:`~cbr_edu.images.read.read_image` for files): EXIF
   orientation applied; grey, palette, CMYK, 16-bit and float modes converted to
   RGB; transparency composited on white; first frame of animations.
2. **Arrays** (:func:`~cbr_edu.images.read.to_rgb`): ``(H, W)``, ``(H, W, 1)``,
   ``(H, W, 3)`` or ``(H, W, 4)``; uint8 as is, uint16 divided by 257, bool to
   0/255, floats in 0…1 multiplied by 255, floats in 0…255 rounded; anything
   else is refused with a message.
3. **Resize** (:func:`resize`): the *whole* image to the model's size — no
   crop, aspect ratio not kept — with Pillow's bilinear filter (antialiased when
   shrinking), rounded to uint8, as the exported model receives it.

Example
-------
>>> import numpy as np
>>> prepare_image(np.zeros((40, 30), np.uint8), (16, 16)).shape
(16, 16, 3)
>>> prepare_images([np.zeros((8, 8, 3)), np.ones((20, 10, 4))], (4, 4)).dtype
dtype('uint8')
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from .read import read_image, to_rgb

__all__ = ["resize", "prepare_image", "prepare_images", "as_image_list", "POLICY_ID"]

#: How :func:`resize` resamples (Pillow's bilinear filter; antialiased when shrinking).
RESAMPLE = Image.Resampling.BILINEAR

#: Names this policy in embedding cache keys: change it whenever the pixels change.
POLICY_ID = "rgb-uint8/pil-bilinear/v1"


def resize(rgb: np.ndarray, size) -> np.ndarray:
    """Resize an ``(H, W, 3)`` uint8 image to ``size`` = ``(height, width)``.

    The whole image is resized (no crop, aspect ratio not kept). An image that
    already has the size is returned unchanged.

    Example
    -------
    >>> resize(np.zeros((10, 20, 3), np.uint8), (5, 5)).shape
    (5, 5, 3)
    """
    h, w = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    if rgb.shape[:2] == (h, w):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((w, h), RESAMPLE))


def _decode(item, where: str) -> np.ndarray:
    """One image (path, PIL image or array) -> (H, W, 3) uint8 RGB."""
    if isinstance(item, (str, os.PathLike)):
        return read_image(item)
    try:
        return to_rgb(item)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def prepare_image(item, size) -> np.ndarray:
    """One image -> ``(H, W, 3)`` uint8 RGB at ``size`` (see the module docstring).

    Example
    -------
    >>> prepare_image(np.full((2, 2, 3), 0.5), (2, 2))[0, 0].tolist()
    [128, 128, 128]
    """
    return resize(_decode(item, "image"), size)


def as_image_list(images):
    """The accepted containers -> an indexable sequence of single images.

    A path is one image; a 4-D array ``(n, H, W, C)`` is a batch; a 3-D array is a
    batch of grey images ``(n, H, W)`` unless its last axis has 3 or 4 channels,
    which is ambiguous and refused; any other iterable is a list of images.

    Example
    -------
    >>> len(as_image_list(np.zeros((5, 8, 8)))), len(as_image_list("cat.jpg"))
    (5, 1)
    """
    if isinstance(images, (str, os.PathLike)):
        return [images]
    if isinstance(images, Image.Image):
        return [images]
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return images
        if images.ndim == 3:
            if images.shape[-1] in (3, 4):
                raise ValueError(
                    f"ambiguous image array of shape {images.shape}: a 3-D array is read as "
                    "a batch of grey images (n, H, W). Pass one colour image as [img] or "
                    "img[None], a batch as (n, H, W, C).")
            return images
        raise ValueError(f"expected images of shape (n, H, W, C) or (n, H, W), got an "
                         f"array of shape {images.shape}")
    try:
        return list(images)
    except TypeError:
        raise TypeError(f"images must be an array, a sequence of arrays/paths/PIL images, "
                        f"or a path; got {type(images).__name__}") from None


def prepare_images(images, size, start=0, stop=None) -> np.ndarray:
    """Images ``[start:stop]`` -> ``(n, H, W, 3)`` uint8 RGB at ``size``.

    ``images`` is anything :func:`as_image_list` accepts. A uint8 batch already
    at ``size`` passes through without a copy.

    Example
    -------
    >>> prepare_images(np.zeros((3, 8, 8, 3), np.uint8), (8, 8)).shape
    (3, 8, 8, 3)
    """
    items = as_image_list(images)
    stop = len(items) if stop is None else min(stop, len(items))
    h, w = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    if (isinstance(items, np.ndarray) and items.ndim == 4 and items.dtype == np.uint8
            and items.shape[1:] == (h, w, 3)):
        return items[start:stop]
    out = np.empty((max(stop - start, 0), h, w, 3), np.uint8)
    for i in range(start, stop):
        out[i - start] = resize(_decode(items[i], f"image {i}"), (h, w))
    return out
