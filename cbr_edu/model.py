"""Assemble a Classification-by-Retrieval Keras model from an index.

``build_cbr_model`` stacks (optionally) an embedder, a ``RetrievalLayer`` and an
``AggregationLayer``. Nothing is trained: the index *is* the model.

The output columns are the classes in **sorted order** — ``numpy.unique(labels)``,
the same order as ``CbRClassifier.classes_`` — and the names are stored in the
aggregation layer (``class_names(model)`` reads them back, also after
``keras.models.load_model``).

``write_index`` puts a new index into an existing model of the same dimension and
number of classes, in place: the compiled graph is kept, nothing is rebuilt or
retraced. A model built with ``capacity`` rows to spare takes a larger index the
same way; rows beyond the index are empty slots that never score.

Example
-------
>>> import numpy as np
>>> model = build_cbr_model(np.eye(3), ["dog", "cat", "dog"])
>>> class_names(model)
['cat', 'dog']
>>> model.predict(np.array([[0.1, 0.9, 0.0]]), verbose=0).round(2)
array([[0.99, 0.11]], dtype=float32)
"""

import keras
import numpy as np

from ._labels import label_kind
from .layers import EMPTY_SLOT, AggregationLayer, RetrievalLayer

__all__ = ["build_cbr_model", "write_index", "class_names", "cbr_layers", "check_index",
           "layers_of"]


def check_index(embeddings, labels):
    """Validate an index and return ``(embeddings float32, classes, class_ids)``.

    Raises a ``ValueError`` that says what is wrong: fewer than 2 items, a
    label/row count mismatch, a non-matrix, NaN or inf values, None labels or
    labels of mixed types.

    >>> _, classes, ids = check_index(np.eye(2), ["b", "a"])
    >>> classes.tolist(), ids.tolist()
    (['a', 'b'], [1, 0])
    """
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2:
        raise ValueError(
            f"index embeddings must be a 2-D array (items, dim), got shape {embeddings.shape}")
    label_kind(labels)  # no None labels, no mixture of types
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D (one per item), got shape {labels.shape}")
    if len(labels) != len(embeddings):
        raise ValueError(
            f"got {len(embeddings)} embeddings but {len(labels)} labels; give one label per item")
    if len(embeddings) < 2:
        raise ValueError(
            f"an index needs at least 2 items, got {len(embeddings)}; add more examples")
    embeddings = embeddings.astype(np.float32)
    if not np.all(np.isfinite(embeddings)):
        bad = np.flatnonzero(~np.all(np.isfinite(embeddings), axis=1))
        raise ValueError(f"index embeddings contain NaN or inf (rows {bad[:5].tolist()})")
    classes, class_ids = np.unique(labels, return_inverse=True)
    return embeddings, classes, class_ids.astype(np.int32)


def build_cbr_model(embeddings, labels, *, embedder=None, aggregation="max", k=3,
                    capacity=None, dtype="float32", name="cbr"):
    """Build ``input → [embedder] → RetrievalLayer → AggregationLayer``.

    Parameters
    ----------
    embeddings : array (n, dim)
        Index embeddings, one row per example image.
    labels : sequence of length n
        Any sortable labels (strings, ints…). Output column j is class
        ``numpy.unique(labels)[j]``.
    embedder : Embedder, optional
        When given, the model takes images ``(batch, H, W, 3)`` with values in
        0–255 and embeds them with ``embedder.as_layer()``; otherwise it takes
        embeddings ``(batch, dim)``.
    aggregation : {"max", "mean", "topk_mean"}
    k : int
        Number of best instances averaged by ``"topk_mean"``.
    capacity : int, optional
        Index rows to hold (default: exactly the index). Rows beyond the index are
        empty slots, so ``write_index`` can later put a larger index in place.
    dtype : str
        The layers' dtype. ``"float64"`` gives scores that do not depend on
        which other queries share a batch (float32 matrix products can differ in
        the last bit between batch sizes).

    Returns
    -------
    keras.Model with output ``(batch, num_classes)``.

    Example
    -------
    >>> model = build_cbr_model(np.eye(4), [0, 0, 1, 1], aggregation="mean")
    >>> model.output_shape
    (None, 2)
    """
    embeddings, classes, class_ids = check_index(embeddings, labels)
    capacity = len(embeddings) if capacity is None else int(capacity)
    if capacity < len(embeddings):
        raise ValueError(f"capacity={capacity} is smaller than the index "
                         f"({len(embeddings)} items)")
    rows, ids = _with_empty_slots(embeddings, class_ids, capacity)
    if embedder is None:
        inputs = keras.Input(shape=(embeddings.shape[1],), dtype=dtype, name="embedding")
        features = inputs
    else:
        height, width = embedder.input_size
        inputs = keras.Input(shape=(height, width, 3), name="image")
        features = embedder.as_layer()(inputs)
    scores = RetrievalLayer(rows, name="retrieval", dtype=dtype)(features)
    outputs = AggregationLayer(ids, num_classes=len(classes), aggregation=aggregation,
                               k=k, class_names=[str(c) for c in classes],
                               name="aggregation", dtype=dtype)(scores)
    return keras.Model(inputs, outputs, name=name)


def write_index(model, embeddings, labels):
    """Put a new index into a CbR model in place, keeping its compiled graph.

    The index needs the model's embedding dimension and number of classes, and
    at most as many items as the model has rows; the rows left over become empty
    slots. The class ids are rewritten only when they change; the class names
    follow the new labels. Scores then equal those of a freshly built model.

    >>> model = build_cbr_model(np.eye(3), ["a", "b", "b"], capacity=4)
    >>> write_index(model, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], ["x", "y"])
    >>> class_names(model)
    ['x', 'y']
    >>> model.predict(np.array([[1.0, 0.0, 0.0]]), verbose=0)
    array([[0., 1.]], dtype=float32)
    """
    embeddings, classes, class_ids = check_index(embeddings, labels)
    retrieval, aggregation = cbr_layers(model)
    if (len(embeddings) > retrieval.num_instances or embeddings.shape[1] != retrieval.dim
            or len(classes) != aggregation.num_classes):
        raise ValueError(
            f"model {model.name!r} holds up to {retrieval.num_instances} items of dimension "
            f"{retrieval.dim} in {aggregation.num_classes} classes; this index has "
            f"{len(embeddings)} items of dimension {embeddings.shape[1]} in {len(classes)} "
            "classes: build a new model (build_cbr_model) for it")
    rows, ids = _with_empty_slots(embeddings, class_ids, retrieval.num_instances)
    retrieval.set_index(rows)
    if not np.array_equal(ids, keras.ops.convert_to_numpy(aggregation.class_ids)):
        aggregation.set_class_ids(ids)
    aggregation.class_names = [str(c) for c in classes]


def _with_empty_slots(embeddings, class_ids, capacity):
    """The index padded to ``capacity`` rows: zero rows whose class is EMPTY_SLOT."""
    spare = capacity - len(embeddings)
    if spare == 0:
        return embeddings, class_ids
    rows = np.concatenate([embeddings, np.zeros((spare, embeddings.shape[1]), np.float32)])
    ids = np.concatenate([class_ids, np.full(spare, EMPTY_SLOT, np.int32)])
    return rows, ids


def class_names(model):
    """The class names of a CbR model's output columns, in order.

    >>> class_names(build_cbr_model(np.eye(2), ["yes", "no"]))
    ['no', 'yes']
    """
    for layer in reversed(model.layers):
        if isinstance(layer, AggregationLayer):
            return list(layer.class_names or range(layer.num_classes))
    raise ValueError(f"model {model.name!r} has no AggregationLayer; is it a CbR model?")


def cbr_layers(model):
    """The ``(RetrievalLayer, AggregationLayer)`` pair of a CbR model.

    >>> retrieval, aggregation = cbr_layers(build_cbr_model(np.eye(2), ["a", "b"]))
    >>> retrieval.num_instances, aggregation.num_classes
    (2, 2)
    """
    retrieval = [layer for layer in model.layers if isinstance(layer, RetrievalLayer)]
    aggregation = [layer for layer in model.layers if isinstance(layer, AggregationLayer)]
    if len(retrieval) != 1 or len(aggregation) != 1:
        raise ValueError(f"model {model.name!r} is not a CbR model: it needs exactly one "
                         "RetrievalLayer and one AggregationLayer (see build_cbr_model)")
    return retrieval[0], aggregation[0]


def layers_of(model):
    """Every layer of a Keras ``model``, nested models opened, in order.

    >>> [type(layer).__name__ for layer in layers_of(build_cbr_model(np.eye(2), ["a", "b"]))]
    ['InputLayer', 'RetrievalLayer', 'AggregationLayer']
    """
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found += layers_of(layer)
    return found
