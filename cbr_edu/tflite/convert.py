"""Convert an embedder (a Keras model) to TFLite once, and keep the result in a cache.

TensorFlow's converter takes seconds to tens of seconds on an ImageNet embedder,
and every export of every classifier built on it -- and ``embed()`` of the offline
embedder, which runs the converted graph with LiteRT -- needs the same graph, so
the converted bytes are cached under ``cache_dir("tflite_stems")``. The cache key
is the embedder's ``id`` for a cbr-edu embedder (its Keras graph is then built only
when the entry is missing), else a hash of the Keras model's config and weights;
plus the TensorFlow version, :data:`FORMAT_VERSION`, the input size and the
quantisation. An image embedder is wrapped first so the ``.tflite`` takes ``uint8``
RGB pixels ``(batch, H, W, 3)`` and casts them to float inside.

``quantize="int8"`` makes a full-integer model: weights int8 (one scale per output
channel), activations int8 with ranges calibrated on :func:`calibration_images`
(the bundled photos, at the model's input size); the ``uint8`` input and the
``float32`` embedding stay as they are (a ``QUANTIZE`` after the cast, a
``DEQUANTIZE`` at the end), so the head and every client read it like the float
model. Measured on EfficientNet-Lite0 (``benchmarks/bench_tflite.py``): 0.30x the
size, about half the latency with LiteRT on this CPU; dynamic-range int8 (weights
only) was 0.28x the size but slower than float here, because XNNPACK does not run
its hybrid kernels by default.

Example
-------
>>> import keras
>>> features = keras.Input((4,))
>>> embedder = keras.Model(features, keras.layers.Dense(2, kernel_initializer="ones")(features))
>>> data, _ = convert_embedder(embedder)
>>> data[4:8], convert_embedder(embedder)[1]          # the second time, from the cache
(b'TFL3', True)
>>> graph = embedder_graph(data).subgraphs[0]
>>> graph.tensors[graph.outputs[0]].name, graph.tensors[graph.outputs[0]].shape.tolist()
('embedding', [1, 2])
"""

from __future__ import annotations

import hashlib
import json

from .._hashing import update_array
from .._paths import cache_dir, store_in_cache
from .._quiet import native_stderr_filtered
import numpy as np

from ._graph import Graph, pack, read_model, schema

__all__ = ["FORMAT_VERSION", "QUANTIZATIONS", "convert_embedder", "is_converted",
           "embedder_graph", "calibration_images"]

FORMAT_VERSION = 3  # bump when the converted graph changes (part of the cache key)
QUANTIZATIONS = (None, "int8")


def _uint8_input(embedder, image_size):
    """A Keras model uint8 ``(b, H, W, 3)`` -> embedding, around ``embedder``.

    Every layer has a fixed name, so the model's config -- part of the cache key --
    is the same in every process and for every call.
    """
    import keras

    class ToFloat(keras.layers.Layer):
        def call(self, x):
            return keras.ops.cast(x, "float32")

    inputs = keras.Input((*image_size, 3), dtype="uint8", name="image")
    outputs = embedder(ToFloat(name="to_float32")(inputs))
    return keras.Model(inputs, outputs, name="cbr_embedder")


def _is_embedder(embedder):
    """A cbr-edu :class:`~cbr_edu.embedders.Embedder` (not a Keras model)."""
    from ..embedders.base import Embedder
    return isinstance(embedder, Embedder)


def _cache_key(embedder, image_size, quantize):
    import tensorflow as tf
    h = hashlib.sha256()
    if _is_embedder(embedder):
        described = ["embedder", embedder.id]
    else:
        model = embedder if image_size is None else _uint8_input(embedder, image_size)
        described = [list(model.inputs[0].shape), model.to_json()]
    h.update(json.dumps([FORMAT_VERSION, tf.__version__, quantize, image_size, described],
                        default=str).encode())
    if not _is_embedder(embedder):
        for weight in embedder.weights:
            update_array(h, weight.numpy())
    return h.hexdigest()


def convert_embedder(embedder, *, image_size=None, quantize=None) -> tuple[bytes, bool]:
    """``(tflite bytes, came from the cache)`` of an embedder.

    ``embedder`` is a Keras model, or a cbr-edu embedder (converted from its
    ``as_layer()``, with ``image_size`` defaulting to its ``input_size``). With
    ``image_size=(H, W)`` the model takes uint8 pixels 0..255 at that size;
    without, it takes the embedder's own (float) input. The batch is dynamic.
    ``quantize="int8"``: full-integer int8 (see the module docstring); it needs
    an image input.
    """
    image_size = _image_size(embedder, image_size, quantize)
    cache_file = _cache_file(embedder, image_size, quantize)
    try:
        return cache_file.read_bytes(), True
    except OSError:
        pass
    model = embedder.as_layer() if _is_embedder(embedder) else embedder
    data = _convert(model if image_size is None else _uint8_input(model, image_size),
                    image_size, quantize)
    store_in_cache(cache_file, data)  # a read-only cache is not an error
    return data, False


def is_converted(embedder, *, image_size=None, quantize=None) -> bool:
    """Whether :func:`convert_embedder` would read ``embedder`` from the cache."""
    return _cache_file(embedder, _image_size(embedder, image_size, quantize), quantize).is_file()


def _image_size(embedder, image_size, quantize):
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
    if _is_embedder(embedder) and image_size is None:
        image_size = embedder.input_size
    if quantize is not None and image_size is None:
        raise ValueError("int8 quantisation calibrates on images: give image_size=(H, W)")
    return None if image_size is None else tuple(int(v) for v in image_size)


def _cache_file(embedder, image_size, quantize):
    return cache_dir("tflite_stems", create=False) / (
        f"{_cache_key(embedder, image_size, quantize)}.tflite")


def _convert(model, image_size, quantize):
    """TensorFlow's converter on ``model`` (frozen weights, dynamic batch)."""
    import tensorflow as tf
    spec = model.inputs[0]
    dtype = tf.uint8 if str(spec.dtype) == "uint8" else tf.float32
    module = tf.Module()
    module.variables_ = [w.value for w in model.weights]  # so the converter freezes them
    module.call = tf.function(lambda x: model(x, training=False), input_signature=[
        tf.TensorSpec((None, *spec.shape[1:]), dtype, name="input")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.call.get_concrete_function()], module)
    if quantize == "int8":
        images = calibration_images(image_size)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([images[i:i + 1]] for i in range(len(images)))
    try:
        with native_stderr_filtered():   # the quantiser prints its settings on stderr
            data = converter.convert()
    except Exception as error:  # noqa: BLE001 - the converter raises many kinds
        if quantize is None:
            raise
        raise ValueError(f"this embedder could not be quantised to int8 ({error}); export "
                         "it without quantize='int8'") from error
    return _without_identity_resizes(data)


def _without_identity_resizes(data):
    """``data`` without the resize ops that compute nothing: an image embedder resizes
    inside ``as_layer()``, which is the identity at the input size it is converted at,
    yet LiteRT would interpolate every pixel (about 3 % of Lite0's time)."""
    s = schema()
    model = read_model(data)
    graph = model.subgraphs[0]
    resize = s.BuiltinOperator.RESIZE_BILINEAR

    def is_identity(op):
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) != resize:
            return False
        before, after = (graph.tensors[t] for t in (op.inputs[0], op.outputs[0]))
        return (before.shape.tolist() == after.shape.tolist() and before.type == after.type
                and _same_quantization(before, after) and op.outputs[0] not in graph.outputs)

    identities = [op for op in graph.operators if is_identity(op)]
    if not identities:
        return data
    for op in identities:
        for other in graph.operators:
            other.inputs = np.where(other.inputs == op.outputs[0], op.inputs[0], other.inputs)
    graph.operators = [op for op in graph.operators if not any(op is i for i in identities)]
    return pack(Graph(model).model)  # Graph: buffers packed in bulk


def _same_quantization(a, b):
    qa, qb = a.quantization, b.quantization
    params = [[] if q is None or q.scale is None else [q.scale.tolist(), q.zeroPoint.tolist()]
              for q in (qa, qb)]
    return params[0] == params[1]


def calibration_images(image_size):
    """The representative images of int8 calibration: the ``photo_views`` data set
    (7 photos that installed packages ship, 7 views each), uint8 at ``image_size``."""
    from .. import datasets
    from ..images import prepare_images
    return prepare_images(datasets.load("photo_views").images, image_size)


def embedder_graph(data):
    """The ``ModelT`` of a converted embedder, ready for the CbR head to be appended.

    Its input is named ``image`` (uint8) or ``embedding``, its output ``embedding``;
    the converter's own metadata and signature are dropped (they describe the
    embedder alone).
    """
    s = schema()
    model = read_model(data)
    if len(model.subgraphs) != 1 or len(model.subgraphs[0].outputs) != 1:
        raise ValueError("the embedder converts to a TFLite graph with more than one "
                         "subgraph or output; it cannot be the base of a CbR model")
    subgraph = model.subgraphs[0]
    first = subgraph.tensors[subgraph.inputs[0]]
    first.name = "image" if first.type == s.TensorType.UINT8 else "embedding"
    subgraph.tensors[subgraph.outputs[0]].name = "embedding"
    model.metadata = None
    model.signatureDefs = None
    return model
