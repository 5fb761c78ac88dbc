"""Offline data sets, built from data that installed packages ship: no network, deterministic.

Each builder turns one registry entry into a :class:`~.records.Dataset` of RGB
uint8 images; ``BUILDERS`` maps the registry's ``source.builder`` names to
them. Grey data become RGB through :func:`cbr_edu.images.to_rgb`; any resize
to a requested ``image_size`` happens afterwards, in :mod:`._pixels`.

Example
-------
>>> sorted(BUILDERS)
['digits', 'lfw_subset', 'photo_patches', 'photo_views', 'textures']
>>> options("photo_views"), options("photo_patches")
(('views_per_class', 'max_side'), ('patches_per_class',))
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..images import read_image, to_rgb
from ._pixels import shrink
from .records import Dataset
from ._patches import cut_patches
from ._views import VIEW_KINDS, make_view

__all__ = ["BUILDERS", "VIEW_PHOTOS", "build", "bundled_photos", "options"]

#: Arguments of ``load`` itself that a builder may also use.
_SHARED = ("seed", "image_size")


def _digit_scale(image_size) -> int:
    """How many times to repeat each of the 8×8 digit pixels (32×32 by default)."""
    if image_size is None:
        return 4
    side = min(image_size) if isinstance(image_size, (tuple, list)) else image_size
    return max(1, int(side) // 8)


def _digits(entry, *, image_size=None) -> Dataset:
    """scikit-learn's 8×8 digits, each pixel repeated k×k times (32×32 RGB by default).

    The exact pixel repetition is how this set is made — every original pixel
    stays one sharp block — not a resize for a model; a size that is not a
    multiple of 8 is then reached with the one pixel policy in :mod:`._pixels`.
    """
    from sklearn.datasets import load_digits
    d = load_digits()
    grey = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    k = _digit_scale(image_size)
    images = [to_rgb(g) for g in grey.repeat(k, axis=1).repeat(k, axis=2)]
    return Dataset(images=images, labels=d.target.astype(np.int64),
                   class_names=[str(i) for i in range(10)], info=entry)


def _lfw_subset(entry) -> Dataset:
    """scikit-image's 200 grey 25×25 crops: 100 faces, then 100 non-faces."""
    from skimage import data
    images = [to_rgb(x) for x in data.lfw_subset()]  # floats in 0..1
    labels = np.array([0] * 100 + [1] * 100, dtype=np.int64)
    return Dataset(images=images, labels=labels, class_names=["face", "not_face"], info=entry)


#: The photos ``photo_views`` indexes, one class each.
VIEW_PHOTOS = ("astronaut", "chelsea", "china", "coffee", "flower", "grace_hopper", "rocket")


@lru_cache(maxsize=1)
def bundled_photos() -> dict:
    """name -> RGB uint8 photo (read-only), every one shipped by an installed package.

    Seventeen photos whose documentation says they may be used freely (licences in
    the ``photo_patches`` entry of ``datasets.yaml``): fourteen of scikit-image's
    photographs — all but ``clock`` (too flat to cut patches from) and ``moon``,
    ``page`` and ``stereo_motorcycle`` (no licence stated) — plus scikit-learn's
    ``china`` and ``flower`` and matplotlib's ``grace_hopper``.
    """
    from matplotlib import cbook
    from skimage import data
    from sklearn.datasets import load_sample_images
    sample = load_sample_images()
    files = {Path(f).stem: img for f, img in zip(sample.filenames, sample.images)}
    skimage_names = ("astronaut", "brick", "camera", "cell", "chelsea", "coffee", "coins",
                     "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "retina",
                     "rocket", "text")
    photos = {name: to_rgb(getattr(data, name)()) for name in skimage_names}
    photos.update(china=files["china"], flower=files["flower"],
                  grace_hopper=read_image(cbook.get_sample_data("grace_hopper.jpg",
                                                                asfileobj=False)))
    for a in photos.values():
        a.setflags(write=False)
    return dict(sorted(photos.items()))


def _photo_views(entry, *, seed=0, views_per_class=6, max_side=256) -> Dataset:
    """Per photo one canonical ``index`` view and ``views_per_class`` ``query`` views.

    The canonical photo is shrunk to ``max_side`` first; the views are made from
    it with :func:`._views.make_view`, cycling through its kinds, seeded per class.
    """
    from PIL import Image
    if views_per_class < 0:
        raise ValueError(f"views_per_class must be >= 0, got {views_per_class}")
    photos = bundled_photos()
    class_names = list(VIEW_PHOTOS)
    images, labels, split, views = [], [], [], []
    for c, name in enumerate(class_names):
        canonical = photos[name] if max_side is None else shrink(photos[name], max_side)
        base = Image.fromarray(np.ascontiguousarray(canonical))
        rng = np.random.default_rng([seed, c])
        items = [(base, "canonical photo")]
        items += [make_view(base, VIEW_KINDS[v % len(VIEW_KINDS)], rng)
                  for v in range(views_per_class)]
        for k, (im, description) in enumerate(items):
            images.append(to_rgb(im))
            labels.append(c)
            split.append("index" if k == 0 else "query")
            views.append(description)
    return Dataset(images=images, labels=np.array(labels, np.int64), class_names=class_names,
                   info=entry, split=np.array(split), extras={"views": views})


def _photo_patches(entry, *, seed=0, patches_per_class=24) -> Dataset:
    """Grey patches, 24-40 px square, cut at random from each bundled photo: one class each.

    The photos are turned grey first (colour alone would give most photos away);
    :func:`._patches.cut_patches` keeps a class's patches apart (no shared pixel)
    and skips nearly flat ones. ``extras["box"]`` holds each patch's
    ``(top, left, side)`` in its photo.
    """
    from skimage import color
    if patches_per_class < 1:
        raise ValueError(f"patches_per_class must be >= 1, got {patches_per_class}")
    images, labels, boxes = [], [], []
    photos = bundled_photos()
    for c, name in enumerate(photos):
        grey = to_rgb(color.rgb2gray(photos[name]))
        try:
            patches, where = cut_patches(grey, patches_per_class, np.random.default_rng([seed, c]))
        except ValueError as error:
            raise ValueError(f"photo_patches, photo {name!r}: {error}") from None
        images += patches
        labels += [c] * len(patches)
        boxes += where
    return Dataset(images=images, labels=np.array(labels, np.int64), class_names=list(photos),
                   info=entry, extras={"box": boxes})


def _textures(entry, *, patch_size=64) -> Dataset:
    """Non-overlapping ``patch_size`` grey patches from five 512×512 texture photos."""
    from skimage import color, data
    sources = {
        "brick": data.brick(), "grass": data.grass(), "gravel": data.gravel(),
        "moon": data.moon(), "tissue": color.rgb2gray(data.immunohistochemistry()),
    }
    class_names = sorted(sources)
    images, labels, where = [], [], []
    for c, name in enumerate(class_names):
        rgb = to_rgb(sources[name])[:512, :512]
        n = rgb.shape[0] // patch_size
        for i in range(n):
            for j in range(n):
                images.append(rgb[i * patch_size:(i + 1) * patch_size,
                                  j * patch_size:(j + 1) * patch_size].copy())
                labels.append(c)
                where.append((i, j))
    return Dataset(images=images, labels=np.array(labels, np.int64), class_names=class_names,
                   info=entry, extras={"grid_position": where})


#: The registry's ``source.builder`` names -> builders.
BUILDERS = {
    "digits": _digits,
    "lfw_subset": _lfw_subset,
    "photo_views": _photo_views,
    "photo_patches": _photo_patches,
    "textures": _textures,
}


def options(builder: str) -> tuple:
    """The options a builder takes besides ``load``'s own ``seed`` and ``image_size``."""
    params = inspect.signature(BUILDERS[builder]).parameters
    return tuple(p for p in params if p != "entry" and p not in _SHARED)


def build(entry, *, seed=0, image_size=None, **builder_options) -> Dataset:
    """Build the offline data set of a registry ``entry``.

    Example
    -------
    >>> from cbr_edu.datasets import info
    >>> ds = build(info("textures"), patch_size=128)
    >>> len(ds), ds.images[0].shape
    (80, (128, 128, 3))
    """
    builder = BUILDERS[entry.source["builder"]]
    params = inspect.signature(builder).parameters
    shared = {k: v for k, v in zip(_SHARED, (seed, image_size)) if k in params and v is not None}
    return builder(entry, **shared, **builder_options)
