"""TF Hub / Kaggle Models handles and local SavedModel directories, Keras-3-natively.

``hub.KerasLayer`` is a *tf_keras* layer and cannot go into a Keras 3 model, so a
handle is resolved to a directory with ``tensorflow_hub.resolve`` (download +
cache, needs internet once) and the SavedModel is wrapped in
:class:`SavedModelLayer`, a ``keras.layers.TFSMLayer`` that also accepts models
whose endpoint is ``__call__`` or a signature with a named input.

Input convention (hub image models): RGB at 224x224 with values in [0, 1]; change
it with ``input_size=(H, W)`` and ``scale="0-1" | "-1-1" | "0-255"``. ``dim`` is
found by running a dummy batch. A 4-D feature map output is average-pooled.

Offline, a remote handle that is not in the hub cache fails fast (a 2 s
connectivity probe) with an :class:`~cbr_edu.embedders.OfflineError` that says how
to use a local copy.

Example
-------
>>> from cbr_edu.embedders import load_embedder
>>> emb = load_embedder("/data/mobilenet_v3_small_feature_vector")    # doctest: +SKIP
>>> emb = load_embedder("https://tfhub.dev/google/imagenet/"
...                     "mobilenet_v3_small_100_224/feature_vector/5")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import keras

from .. import _network
from .._hashing import update_file
from . import base
from .base import Embedder, OfflineError

__all__ = ["SavedModelEmbedder", "SavedModelLayer", "SCALES"]

#: scale name -> (multiplier, offset) applied to 0..255 pixels
SCALES = {"0-1": (1 / 255.0, 0.0), "-1-1": (1 / 127.5, -1.0), "0-255": (1.0, 0.0)}
VERSION = 1


@keras.saving.register_keras_serializable(package="cbr_edu")
class SavedModelLayer(keras.layers.TFSMLayer):
    """A ``keras.layers.TFSMLayer`` whose endpoint may also be ``__call__`` or a
    keyword-only signature, returning one tensor (``output_key`` picks one of several
    outputs). Like TFSMLayer it only deserialises with ``safe_mode=False``: a SavedModel
    is a program.
    """

    def __init__(self, filepath, *, call_endpoint=None, output_key=None, **kwargs):
        filepath = os.fspath(filepath)
        if call_endpoint is None:
            call_endpoint = _default_endpoint(filepath)
        super().__init__(filepath, call_endpoint=call_endpoint, **kwargs)
        self.output_key = output_key
        sig = getattr(self.call_endpoint_fn, "structured_input_signature", None)
        self._input_name = None
        if sig is not None and not sig[0] and len(sig[1]) == 1:
            self._input_name = next(iter(sig[1]))  # keyword-only signature

    def call(self, inputs, training=False):
        fn = self.call_endpoint_fn
        out = fn(**{self._input_name: inputs}) if self._input_name else fn(inputs)
        if isinstance(out, dict):
            if self.output_key is not None:
                return out[self.output_key]
            if len(out) != 1:
                raise ValueError(f"{self.filepath}: the model has outputs {sorted(out)}; "
                                 "pass output_key=... to choose the embedding")
            return next(iter(out.values()))
        return out

    def get_config(self):
        return {**super().get_config(), "output_key": self.output_key}


def _default_endpoint(filepath):
    """``__call__`` if the SavedModel is callable, else its (only / default) signature."""
    import tensorflow as tf
    loaded = tf.saved_model.load(filepath)
    sigs = getattr(loaded, "signatures", {})
    if callable(loaded):
        return "__call__"
    if "serving_default" in sigs:
        return "serving_default"
    if len(sigs) == 1:
        return next(iter(sigs))
    raise ValueError(f"{filepath}: cannot tell which function computes the embedding "
                     f"(signatures: {list(sigs)}); pass call_endpoint=...")


def _hub_cached_dir(handle):
    """The hub cache directory of ``handle`` if it is already downloaded, else None.

    Same layout as ``tensorflow_hub`` (``$TFHUB_CACHE_DIR`` or ``<tmp>/tfhub_modules``,
    then sha1 of the handle), computed without importing it (it imports tf_keras).
    """
    cache = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(),
                                                               "tfhub_modules")
    path = Path(cache, hashlib.sha1(handle.encode("utf8")).hexdigest())
    if path.is_dir() and any(path.iterdir()) and not Path(f"{path}.lock").exists():
        return path
    return None


def _folder_sha256(directory) -> str:
    """sha256 over the names and contents of every file below ``directory``."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        h.update(path.name.encode())
        update_file(h, path)
    return h.hexdigest()


def _offline_message(handle, reason):
    return (
        f"cannot load {handle!r}: {reason}. A TF Hub / Kaggle Models handle needs internet "
        "the first time (it is then cached in $TFHUB_CACHE_DIR). To work offline, download "
        "the model once on a connected machine (on Kaggle: 'Download' -> TensorFlow 2 "
        "SavedModel, or run tensorflow_hub.resolve(handle) and copy the directory it "
        "returns), then pass the directory: load_embedder('/path/to/saved_model_dir'). "
        "The offline default load_embedder('efficientnet_lite0') needs no network.")


class SavedModelEmbedder(Embedder):
    """A SavedModel (local directory, or resolved from a TF Hub / Kaggle handle)."""

    def __init__(self, directory, *, spec=None, input_size=(224, 224), scale="0-1",
                 call_endpoint=None, output_key=None):
        directory = Path(directory)
        if not (directory / "saved_model.pb").exists() and \
                not (directory / "saved_model.pbtxt").exists():
            raise ValueError(f"{directory} is not a TensorFlow SavedModel directory (no "
                             "saved_model.pb inside)")
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
        self.directory, self.scale = directory, scale
        self.spec = spec or os.fspath(directory)
        self.input_size = tuple(int(s) for s in input_size)
        self._call_endpoint, self._output_key = call_endpoint, output_key
        self.id = (f"savedmodel:{directory.name}@{_folder_sha256(directory)[:12]}"
                   f"-{self.input_size[0]}x{self.input_size[1]}-{scale}-v{VERSION}")
        self.as_layer()  # load now: errors surface at load time, not at first embed

    @classmethod
    def from_directory(cls, directory, spec=None, **kwargs):
        return cls(directory, spec=spec, **kwargs)

    @classmethod
    def from_handle(cls, handle, **kwargs):
        """Resolve a TF Hub / Kaggle Models handle (fails fast offline)."""
        cached = _hub_cached_dir(handle)
        if cached is None:
            host = urlparse(handle).hostname or "tfhub.dev"
            if not _network.can_connect(host):
                raise OfflineError(_offline_message(handle, f"no connection to {host}"))
            try:
                import tensorflow_hub as hub
            except ImportError as e:  # pragma: no cover - it is a requirement
                raise ImportError("remote handles need tensorflow-hub: "
                                  "pip install tensorflow-hub") from e
            try:
                cached = hub.resolve(handle)
            except Exception as e:
                raise OfflineError(_offline_message(handle, f"download failed ({e})")) from e
        return cls(cached, spec=handle, **kwargs)

    def _build_layer(self):
        import keras
        L = keras.layers
        mult, offset = SCALES[self.scale]
        inputs = keras.Input((None, None, 3), name="image")
        x = base.keras_resize(inputs, self.input_size)
        x = L.Rescaling(mult, offset=offset, name="scale")(x)
        x = SavedModelLayer(os.fspath(self.directory), call_endpoint=self._call_endpoint,
                            output_key=self._output_key, trainable=False,
                            name="saved_model")(x, training=False)
        if len(x.shape) == 4:
            x = L.GlobalAveragePooling2D(name="avg_pool")(x)
        elif len(x.shape) != 2:
            x = L.Flatten(name="flatten")(x)
        return keras.Model(inputs, x, name="saved_model_embedder")
