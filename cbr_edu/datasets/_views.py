"""New viewpoints of one photo, for the ``photo_views`` near-duplicate set.

Each view is a deterministic change a visitor's camera would make: crop and
zoom, rotation, lighting, perspective, distance (small and JPEG-blurred), or a
combination. These geometric and photometric transforms are how the data set
is *made*, not an image on its way to a model, so they work on Pillow images
directly (bicubic resampling); the result goes through :mod:`cbr_edu.images`
like any other image afterwards.

Example
-------
>>> import numpy as np
>>> from PIL import Image
>>> photo = Image.fromarray(np.full((40, 60, 3), 128, np.uint8))
>>> view, description = make_view(photo, "rotate", np.random.default_rng(0))
>>> view.size, description.startswith("rotate")
((60, 40), True)
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance

__all__ = ["VIEW_KINDS", "make_view"]

_BICUBIC = Image.Resampling.BICUBIC


def _crop_zoom(im, rng, lo=0.6, hi=0.85):
    w, h = im.size
    f = rng.uniform(lo, hi)
    cw, ch = int(w * f), int(h * f)
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    return (im.resize((w, h), _BICUBIC, box=(x0, y0, x0 + cw, y0 + ch)),
            f"crop {f:.0%} at ({x0},{y0}), zoom to full size")


def _rotate(im, rng, lo=8, hi=20):
    w, h = im.size
    angle = float(rng.uniform(lo, hi) * rng.choice([-1, 1]))
    turned = im.rotate(angle, resample=_BICUBIC, expand=False)
    # crop away the blank corners, then back to full size
    t = np.deg2rad(abs(angle))
    f = 1.0 / (np.cos(t) + np.sin(t) * max(w / h, h / w))
    cw, ch = int(w * f), int(h * f)
    box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
    return turned.resize((w, h), _BICUBIC, box=box), f"rotate {angle:+.0f}°"


def _light(im, rng):
    b, c = rng.uniform(0.55, 1.45), rng.uniform(0.6, 1.4)
    im = ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(b)).enhance(c)
    return im, f"brightness ×{b:.2f}, contrast ×{c:.2f}"


def _perspective(im, rng):
    w, h = im.size
    dx, dy = 0.18 * w, 0.18 * h

    def jitter(most):
        return float(rng.uniform(0, most))

    quad = (jitter(dx), jitter(dy), jitter(dx), h - jitter(dy),
            w - jitter(dx), h - jitter(dy), w - jitter(dx), jitter(dy))
    return (im.transform((w, h), Image.Transform.QUAD, quad, _BICUBIC),
            "perspective (corners moved up to 18%)")


def _distance(im, rng):
    w, h = im.size
    s = rng.uniform(0.2, 0.4)
    small = im.resize((max(8, int(w * s)), max(8, int(h * s))), Image.Resampling.BOX)
    q = int(rng.integers(25, 55))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=q)
    buf.seek(0)
    back = Image.open(buf).convert("RGB").resize((w, h), Image.Resampling.BILINEAR)
    return back, f"seen from afar: scale {s:.0%}, JPEG quality {q}"


def _combined(im, rng):
    im, d1 = _crop_zoom(im, rng, 0.7, 0.9)
    im, d2 = _rotate(im, rng, 5, 12)
    im, d3 = _light(im, rng)
    return im, f"{d1}; {d2}; {d3}"


_VIEWS = {"crop_zoom": _crop_zoom, "rotate": _rotate, "light": _light,
          "perspective": _perspective, "distance": _distance, "combined": _combined}

#: The kinds of view, in the order ``photo_views`` cycles through them.
VIEW_KINDS = tuple(_VIEWS)


def make_view(photo: Image.Image, kind: str, rng: np.random.Generator):
    """One viewpoint change of ``photo`` (same size); returns ``(image, description)``.

    Example
    -------
    >>> photo = Image.new("RGB", (32, 32), (200, 100, 50))
    >>> make_view(photo, "light", np.random.default_rng(1))[1]
    'brightness ×1.01, contrast ×1.36'
    """
    if kind not in _VIEWS:
        raise ValueError(f"unknown view kind {kind!r}; known: {', '.join(VIEW_KINDS)}")
    return _VIEWS[kind](photo, rng)
