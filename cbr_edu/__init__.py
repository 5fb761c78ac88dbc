"""cbr-edu: Classification-by-Retrieval, taught step by step.

A classifier with no training: embed a few images per class with a pre-trained
model, put a *retrieval* layer (cosine similarity to every indexed image) and an
*aggregation* layer (one score per class) on top, and you have a Keras model.

Example
-------
>>> import numpy as np, cbr_edu
>>> clf = cbr_edu.CbRClassifier().fit(np.eye(3), ["cat", "dog", "dog"])
>>> clf.predict(np.array([[0.9, 0.1, 0.0]]))
array(['cat'], dtype='<U3')

The heavy modules (TensorFlow, the embedders) are imported on first use, so
``import cbr_edu`` stays quick.
"""

import os
from importlib import import_module

from ._quiet import quiet_tool_start

# TensorFlow's start-up chatter (CUDA probes on CPU-only laptops) scares learners: its C++
# log level for later lines, and a filter for the lines it writes while loading.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
quiet_tool_start()

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily on first access)
_EXPORTS = {
    "CbRClassifier": "cbr_edu.classifier",
    "build_cbr_model": "cbr_edu.model",
    "load_embedder": "cbr_edu.embedders",
    "export_tflite": "cbr_edu.tflite",
}
_SUBMODULES = {
    "similarity", "layers", "model", "classifier", "embedders", "images",
    "datasets", "cache", "fewshot", "tflite", "plots",
    "widgets", "exercises",
}

__all__ = sorted(_EXPORTS) + sorted(_SUBMODULES)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return import_module(f"cbr_edu.{name}")
    raise AttributeError(f"module 'cbr_edu' has no attribute {name!r}")


def __dir__():
    return __all__
