"""The pixel normalisation an embedder applies, read from its own Keras graph.

An exported image model records in its metadata how it maps 0..255 pixels:
``(pixel - mean) / std``. The answer is read from the embedder's Keras graph,
not from a table: starting at the image input, the leading ``Rescaling`` and
``Normalization`` layers are composed (``Resizing`` and input layers pass through,
nested models are entered) until the first other layer. The same graph sits
inside a ``CbRClassifier``'s embedder and inside ``clf.to_keras()``, so both
export the same metadata. A graph with no such leading layers gets
``mean 0, std 1`` (the network sees the pixels as they are).

Example
-------
>>> import keras
>>> image = keras.Input((8, 8, 3))
>>> x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(image)
>>> read_normalization(keras.Model(image, keras.layers.Flatten()(x)))
([127.5], [127.5])
"""

from __future__ import annotations

import numpy as np

__all__ = ["read_normalization"]


def read_normalization(model) -> tuple[list, list]:
    """``(mean, std)`` of the leading pixel normalisation of a Keras model.

    One value each when every channel is treated alike, else one per channel; as
    float32 values, the precision the metadata stores.
    """
    scale, offset, _ = _compose(model, np.ones(1), np.zeros(1))
    mean = (-offset / scale).astype(np.float32)
    std = (1.0 / scale).astype(np.float32)
    if np.all(mean == mean[0]) and np.all(std == std[0]):
        mean, std = mean[:1], std[:1]
    return [float(v) for v in mean], [float(v) for v in std]


def _compose(model, scale, offset):
    """Fold the leading affine layers of ``model`` into ``x * scale + offset``.

    Returns ``(scale, offset, whole)``; ``whole`` is True when the path reached the
    model's output through affine layers only (the walk goes on after the model).
    """
    import keras
    layers = keras.layers
    for layer in _leading_path(model):
        if isinstance(layer, (layers.InputLayer, layers.Resizing)):
            continue
        if isinstance(layer, keras.Model):
            scale, offset, whole = _compose(layer, scale, offset)
        elif isinstance(layer, layers.Rescaling):
            whole, (scale, offset) = True, _rescale(scale, offset, layer.scale, layer.offset)
        elif isinstance(layer, layers.Normalization):
            step = _normalization_step(layer)
            whole = step is not None
            if whole:
                scale, offset = _rescale(scale, offset, *step)
        else:
            whole = False
        if not whole:
            return scale, offset, False
    return scale, offset, True


def _rescale(scale, offset, times, plus):
    """Compose ``y * times + plus`` after ``y = x * scale + offset`` (per channel)."""
    times = np.asarray(times, np.float64).reshape(-1)
    plus = np.asarray(plus, np.float64).reshape(-1)
    return scale * times, offset * times + plus


def _normalization_step(layer):
    """``(times, plus)`` of a ``Normalization`` layer over channels, or None."""
    import keras
    mean = np.asarray(keras.ops.convert_to_numpy(layer.mean), np.float64)
    variance = np.asarray(keras.ops.convert_to_numpy(layer.variance), np.float64)
    if tuple(layer.axis) not in ((-1,), (mean.ndim - 1,)):  # not per channel
        return None
    mean = mean.reshape(-1)
    deviation = np.maximum(np.sqrt(variance.reshape(-1)), keras.config.epsilon())
    if layer.invert:  # mean + x * deviation
        return deviation, mean
    return 1.0 / deviation, -mean / deviation


def _leading_path(model):
    """The layers on the single path from a model's (only) input, in order.

    The path ends where a tensor has more (or fewer) than one consumer, or a
    layer takes several inputs.
    """
    import keras
    if isinstance(model, keras.Sequential):
        yield from model.layers
        return
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1:
        yield None  # not a graph with one input: nothing is known
        return
    tensor, outputs = inputs[0], {id(t) for t in model.outputs}
    while id(tensor) not in outputs:
        # Keras keeps no public list of a tensor's consumers; the inbound nodes of the
        # model's own operations are where it records them (summary() reads them too)
        consumers = [(op, node) for op in model.operations for node in op._inbound_nodes
                     if any(t is tensor for t in node.input_tensors)]
        if len(consumers) != 1 or len(consumers[0][1].input_tensors) != 1 \
                or len(consumers[0][1].output_tensors) != 1:
            yield None
            return
        layer, node = consumers[0]
        yield layer
        tensor = node.output_tensors[0]
