"""The :class:`Embedder` interface shared by every embedder, and its image handling.

An embedder turns images into fixed-length vectors. Every embedder has

* ``embed(images, batch_size=32, progress=None)`` -> ``(n, dim)`` float32 array;
* ``as_layer()`` -> a frozen Keras 3 model ``(b, H, W, 3)`` images in 0..255 ->
  ``(b, dim)`` with the preprocessing *inside*, usable as the base of a functional
  model (and convertible to TFLite builtins for Lite0 and pixels);
* ``dim``, ``input_size`` ``(H, W)``, ``id`` (a stable cache key: it changes when the
  weights or the preprocessing change) and ``spec`` (what it was loaded from).

Images given to ``embed`` may be a 4-D array ``(n, H, W, C)``, a 3-D array of
grayscale images ``(n, H, W)``, or a sequence whose items are arrays of any size
(``HW``, ``HW1``, ``HW3``, ``HW4``), PIL images, or file paths. They go through
the project's one pixel policy, :func:`cbr_edu.images.prepare_images` (decode,
colour modes, alpha, resize of the whole image to ``input_size``, uint8), so
``embed`` sees exactly the pixels an exported ``.tflite`` gets. Inside
``as_layer()`` the model resizes with plain bilinear (no antialias, so it
converts to TFLite builtins); it is the identity when the images already have
``input_size``, which is what ``embed`` feeds it, so both paths agree.

Example
-------
>>> import numpy as np
>>> from cbr_edu.embedders import load_embedder
>>> emb = load_embedder("pixels:8")
>>> emb.embed(np.zeros((2, 32, 32, 3), np.uint8)).shape
(2, 64)
"""

from __future__ import annotations

import numpy as np

__all__ = ["Embedder", "OfflineError"]

_PROGRESS_THRESHOLD = 64


class OfflineError(RuntimeError):
    """A model needs the network (once) and there is none."""


class Embedder:
    """Base class: subclasses set ``spec``, ``id``, ``dim``, ``input_size`` and
    implement :meth:`_build_layer` (and optionally :meth:`_embed_batch`)."""

    spec: str = ""
    id: str = ""
    input_size: tuple = (224, 224)
    _dim: int | None = None

    # -- to implement
    def _build_layer(self):
        raise NotImplementedError

    def _embed_batch(self, batch: np.ndarray) -> np.ndarray:
        """(b, H, W, 3) pixels 0..255 (uint8 from :meth:`embed`) at ``input_size`` -> (b, dim)."""
        if getattr(self, "_predict", None) is None:
            import tensorflow as tf
            model = self.as_layer()
            spec = tf.TensorSpec((None, *self.input_size, 3), tf.float32)
            self._predict = tf.function(lambda x: model(x, training=False),
                                        input_signature=[spec])
        return np.asarray(self._predict(np.asarray(batch, np.float32)))

    # -- public
    @property
    def preprocessing(self) -> str:
        """The pixel policy the embedder's inputs go through (part of cache keys)."""
        from ..images.prepare import POLICY_ID
        return POLICY_ID

    @property
    def dim(self) -> int:
        if self._dim is None:
            h, w = self.input_size
            self._dim = int(self._embed_batch(np.zeros((1, h, w, 3), np.float32)).shape[-1])
        return self._dim

    def as_layer(self):
        """A Keras model ``(b, H, W, 3)`` 0..255 -> ``(b, dim)``, preprocessing inside.

        It is frozen (``trainable=False``): BatchNorm stays in inference mode even
        when a model built on it is called with ``training=True``. Set
        ``trainable = True`` on it to fine-tune (the same object is returned each time).
        """
        if getattr(self, "_layer", None) is None:
            layer = self._build_layer()
            layer.trainable = False
            self._layer = layer
        return self._layer

    def embed(self, images, *, batch_size: int = 32, progress=None) -> np.ndarray:
        """Embed ``images`` -> ``(n, dim)`` float32 (see the module docstring for inputs).

        ``progress``: ``True``/``False`` forces the tqdm bar on/off; ``None`` shows it
        for more than 64 images.
        """
        return self._map_batches(images, self._embed_batch, batch_size, progress,
                                 empty_dim=self.dim)

    def _map_batches(self, images, fn, batch_size, progress, empty_dim, desc="embedding"):
        """Prepare ``images`` batch by batch (the one pixel policy) and concatenate ``fn(batch)``."""
        from ..images import as_image_list, prepare_images
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        items = as_image_list(images)
        n = len(items)
        if n == 0:
            return np.zeros((0, empty_dim), np.float32)
        show = (n > _PROGRESS_THRESHOLD) if progress is None else bool(progress)
        bar = None
        if show:
            from tqdm.auto import tqdm
            bar = tqdm(total=n, desc=f"{desc} ({self.spec or self.id})", unit="img")
        out = []
        try:
            for start in range(0, n, batch_size):
                batch = prepare_images(items, self.input_size, start=start, stop=start + batch_size)
                out.append(np.asarray(fn(batch), np.float32))  # uint8: a runtime casts
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
        return np.concatenate(out, axis=0).reshape(n, -1)

    def __repr__(self):
        return f"<{type(self).__name__} {self.id!r} input_size={tuple(self.input_size)}>"


def keras_resize(x, size):
    """Apply ``keras.layers.Resizing`` (bilinear, no antialias) to a symbolic tensor.

    Called with ``training=False``: Keras image-preprocessing layers default to
    ``training=True`` and, when a model is later called without ``training=``,
    that value propagates to the layers after them (BatchNorm would use batch
    statistics and update its moving averages, Dropout would drop).
    """
    import keras
    return keras.layers.Resizing(*size, interpolation="bilinear", name="resize")(
        x, training=False)
