"""A data set's images to the pixels asked for, through the one pixel policy.

Nothing here decodes or resamples by itself: files are decoded with
:func:`~cbr_edu.images.read_image` (optionally downsized while reading,
``max_side``), the sources turn arrays into RGB with
:func:`~cbr_edu.images.to_rgb`, and every resize is :func:`~cbr_edu.images.resize`.

Example
-------
>>> import numpy as np
>>> shrink(np.zeros((100, 50, 3), np.uint8), 20).shape
(20, 10, 3)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..images import ImageReadError, read_image, resize
from .records import Dataset

__all__ = ["shrink", "read"]


def shrink(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Downsize an RGB array so its longer side is at most ``max_side`` (aspect kept).

    Example
    -------
    >>> shrink(np.zeros((10, 30, 3), np.uint8), 64).shape   # never upsized
    (10, 30, 3)
    """
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    scale = max_side / max(h, w)
    return resize(rgb, (max(1, round(h * scale)), max(1, round(w * scale))))


def _sized(rgb: np.ndarray, image_size, max_side) -> np.ndarray:
    if image_size is not None:
        return resize(rgb, image_size)
    return rgb if max_side is None else shrink(rgb, max_side)


def read(ds: Dataset, *, image_size=None, max_side=None) -> Dataset:
    """``ds`` with every image as RGB uint8: resized to ``image_size``, or shrunk to ``max_side``.

    A data set read from files (``ds.paths``) is decoded here; files that
    cannot be read are left out and listed in ``extras["skipped"]`` as
    ``(path, reason)``.

    Example
    -------
    >>> from cbr_edu.datasets import load
    >>> read(load("lfw_subset", max_per_class=1), image_size=8).images[0].shape
    (8, 8, 3)
    """
    if ds.paths is None:
        return dataclasses.replace(ds, images=[_sized(im, image_size, max_side)
                                               for im in ds.images])
    images, kept, skipped = [], [], []
    for i, path in enumerate(ds.paths):
        try:
            rgb = read_image(path, max_side=max_side)
        except ImageReadError as e:
            skipped.append((path, e.reason))
            continue
        images.append(_sized(rgb, image_size, None))
        kept.append(i)
    out = ds.subset(kept)
    return dataclasses.replace(out, images=images, extras={**out.extras, "skipped": skipped})
