"""The raw-pixel baseline: resize, (optionally) grayscale, flatten, scale to [0, 1].

No learned features at all -- comparing it with a real embedder shows why
embeddings matter (and, on tiny centred digits, that sometimes they do not).

Spec: ``"pixels"`` (32x32 grayscale, 1024-d), ``"pixels:<side>"`` (``side x side``
grayscale, ``side**2``-d) or ``"pixels:<side>:rgb"`` (colour, ``3*side**2``-d).
Grayscale uses the ITU-R 601 luma weights (0.2989 R + 0.5870 G + 0.1140 B).

Example
-------
>>> import numpy as np
>>> from cbr_edu.embedders import load_embedder
>>> emb = load_embedder("pixels:8")
>>> x = emb.embed(np.full((1, 16, 16, 3), 255, np.uint8))   # white -> 1.0 everywhere
>>> x.shape, float(x.max().round(3))
((1, 64), 1.0)
"""

from __future__ import annotations

import numpy as np

from .base import Embedder, keras_resize

__all__ = ["PixelsEmbedder", "LUMA"]

LUMA = (0.2989, 0.5870, 0.1140)
VERSION = 1


class PixelsEmbedder(Embedder):
    """Resized raw pixels in [0, 1], flattened (row-major, channels last)."""

    def __init__(self, side: int = 32, *, rgb: bool = False, spec=None):
        side = int(side)
        if not 1 <= side <= 1024:
            raise ValueError(f"pixels side must be in 1..1024, got {side}")
        self.side, self.rgb = side, bool(rgb)
        mode = "rgb" if rgb else "gray"
        self.spec = spec or f"pixels:{side}" + (":rgb" if rgb else "")
        self.input_size = (side, side)
        self.id = f"pixels:{side}:{mode}-v{VERSION}"
        self._dim = side * side * (3 if rgb else 1)

    @classmethod
    def from_spec(cls, spec: str, **kwargs):
        parts = spec.split(":")
        try:
            side = int(parts[1]) if len(parts) > 1 and parts[1] else 32
            if len(parts) > 3 or (len(parts) == 3 and parts[2].lower() not in ("rgb", "gray")):
                raise ValueError
        except ValueError:
            raise ValueError(f"bad pixels spec {spec!r}: use 'pixels', 'pixels:<side>' or "
                             "'pixels:<side>:rgb'") from None
        rgb = len(parts) == 3 and parts[2].lower() == "rgb"
        return cls(side=side, rgb=kwargs.pop("rgb", rgb), spec=spec, **kwargs)

    def _build_layer(self):
        import keras
        L = keras.layers
        inputs = keras.Input((None, None, 3), name="image")
        x = keras_resize(inputs, self.input_size)
        if not self.rgb:
            gray = L.Conv2D(1, 1, use_bias=False, trainable=False, name="grayscale")
            x = gray(x)
            gray.set_weights([np.array(LUMA, np.float32).reshape(1, 1, 3, 1)])
        x = L.Rescaling(1 / 255.0, name="to_unit")(x)
        x = L.Flatten(name="flatten")(x)
        return keras.Model(inputs, x, name=f"pixels_{self.side}")
