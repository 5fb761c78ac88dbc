"""TFLite / LiteRT: export a CbR classifier to one ``.tflite`` file and run it.

Rooms, one job each:

* :mod:`~cbr_edu.tflite.export` — :func:`export_tflite` orchestrates an export;
* :mod:`~cbr_edu.tflite.convert` — the embedder converted once by TensorFlow, cached;
* ``_head`` — the CbR head written op by op (normalise → ``FULLY_CONNECTED`` →
  aggregation), :func:`quantize_rows` for int8 weights;
* ``_graph`` — the flatbuffer writer (aligned buffers, tensors, ops, packing);
* ``_parts`` / ``_normalization`` — what a classifier or model gives the export, and
  the pixel normalisation read from the embedder's own Keras graph;
* :mod:`~cbr_edu.tflite.metadata` — ``TFLITE_METADATA`` and the label file, written and read;
* :mod:`~cbr_edu.tflite.runtime` — :class:`LiteRTClassifier` runs a model, :func:`count_ops`.

Example
-------
>>> import numpy as np, tempfile, os
>>> from cbr_edu import CbRClassifier
>>> clf = CbRClassifier().fit(np.eye(3), ["cat", "dog", "dog"])
>>> out = os.path.join(tempfile.mkdtemp(), "pets.tflite")
>>> _ = export_tflite(clf, out)
>>> LiteRTClassifier(out).predict(np.array([[0.0, 0.9, 0.1]]), top=1)[0][0][0]
'dog'
"""

from ._head import quantize_rows
from .export import ExportResult, export_tflite
from .metadata import read_class_names, read_metadata
from .runtime import LiteRTClassifier, count_ops

__all__ = ["export_tflite", "ExportResult", "LiteRTClassifier", "read_class_names",
           "read_metadata", "count_ops", "quantize_rows"]
