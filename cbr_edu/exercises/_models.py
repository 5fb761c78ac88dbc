"""Checking answers that must be Keras models built from given layers.

Where the lesson is "build it in Keras", a plain numpy function that computes the same
numbers is not the answer: :func:`require_model` says so, :func:`cbr_edu.model.layers_of`
lists the layers a check then inspects (their kind and their weights), and
:func:`run_model` calls the model and turns a crash into a clear message.

Example
-------
>>> import keras
>>> from cbr_edu.model import layers_of
>>> inputs = keras.Input(shape=(3,))
>>> model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
>>> [type(layer).__name__ for layer in layers_of(model)]
['InputLayer', 'Dense']
"""

from __future__ import annotations

import numpy as np

from ._core import Wrong

__all__ = ["require_model", "run_model"]


def require_model(value, what, recipe):
    """``value`` when it is a ``keras.Model``; else a Wrong that names what it is instead."""
    import keras

    if isinstance(value, keras.Model):
        return value
    if value is None:
        raise Wrong(f"{what} returned None — did you forget `return keras.Model(inputs, "
                    "outputs)`?")
    if isinstance(value, keras.layers.Layer):
        raise Wrong(f"{what} returned a layer ({type(value).__name__}), not a model: wrap "
                    "the layers in `keras.Model(inputs, outputs)`, with "
                    "`inputs = keras.Input(shape=(dim,))`.")
    if callable(value):
        raise Wrong(f"{what} returned a plain Python function, not a Keras model. Even if "
                    "it computes the right numbers, the lesson is to build it from Keras "
                    f"layers ({recipe}) and return `keras.Model(inputs, outputs)`.")
    raise Wrong(f"{what} should return a keras.Model ({recipe}); got "
                f"{type(value).__name__} — numbers computed with numpy are not a model.")



def run_model(model, inputs):
    """``model(inputs)`` as a float numpy array; a crash becomes a Wrong naming it."""
    import keras

    try:
        outputs = model(inputs)
    except Exception as exc:  # noqa: BLE001 - show the learner what broke
        raise Wrong(f"calling your model on a batch of shape {np.shape(inputs)} raised "
                    f"{type(exc).__name__}: {exc}") from None
    return np.asarray(keras.ops.convert_to_numpy(outputs), dtype=np.float64)
