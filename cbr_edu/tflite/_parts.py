"""What a fitted ``CbRClassifier`` or a CbR Keras model gives the export.

:func:`parts_of` reads the index, its class ids and names, the aggregation and
the embedder (a classifier's cbr-edu embedder, or the part of a Keras model from
its input to the embedding) from either form; ``clf`` and ``clf.to_keras()`` give the same parts.

Example
-------
>>> import numpy as np
>>> from cbr_edu import CbRClassifier
>>> parts = parts_of(CbRClassifier().fit(np.eye(3), ["cat", "dog", "dog"]))
>>> parts.class_names, parts.class_ids.tolist(), parts.embedder is None
(['cat', 'dog'], [0, 1, 1], True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Parts", "parts_of"]


@dataclass
class Parts:
    """The pieces of a CbR classifier that go into a ``.tflite`` file."""

    embedder: object           # a cbr-edu Embedder, or a Keras model: input (0..255 pixels
                               # or features) -> embedding; or None
    image_size: tuple | None   # (H, W) of an image input
    index: np.ndarray          # (N, dim) float32, L2-normalised
    class_ids: np.ndarray      # (N,) int32
    class_names: list
    aggregation: str
    k: int

    @property
    def dim(self) -> int:
        return int(self.index.shape[1])

    def keras_embedder(self):
        """The embedder as a Keras model (None without one)."""
        as_layer = getattr(self.embedder, "as_layer", None)
        return as_layer() if as_layer is not None else self.embedder


def parts_of(model_or_classifier) -> Parts:
    """The :class:`Parts` of a fitted ``CbRClassifier`` or a CbR ``keras.Model``."""
    if hasattr(model_or_classifier, "index_labels_") or hasattr(model_or_classifier, "to_keras"):
        return _from_classifier(model_or_classifier)
    if hasattr(model_or_classifier, "layers"):
        return _from_keras(model_or_classifier)
    raise TypeError(f"export_tflite takes a CbRClassifier or a CbR keras.Model, got "
                    f"{type(model_or_classifier).__name__}")


def _from_classifier(clf):
    from ..model import check_index
    from ..similarity import l2_normalize
    if not hasattr(clf, "index_embeddings_"):
        raise ValueError("the classifier is not fitted yet: call fit(X, y) before exporting")
    _, classes, class_ids = check_index(clf.index_embeddings_, clf.index_labels_)
    index = l2_normalize(np.asarray(clf.index_embeddings_, np.float32)).astype(np.float32)
    embedder, image_size = clf.embedder_, None
    if embedder is not None:  # kept whole: its id names its converted graph in the cache
        image_size = tuple(int(v) for v in embedder.input_size)
    return Parts(embedder, image_size, index, class_ids, [str(c) for c in classes],
                 clf.aggregation, int(clf.k))


def _from_keras(model):
    import keras
    from ..layers import EMPTY_SLOT
    from ..model import cbr_layers
    retrieval, aggregator = cbr_layers(model)
    if len(model.inputs) != 1:
        raise ValueError("a CbR model for export has exactly one input")
    class_ids = keras.ops.convert_to_numpy(aggregator.class_ids).astype(np.int32)
    used = class_ids != EMPTY_SLOT  # spare rows (build_cbr_model(capacity=...)) are left out
    index = np.ascontiguousarray(retrieval.index_embeddings[used], dtype=np.float32)  # (N, dim)
    class_ids = class_ids[used]
    names = aggregator.class_names or [str(i) for i in range(aggregator.num_classes)]
    embedder, image_size = None, None
    shape = tuple(model.inputs[0].shape)
    if retrieval.input is not model.inputs[0]:
        # a fixed name keeps its config (part of the conversion cache key) the same
        embedder = keras.Model(model.inputs[0], retrieval.input, name="embedder")
        if len(shape) == 4:
            if shape[1] is None or shape[2] is None:
                raise ValueError("the model's image input has no fixed size; build it with "
                                 "build_cbr_model(..., embedder=...) so it has one")
            image_size = (int(shape[1]), int(shape[2]))
    return Parts(embedder, image_size, index, class_ids, list(names), aggregator.aggregation,
                 int(aggregator.k))
