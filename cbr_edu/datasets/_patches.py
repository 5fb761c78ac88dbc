"""Square patches cut at random from one photo, none overlapping, for ``photo_patches``.

Patches are how the data set is *made*: plain array slices of the photo, no
resampling (a model's resize happens later, through :mod:`cbr_edu.images`).
Two patches of one photo never share a pixel, so a query patch is never a crop
of a support patch; nearly flat patches (grey-level standard deviation below
``min_std``) are skipped, because a patch of empty sky or wall could come from
any photo and says nothing.

Example
-------
>>> import numpy as np
>>> photo = np.random.default_rng(0).integers(0, 256, (100, 100, 3), dtype=np.uint8)
>>> patches, boxes = cut_patches(photo, 5, np.random.default_rng(1), sides=(20, 30))
>>> len(patches), all(20 <= p.shape[0] == p.shape[1] <= 30 for p in patches)
(5, True)
"""

from __future__ import annotations

import numpy as np

__all__ = ["cut_patches", "overlaps"]


def overlaps(a, b) -> bool:
    """Whether two boxes ``(top, left, side)`` share a pixel.

    Example
    -------
    >>> overlaps((0, 0, 10), (9, 9, 5)), overlaps((0, 0, 10), (10, 0, 5))
    (True, False)
    """
    (ya, xa, sa), (yb, xb, sb) = a, b
    return ya < yb + sb and yb < ya + sa and xa < xb + sb and xb < xa + sa


def cut_patches(photo, count, rng, *, sides=(24, 40), min_std=5.0, max_tries=20_000):
    """``count`` square, non-overlapping patches of ``photo`` at random places.

    Each patch has a random side in ``sides`` (inclusive) and a random position;
    a candidate that overlaps a patch already taken, or is nearly flat, is drawn
    again. Returns ``(patches, boxes)``: copies of the slices and their
    ``(top, left, side)`` boxes in the photo.

    Raises
    ------
    ValueError
        When the photo cannot give ``count`` such patches (too small or too flat).
    """
    photo = np.asarray(photo)
    height, width = photo.shape[:2]
    low, high = sides
    if high > min(height, width):
        raise ValueError(f"a {height}x{width} photo is too small for {high}-pixel patches")
    patches, boxes = [], []
    for _ in range(max_tries):
        if len(patches) == count:
            break
        side = int(rng.integers(low, high + 1))
        box = (int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1)),
               side)
        if any(overlaps(box, taken) for taken in boxes):
            continue
        patch = photo[box[0]:box[0] + side, box[1]:box[1] + side]
        if patch.std() < min_std:
            continue
        patches.append(patch.copy())
        boxes.append(box)
    if len(patches) < count:
        raise ValueError(f"could cut only {len(patches)} of {count} non-overlapping patches "
                         f"with some structure from a {height}x{width} photo; ask for fewer")
    return patches, boxes
