"""``keras:<Name>`` -- a ``keras.applications`` ImageNet model as an embedder.

The model is built with ``include_top=False, pooling="avg"`` and the
application's own preprocessing is put *inside* the layer (as Keras layers), so
it takes plain 0..255 RGB images like every other embedder. The ImageNet weights
are downloaded once by Keras (cached in ``$KERAS_HOME/models``, default
``~/.keras/models``); offline and not cached -> :class:`~cbr_edu.embedders.OfflineError`
within a few seconds.

Example
-------
>>> from cbr_edu.embedders import load_embedder
>>> emb = load_embedder("keras:MobileNetV3Small")       # doctest: +SKIP
>>> emb.dim                                             # doctest: +SKIP
576
"""

from __future__ import annotations

import os
import socket

import numpy as np

from .. import _network
from . import base
from .base import Embedder, OfflineError

__all__ = ["KerasApplicationEmbedder", "PREPROCESSING", "INPUT_SIZES"]

VERSION = 1
_NONE = ("MobileNetV3", "EfficientNet", "ConvNeXt", "RegNet", "ResNetRS")  # built in
_TF = ("MobileNet", "Inception", "Xception", "NASNet", "ResNet50V2", "ResNet101V2",
       "ResNet152V2")  # x/127.5 - 1
_CAFFE = ("ResNet50", "ResNet101", "ResNet152", "VGG")  # RGB->BGR, minus ImageNet mean
_TORCH = ("DenseNet",)  # x/255, ImageNet mean/std
#: application name prefix -> preprocessing mode (first match wins, order matters)
PREPROCESSING = {**{p: "none" for p in _NONE}, **{p: "tf" for p in _TF},
                 **{p: "caffe" for p in _CAFFE}, **{p: "torch" for p in _TORCH}}
INPUT_SIZES = {"InceptionV3": 299, "InceptionResNetV2": 299, "Xception": 299,
               "NASNetLarge": 331, "EfficientNetB1": 240, "EfficientNetB2": 260,
               "EfficientNetB3": 300, "EfficientNetB4": 380, "EfficientNetB5": 456,
               "EfficientNetB6": 528, "EfficientNetB7": 600, "EfficientNetV2B1": 240,
               "EfficientNetV2B2": 260, "EfficientNetV2B3": 300, "EfficientNetV2S": 384,
               "EfficientNetV2M": 480, "EfficientNetV2L": 480}
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def preprocessing_mode(name: str) -> str:
    for prefix, mode in PREPROCESSING.items():
        if name.startswith(prefix):
            return mode
    raise ValueError(f"keras:{name}: unknown preprocessing for this application")


def keras_weights_dir() -> str:
    from keras.src.backend import config
    return os.path.join(os.path.expanduser(config.keras_home()), "models")


def _preprocess_layers(mode):
    import keras
    L = keras.layers
    if mode == "none":
        return []
    if mode == "tf":
        return [L.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")]
    if mode == "torch":
        return [L.Rescaling(1 / 255.0, name="to_unit"),
                L.Normalization(mean=list(_TORCH_MEAN),
                                variance=[s * s for s in _TORCH_STD], name="preprocess")]
    # caffe: y = P x - mean, P swaps RGB -> BGR; one fixed 1x1 convolution
    conv = L.Conv2D(3, 1, trainable=False, name="preprocess")
    conv.build((None, None, None, 3))
    conv.set_weights([np.eye(3, dtype=np.float32)[::-1].T.reshape(1, 1, 3, 3).copy(),
                      -np.array(_CAFFE_MEAN_BGR, np.float32)])
    return [conv]


class KerasApplicationEmbedder(Embedder):
    """``keras.applications.<name>(include_top=False, pooling="avg", weights="imagenet")``."""

    def __init__(self, spec, *, input_size=None, weights="imagenet"):
        import keras
        name = spec.split(":", 1)[1].strip()
        fn = getattr(keras.applications, name, None)
        if not name or not callable(fn) or name[0].islower():
            known = sorted(n for n in dir(keras.applications)
                           if n[:1].isupper() and callable(getattr(keras.applications, n)))
            raise ValueError(f"unknown keras application {name!r}; available: "
                             f"{', '.join(known)}")
        self.name, self.spec, self.mode = name, spec, preprocessing_mode(name)
        side = INPUT_SIZES.get(name, 224)
        self.input_size = tuple(int(s) for s in (input_size or (side, side)))
        wtag = "imagenet" if weights == "imagenet" else "custom"
        self.id = (f"keras:{name}@keras{keras.__version__}-{wtag}-"
                   f"{self.input_size[0]}x{self.input_size[1]}-v{VERSION}")
        self._base = self._build_base(fn, weights)

    def _build_base(self, fn, weights):
        online = weights != "imagenet" or _network.can_connect("storage.googleapis.com")
        old = socket.getdefaulttimeout()
        if not online:  # weights may be cached; if not, fail in seconds, not minutes
            socket.setdefaulttimeout(2.0)
        try:
            return fn(include_top=False, pooling="avg", weights=weights,
                      input_shape=(*self.input_size, 3))
        except Exception as e:
            if online and not _looks_like_network_error(e):
                raise
            raise OfflineError(
                f"keras:{self.name} needs its ImageNet weights, downloaded once from the "
                f"internet and then cached in {keras_weights_dir()}; the download failed "
                f"({type(e).__name__}: {e}). Connect once (or copy the weights file into "
                "that folder). Offline, use load_embedder('efficientnet_lite0'), which "
                "ships with the package.") from e
        finally:
            socket.setdefaulttimeout(old)

    def _build_layer(self):
        import keras
        inputs = keras.Input((None, None, 3), name="image")
        x = base.keras_resize(inputs, self.input_size)
        for layer in _preprocess_layers(self.mode):
            x = layer(x)
        return keras.Model(inputs, self._base(x, training=False), name=f"keras_{self.name}_embedder")


def _looks_like_network_error(e) -> bool:
    import urllib.error
    text = str(e).lower()
    return isinstance(e, (urllib.error.URLError, OSError, TimeoutError)) or \
        "url fetch failure" in text or "urlopen" in text
