"""Embedders from model files: a ``.keras`` model or a ``.tflite`` (LiteRT) model.

Both must map RGB images to one embedding vector per image. A ``.keras`` model
takes 0..255 images with its preprocessing inside (like ``as_layer()`` of every
embedder) and is loaded with ``safe_mode=True`` (no arbitrary Python).
A ``.tflite`` model runs with ``ai_edge_litert.interpreter.Interpreter``; its
input size comes from the model, float inputs get ``scale`` ("0-255" by
default, also "0-1", "-1-1"), quantized inputs/outputs are (de)quantized with
the model's parameters. A ``.tflite`` model cannot become a Keras layer:
``as_layer()`` raises :class:`NotImplementedError` -- use ``embed``.

Example
-------
>>> from cbr_edu.embedders import load_embedder
>>> emb = load_embedder("my_embedder.keras")           # doctest: +SKIP
>>> emb = load_embedder("my_embedder.tflite")          # doctest: +SKIP
>>> emb.embed(["photo.jpg"]).shape                      # doctest: +SKIP
(1, 256)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._hashing import file_sha256
from .base import Embedder, keras_resize
from .savedmodel import SCALES

__all__ = ["KerasFileEmbedder", "TFLiteEmbedder"]

VERSION = 1


def _existing(path, kind):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{kind} embedder file not found: {path}")
    return path


class KerasFileEmbedder(Embedder):
    """A saved Keras model ``(b, H, W, 3)`` 0..255 -> ``(b, dim)``."""

    def __init__(self, path, *, spec=None, input_size=None, safe_mode=True):
        import keras
        self.path = _existing(path, ".keras")
        self.spec = spec or os.fspath(path)
        try:
            self.model = keras.saving.load_model(self.path, compile=False,
                                                 safe_mode=safe_mode)
        except Exception as e:
            raise ValueError(f"cannot load the Keras model {self.path}: {e}") from e
        shape = tuple(self.model.input_shape)
        if len(shape) != 4 or shape[-1] not in (3, None):
            raise ValueError(f"{self.path}: an embedder takes images (b, H, W, 3), this "
                             f"model takes {shape}")
        h, w = shape[1:3]
        self.input_size = tuple(int(s) for s in (input_size or (h or 224, w or 224)))
        self.id = (f"keras-file:{self.path.stem}@{file_sha256(self.path)[:12]}-"
                   f"{self.input_size[0]}x{self.input_size[1]}-v{VERSION}")

    def _build_layer(self):
        import keras
        inputs = keras.Input((None, None, 3), name="image")
        x = keras_resize(inputs, self.input_size)
        return keras.Model(inputs, self.model(x, training=False), name=f"{self.path.stem}_embedder")


class TFLiteEmbedder(Embedder):
    """A ``.tflite`` embedder run with LiteRT (``embed`` only, no Keras layer)."""

    def __init__(self, path, *, spec=None, scale="0-255", num_threads=None):
        from ._litert import LiteRTRunner
        self.path = _existing(path, ".tflite")
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
        self.spec, self.scale = spec or os.fspath(path), scale
        try:
            self._runner = LiteRTRunner(self.path, num_threads=num_threads)
        except Exception as e:
            raise ValueError(f"cannot load the LiteRT model {self.path}: {e}") from e
        self.input_size = self._runner.input_size
        self._dim = self._runner.dim
        self.id = (f"tflite:{self.path.stem}@{file_sha256(self.path)[:12]}-{scale}-v{VERSION}")

    def as_layer(self):
        raise NotImplementedError(
            f"{self.path.name}: a .tflite embedder cannot be composed into a Keras model "
            "(TFLite graphs are not Keras layers). Use embed() to compute embeddings, or "
            "build the CbR model from the .keras / SavedModel version of this embedder.")

    def _embed_batch(self, batch):
        mult, offset = SCALES[self.scale]
        return self._runner(batch.astype(np.float32) * mult + offset)
