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
   crop, aspect ratio not kept — as MediaPipe's ``ImageClassifier`` does on the
   phone: bilinear, no antialiasing, output pixel ``x`` reads input position
   ``x · W / w`` (corners meet corners: OpenCV ``warpPerspective`` with
   ``INTER_LINEAR`` in MediaPipe's CPU image-to-tensor converter, which it
   always uses for our uint8-input models), rounded to uint8. One step more, so
   that big photos stay sane: a side over :data:`MAX_SHRINK` (4) times the
   model's is first box-reduced (mean of each block) by the smallest whole
   factor that brings it to at most 4×. A 4000-px photo is averaged down to
   1000 px, not decimated to one pixel in eighteen.

Why this resize (``benchmarks/pixel_policy_mediapipe.py``; MediaPipe 1.2.3, a
Lite0 CbR model with 4 classes exported as a float ``.tflite``, our decoded
pixels given to MediaPipe): the largest |class score| difference to MediaPipe
and top-1 agreement, and how much the scores of the big photos move when the
photo moves by one pixel (aliasing):

=========================================  ==========  ===========  ============  =======
resize                                     awkward (8)  300–740 px   1000–4000 px  1-px
=========================================  ==========  ===========  ============  =======
Pillow bilinear, antialiased (policy v1)   0.042 8/8   0.041 4/5    0.043 4/5     0.004
Pillow bilinear, ``reducing_gap=2``        0.042 8/8   0.041 4/5    0.042 4/5     0.005
Pillow box / OpenCV ``INTER_AREA``         0.056/0.066 0.029/0.037  0.041/0.042   0.006
OpenCV ``INTER_LINEAR`` (TF's bilinear)    0.023 8/8   0.018 5/5    0.015 4/5     0.016
MediaPipe's grid, no box reduce            0.002 8/8   0.0008 5/5   0.0017 5/5    0.020
box to ≤2×, then MediaPipe's grid          0.009 8/8   0.022 4/5    0.049 4/5     0.008
box to ≤3×, then MediaPipe's grid          0.002 8/8   0.013 5/5    0.048 5/5     0.005
**box to ≤4×, then MediaPipe's grid**      0.002 8/8   0.0008 5/5   0.045 5/5     0.005
=========================================  ==========  ===========  ============  =======

Up to 4× the model's size (896 px for 224: camera preview frames, most web
photos) Python and the phone agree within 0.002. Beyond it MediaPipe decimates
(moving a 4000-px photo by one pixel moves its scores by 0.020, five times the
antialiased resize's 0.004), which no sane resize should copy; an app that
shrinks big photos by whole factors before MediaPipe lands within 0.0005 of
Python. Decoding: MediaPipe's own file decoder agrees with :func:`read_image`
on palette, CMYK, EXIF-rotated and ordinary JPEGs (≤ 0.001); it drops alpha
where we composite on white (0.032 for the RGBA file) and turns 16-bit grey
into one channel, which an RGB model refuses — an app should hand it RGB.

Example
-------
>>> import numpy as np
>>> prepare_image(np.zeros((40, 30), np.uint8), (16, 16)).shape
(16, 16, 3)
>>> prepare_images([np.zeros((8, 8, 3)), np.ones((20, 10, 4))], (4, 4)).dtype
dtype('uint8')
>>> prepare_image(np.zeros((4000, 3000, 3), np.uint8), (224, 224)).shape  # box, then bilinear
(224, 224, 3)
"""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from .read import read_image, to_rgb

__all__ = ["resize", "prepare_image", "prepare_images", "as_image_list", "POLICY_ID",
           "MAX_SHRINK"]

#: Bilinear never shrinks a side more than this many times: a bigger image is
#: first box-reduced by a whole factor (see the module docstring).
MAX_SHRINK = 4

#: Names this policy in embedding cache keys: change it whenever the pixels change.
POLICY_ID = "rgb-uint8/box-reduce-4x+corner-bilinear/v2"


def _size(size) -> tuple[int, int]:
    """``size`` (an int or ``(height, width)``) -> ``(height, width)``."""
    return (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))


def _axis(n_in: int, n_out: int):
    """Where output pixels ``0..n_out-1`` read an axis of ``n_in`` pixels: output ``x``
    reads input ``x * n_in / n_out`` (corners meet corners, as MediaPipe maps them),
    between pixels ``low`` and ``high`` with weight ``frac`` on ``high``."""
    at = np.arange(n_out) * (n_in / n_out)
    low = np.minimum(np.floor(at).astype(np.intp), n_in - 1)
    frac = (at - low).astype(np.float32)[:, None]
    return low, np.minimum(low + 1, n_in - 1), frac


def _corner_bilinear(rgb: np.ndarray, size) -> np.ndarray:
    """Bilinear interpolation on MediaPipe's grid, no antialiasing, rounded to uint8."""
    y0, y1, fy = _axis(rgb.shape[0], size[0])
    x0, x1, fx = _axis(rgb.shape[1], size[1])
    a = rgb.astype(np.float32)
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bottom = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    out = top * (1 - fy[:, None]) + bottom * fy[:, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _box_reduce(rgb: np.ndarray, size, most: int) -> np.ndarray:
    """Shrink by the smallest whole factors (mean of each block) that leave at most
    ``most`` × ``size`` pixels per side; unchanged if it already is that small."""
    factor = (math.ceil(rgb.shape[1] / (size[1] * most)),
              math.ceil(rgb.shape[0] / (size[0] * most)))
    if factor == (1, 1):
        return rgb
    return np.asarray(Image.fromarray(rgb).reduce(factor))


def resize(rgb: np.ndarray, size) -> np.ndarray:
    """Resize an ``(H, W, 3)`` uint8 image to ``size`` = ``(height, width)``.

    The whole image is resized (no crop, aspect ratio not kept): first shrunk
    by the smallest whole factor (box filter) that leaves at most
    :data:`MAX_SHRINK` times the size, then bilinear on MediaPipe's grid (see
    the module docstring). An image that already has the size is returned
    unchanged.

    Example
    -------
    >>> resize(np.zeros((10, 20, 3), np.uint8), (5, 5)).shape
    (5, 5, 3)
    >>> resize(np.arange(4, dtype=np.uint8).reshape(1, 4, 1).repeat(3, 2), (1, 2))[0, :, 0]
    array([0, 2], dtype=uint8)
    """
    h, w = _size(size)
    if rgb.shape[:2] == (h, w):
        return rgb
    return _corner_bilinear(_box_reduce(rgb, (h, w), MAX_SHRINK), (h, w))


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


def prepare_images(images, size, *, start=0, stop=None) -> np.ndarray:
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
    h, w = _size(size)
    if (isinstance(items, np.ndarray) and items.ndim == 4 and items.dtype == np.uint8
            and items.shape[1:] == (h, w, 3)):
        return items[start:stop]
    out = np.empty((max(stop - start, 0), h, w, 3), np.uint8)
    for i in range(start, stop):
        out[i - start] = resize(_decode(items[i], f"image {i}"), (h, w))
    return out
