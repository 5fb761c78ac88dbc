"""Convert an embedder (a Keras model) to TFLite once, and keep the result in a cache.

TensorFlow's converter takes tens of seconds on an ImageNet embedder, and every
export of every classifier built on it needs the same graph, so the converted
bytes are cached under ``cache_dir("tflite_stems")`` by a hash of the model's
config and weights (plus the TensorFlow version and :data:`FORMAT_VERSION`).
An image embedder is wrapped first so the ``.tflite`` takes ``uint8`` RGB pixels
``(batch, H, W, 3)`` and casts them to float inside.

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
from ._graph import read_model, schema

__all__ = ["FORMAT_VERSION", "convert_embedder", "embedder_graph"]

FORMAT_VERSION = 1  # bump when the converted graph changes (part of the cache key)


def _uint8_input(embedder, image_size):
    """A Keras model uint8 ``(b, H, W, 3)`` -> embedding, around ``embedder``."""
    import keras
    inputs = keras.Input((*image_size, 3), dtype="uint8", name="image")
    outputs = embedder(keras.ops.cast(inputs, "float32"))
    return keras.Model(inputs, outputs, name="cbr_embedder")


def _cache_key(model, dtype):
    import tensorflow as tf
    spec = model.inputs[0]
    h = hashlib.sha256()
    h.update(json.dumps([FORMAT_VERSION, tf.__version__, str(dtype), list(spec.shape),
                         model.to_json()], default=str).encode())
    for weight in model.weights:
        update_array(h, weight.numpy())
    return h.hexdigest()


def convert_embedder(embedder, *, image_size=None) -> tuple[bytes, bool]:
    """``(tflite bytes, came from the cache)`` of a Keras embedder.

    With ``image_size=(H, W)`` the model takes uint8 pixels 0..255 at that size;
    without, it takes the embedder's own (float) input. The batch is dynamic.
    """
    import tensorflow as tf
    model = embedder if image_size is None else _uint8_input(embedder, image_size)
    spec = model.inputs[0]
    dtype = tf.uint8 if str(spec.dtype) == "uint8" else tf.float32
    cache_file = cache_dir("tflite_stems", create=False) / f"{_cache_key(model, dtype)}.tflite"
    try:
        return cache_file.read_bytes(), True
    except OSError:
        pass
    module = tf.Module()
    module.variables_ = [w.value for w in model.weights]  # so the converter freezes them
    module.call = tf.function(lambda x: model(x, training=False), input_signature=[
        tf.TensorSpec((None, *spec.shape[1:]), dtype, name="input")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.call.get_concrete_function()], module)
    data = converter.convert()
    store_in_cache(cache_file, data)  # a read-only cache is not an error
    return data, False


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
