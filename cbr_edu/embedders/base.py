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
(``HW``, ``HW1``, ``HW3``, ``HW4``), PIL images, or file paths (read with
:func:`cbr_edu.images.read_image`). Values are uint8 0..255 or floats on the same
0..255 scale. Grayscale becomes RGB (channel repeated), alpha is dropped.

**Resize policy**: the *whole* image is resized (bilinear, antialiased, aspect
ratio not kept, no crop) to ``input_size``. Inside ``as_layer()`` the model
resizes with plain bilinear (no antialias, so it converts to TFLite builtins);
it is the identity when the images already have ``input_size``, which is what
``embed`` feeds it, so both paths agree.

Example
-------
>>> import numpy as np
>>> from cbr_edu.embedders import load_embedder
>>> emb = load_embedder("pixels:8")
>>> emb.embed(np.zeros((2, 32, 32, 3), np.uint8)).shape
(2, 64)
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes  # noqa: F401  (re-exported for the embedders)
from ..network import can_connect

__all__ = ["Embedder", "cache_dir", "network_available", "atomic_write_bytes",
           "OfflineError"]

_PROGRESS_THRESHOLD = 64


class OfflineError(RuntimeError):
    """A model needs the network (once) and there is none."""


def cache_dir(*parts) -> Path:
    """A folder under cbr-edu's cache (``$CBR_EDU_CACHE_DIR`` or the user cache dir),
    created if needed."""
    from cbr_edu.cache import cache_root
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def network_available(host: str = "www.kaggle.com", port: int = 443,
                      timeout: float = 2.0) -> bool:
    """True if a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    Tests monkeypatch this function to simulate offline/online.
    """
    return can_connect(host, port, timeout)


def hash_files(paths) -> str:
    """sha256 over the names and contents of ``paths`` (sorted)."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- images

def _to_rgb_float(img, where) -> np.ndarray:
    """One image -> float32 HWC RGB on the 0..255 scale."""
    if isinstance(img, (str, os.PathLike)):
        from cbr_edu.images import read_image  # lazy: images.py is optional at import
        img = read_image(img)
    arr = np.asarray(img)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"{where}: expected an image of shape (H, W), (H, W, 1), (H, W, 3) "
                         f"or (H, W, 4), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{where}: empty image of shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{where}: unsupported pixel type {arr.dtype}")
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"{where}: integer pixels must be in 0..255 (got {arr.dtype} "
                             f"values {arr.min()}..{arr.max()}); convert to uint8 first")
    c = arr.shape[-1]
    if c in (2, 4):  # drop alpha
        arr = arr[..., :c - 1]
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return arr.astype(np.float32, copy=False)


def _items(images):
    """Normalise the accepted containers to (length, indexable of single images)."""
    if isinstance(images, (str, os.PathLike)):
        return [images]
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return images
        if images.ndim == 3:
            if images.shape[-1] in (3, 4):
                raise ValueError(
                    f"ambiguous image array of shape {images.shape}: a 3-D array is read as "
                    "a batch of grayscale images (n, H, W). Pass one colour image as [img] "
                    "or img[None], a batch as (n, H, W, C).")
            return images
        raise ValueError(f"expected images of shape (n, H, W, C) or (n, H, W), "
                         f"got an array of shape {images.shape}")
    try:
        return list(images)
    except TypeError:
        raise TypeError(f"images must be an array, a sequence of arrays/paths, or a path; "
                        f"got {type(images).__name__}") from None


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
        """(b, H, W, 3) float32 0..255 at ``input_size`` -> (b, dim)."""
        if getattr(self, "_predict", None) is None:
            import tensorflow as tf
            model = self.as_layer()
            spec = tf.TensorSpec((None, *self.input_size, 3), tf.float32)
            self._predict = tf.function(lambda x: model(x, training=False),
                                        input_signature=[spec])
        return np.asarray(self._predict(batch))

    # -- public
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

    def embed(self, images, batch_size: int = 32, progress=None) -> np.ndarray:
        """Embed ``images`` -> ``(n, dim)`` float32 (see the module docstring for inputs).

        ``progress``: ``True``/``False`` forces the tqdm bar on/off; ``None`` shows it
        for more than 64 images.
        """
        return self._map_batches(images, self._embed_batch, batch_size, progress,
                                 empty_dim=self.dim)

    def _map_batches(self, images, fn, batch_size, progress, empty_dim, desc="embedding"):
        """Prepare ``images`` batch by batch and concatenate ``fn(batch)``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        items = _items(images)
        n = len(items)
        if n == 0:
            return np.zeros((0, empty_dim), np.float32)
        show = (n > _PROGRESS_THRESHOLD) if progress is None else bool(progress)
        bar = None
        if show:
            from tqdm.auto import tqdm
            bar = tqdm(total=n, desc=f"{desc} ({self.spec or self.id})", unit="img")
        out, warned = [], False
        try:
            for start in range(0, n, batch_size):
                batch = self._prepare(items, start, min(start + batch_size, n))
                if not warned and batch.size and batch.max() <= 1.0 and batch.max() > 0 and \
                        _is_float_input(items, start):
                    warnings.warn("float images with values in [0, 1]: embedders expect the "
                                  "0..255 scale (multiply by 255)", stacklevel=3)
                    warned = True
                out.append(np.asarray(fn(batch), np.float32))
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
        return np.concatenate(out, axis=0).reshape(n, -1)

    def _prepare(self, items, start, stop) -> np.ndarray:
        """Images ``items[start:stop]`` -> (b, H, W, 3) float32 0..255 at input_size."""
        import keras
        size = tuple(int(s) for s in self.input_size)
        if isinstance(items, np.ndarray) and items.ndim == 4 and items.shape[-1] == 3:
            batch = items[start:stop].astype(np.float32, copy=False)
            return batch if batch.shape[1:3] == size else np.asarray(
                keras.ops.image.resize(batch, size, interpolation="bilinear", antialias=True))
        out = np.empty((stop - start, *size, 3), np.float32)
        for i in range(start, stop):
            img = _to_rgb_float(items[i], where=f"image {i}")
            if img.shape[:2] != size:
                img = np.asarray(keras.ops.image.resize(
                    img, size, interpolation="bilinear", antialias=True))
            out[i - start] = img
        return out

    def __repr__(self):
        return f"<{type(self).__name__} {self.id!r} input_size={tuple(self.input_size)}>"


def _is_float_input(items, i) -> bool:
    first = items[i]
    return isinstance(first, np.ndarray) and np.issubdtype(first.dtype, np.floating)


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
