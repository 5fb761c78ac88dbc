"""Embedders: images -> vectors, behind one interface (:class:`Embedder`).

``load_embedder(spec)`` accepts

==============================================  =============================================
``"efficientnet_lite0"`` / ``"default"`` / None  EfficientNet-Lite0 ImageNet, 1280-d, **offline**
``"pixels"``, ``"pixels:32"``, ``"pixels:32:rgb"``  resized raw pixels in [0, 1] (gray by default)
``"https://tfhub.dev/..."``, ``"https://www.kaggle.com/models/..."``  TF Hub / Kaggle Models
                                                SavedModel (needs internet once)
a SavedModel directory                          loaded with ``tf.saved_model.load``
``"keras:MobileNetV3Small"``                    ``keras.applications`` (weights need internet once)
``"model.keras"``                               a Keras model image -> embedding
``"model.tflite"``                              a LiteRT embedder (``embed`` only)
==============================================  =============================================

Keyword arguments (``input_size=(H, W)``, ``scale="0-1"``, ...) go to the family's
loader; ``runtime="keras"`` makes the offline default embed with Keras instead of
LiteRT (its default, 2-4x faster, equal within 1e-4). Every embedder has ``embed``, ``as_layer``, ``dim``, ``input_size``, ``id``
and ``spec`` (see :mod:`cbr_edu.embedders.base`).

Example
-------
>>> from cbr_edu.embedders import load_embedder
>>> emb = load_embedder("pixels:16")
>>> emb.dim, emb.input_size
(256, (16, 16))
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import Embedder, OfflineError

__all__ = ["load_embedder", "Embedder", "OfflineError", "DEFAULT_SPEC", "ACCEPTED_SPECS"]

DEFAULT_SPEC = "efficientnet_lite0"

ACCEPTED_SPECS = """\
  "efficientnet_lite0" (or "default")   offline EfficientNet-Lite0, 1280-d
  "pixels", "pixels:<side>", "pixels:<side>:rgb"   raw-pixel baseline
  "https://tfhub.dev/..." or "https://www.kaggle.com/models/..."   TF Hub / Kaggle Models handle
  "/path/to/saved_model_dir"             a local TF SavedModel directory
  "keras:<Name>"                         a keras.applications model, e.g. keras:MobileNetV3Small
  "/path/to/model.keras"                 a Keras model image -> embedding
  "/path/to/model.tflite"                a LiteRT/TFLite embedder"""

# the accepted forms in one line, for an error message
_ONE_LINE = ("efficientnet_lite0 (or default), pixels / pixels:<side> / pixels:<side>:rgb, "
             "a TF Hub or Kaggle Models handle (https://tfhub.dev/... or "
             "https://www.kaggle.com/models/...), a SavedModel folder, "
             "keras:<Name>, a .keras file, a .tflite file")

_REMOTE_PREFIXES = ("http://", "https://", "gs://")


def _is_remote(spec: str) -> bool:
    return spec.startswith(_REMOTE_PREFIXES) or spec.startswith(("kaggle:", "tfhub:"))


def load_embedder(spec=None, **kwargs) -> Embedder:
    """Load an embedder from a spec string (see the module docstring).

    An :class:`Embedder` passes through unchanged. Unknown specs raise ValueError
    listing the accepted forms.
    """
    if isinstance(spec, Embedder):
        return spec
    if spec is None or spec == "default":
        spec = DEFAULT_SPEC
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        raise TypeError(f"embedder spec must be a string or path, got {type(spec).__name__}")
    s = spec.strip()
    low = s.lower()
    if low in ("efficientnet_lite0", "efficientnet-lite0", "lite0"):
        from .efficientnet_lite0 import EfficientNetLite0Embedder
        return EfficientNetLite0Embedder(spec=s, **kwargs)
    if low == "pixels" or low.startswith("pixels:"):
        from .pixels import PixelsEmbedder
        return PixelsEmbedder.from_spec(s, **kwargs)
    if low.startswith("keras:"):
        from .keras_apps import KerasApplicationEmbedder
        return KerasApplicationEmbedder(s, **kwargs)
    if _is_remote(s):
        from .savedmodel import SavedModelEmbedder
        return SavedModelEmbedder.from_handle(s, **kwargs)
    path = Path(s).expanduser()
    if low.endswith(".keras"):
        from .files import KerasFileEmbedder
        return KerasFileEmbedder(path, spec=s, **kwargs)
    if low.endswith(".tflite"):
        from .files import TFLiteEmbedder
        return TFLiteEmbedder(path, spec=s, **kwargs)
    if path.is_dir():
        from .savedmodel import SavedModelEmbedder
        return SavedModelEmbedder.from_directory(path, spec=s, **kwargs)
    hint = (f" {s!r} looks like a path but does not exist." if ("/" in s or os.sep in s)
            else "")
    raise ValueError(f"unknown embedder spec {spec!r}.{hint} Accepted forms: {_ONE_LINE}")
