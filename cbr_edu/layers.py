"""The two layers of Classification-by-Retrieval, as ordinary Keras 3 layers.

``RetrievalLayer``
    L2-normalises its input and multiplies by a fixed matrix whose columns are the
    L2-normalised index embeddings. Output: one cosine similarity per indexed
    instance, ``(batch, num_instances)``. The largest output is the nearest
    neighbour, because for unit vectors ``||a - b||**2 = 2 - 2 cos(a, b)``.

``AggregationLayer``
    Turns instance scores into class scores, ``(batch, num_instances)`` →
    ``(batch, num_classes)``, by reducing the scores of each class's instances:
    ``"max"`` (the original design), ``"mean"`` or ``"topk_mean"`` (mean of the k
    best). It uses segment reductions over a vector of class ids, so neither the
    memory nor the graph grows with instances × classes, and no op is added per
    class. For a batch, the scores are first grouped by class (one gather with a
    stored order), so the reductions are *sorted* segment reductions: on a CPU
    these are several times faster than unsorted ones, which at 100k instances
    took a third of the time of the matrix product itself. In a compiled model
    with at least ``ONE_QUERY_XLA_FROM`` instances, one query takes another path:
    XLA compiles its reduction into one pass over the scores in their own order,
    0.05 ms at 100k instances against 0.6 ms grouped and sorted (compiling costs
    about 80 ms once per model). Both paths give the same scores.
    An instance whose class id is ``EMPTY_SLOT`` (-1) belongs to no class: its
    score never reaches the output, so a model can keep spare index rows and fill
    them later without being rebuilt.

Both keep their index in non-trainable weights, so a model saves to a
``.keras`` file and reloads with ``safe_mode=True``.

Example
-------
>>> import numpy as np, keras
>>> index = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
>>> retrieval = RetrievalLayer(index)
>>> aggregation = AggregationLayer([0, 1, 1], num_classes=2)
>>> scores = aggregation(retrieval(np.array([[2.0, 0.1]])))
>>> np.round(keras.ops.convert_to_numpy(scores), 3)
array([[0.999, 0.742]], dtype=float32)
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from .similarity import l2_normalize

__all__ = ["RetrievalLayer", "AggregationLayer", "AGGREGATIONS", "EMPTY_SLOT"]

AGGREGATIONS = ("max", "mean", "topk_mean")
EMPTY_SLOT = -1  # the class id of an index row that holds no example
#: from this many index rows, a model reduces one query's scores with XLA (see AggregationLayer)
ONE_QUERY_XLA_FROM = 10_000


@keras.saving.register_keras_serializable(package="cbr_edu")
class RetrievalLayer(keras.layers.Layer):
    """Cosine similarity of each input to every indexed embedding.

    Parameters
    ----------
    index_embeddings : array (num_instances, dim), optional
        The embeddings to search. Rows are L2-normalised here and stored as the
        columns of ``kernel``, ``(dim, num_instances)`` — a ``Dense`` layer's
        kernel, one output unit per column, so a query's scores are ``q @ kernel``.
    num_instances, dim : int, optional
        Only needed when rebuilding from a config (the weights are loaded after).

    One query is a matrix-vector product, several a matrix product, and TensorFlow's
    CPU kernels are fastest for the two in different forms: ``MatMul`` for one query,
    ``BatchMatMul`` for more (a ``cond`` on the batch size picks; at batch 256 MatMul
    took 1.35x as long, at batch 1 BatchMatMul 2.9x). Both read the kernel as stored
    and give the scores instances-first, the layout the ``AggregationLayer``
    reduces; the transposes between the two layers cancel when the model runs as a
    graph. ``benchmarks/bench_retrieval.py`` times the model against numpy's
    ``q @ W``.

    Example
    -------
    >>> layer = RetrievalLayer(np.eye(3))
    >>> keras.ops.convert_to_numpy(layer(np.array([[0.0, 5.0, 0.0]])))
    array([[0., 1., 0.]], dtype=float32)
    """

    def __init__(self, index_embeddings=None, *, num_instances=None, dim=None,
                 kernel_layout="dim_instances", **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if kernel_layout not in ("dim_instances", "instances_dim"):
            raise ValueError(f"unknown kernel_layout {kernel_layout!r}")
        # files saved before the kernel was stored dim × instances hold it transposed
        self._saved_layout = kernel_layout
        if index_embeddings is not None:
            index = _as_index(index_embeddings)
            num_instances, dim = index.shape
        if num_instances is None or dim is None:
            raise ValueError("give index_embeddings, or both num_instances and dim")
        self.num_instances = int(num_instances)
        self.dim = int(dim)
        self.kernel = self.add_weight(
            name="kernel", shape=(self.dim, self.num_instances),
            initializer="zeros", trainable=False)
        if index_embeddings is not None:
            self._store(index)

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.dim:
            raise ValueError(
                f"RetrievalLayer holds {self.dim}-d embeddings but got inputs of "
                f"dimension {input_shape[-1]}; use the same embedder for index and queries")
        self.built = True

    def call(self, inputs):
        queries = ops.normalize(ops.cast(inputs, self.compute_dtype), axis=-1, order=2)
        kernel = ops.convert_to_tensor(self.kernel)
        # kernelᵀ @ queriesᵀ: (instances, batch); see the class docstring for the two forms
        by_instance = tf.cond(
            tf.shape(queries)[0] == 1,
            lambda: tf.matmul(kernel, queries, transpose_a=True, transpose_b=True),
            lambda: tf.raw_ops.BatchMatMulV2(
                x=tf.expand_dims(kernel, 0), y=tf.expand_dims(queries, 0),
                adj_x=True, adj_y=True)[0])
        return ops.transpose(by_instance)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_instances)

    def set_index(self, index_embeddings):
        """Replace the index with new embeddings of the same shape, in place.

        A model holding this layer keeps its compiled graph: only the weights change.

        >>> layer = RetrievalLayer(np.eye(2))
        >>> layer.set_index([[0.0, 2.0], [3.0, 0.0]])
        >>> layer.index_embeddings
        array([[0., 1.],
               [1., 0.]], dtype=float32)
        """
        index = _as_index(index_embeddings)
        if index.shape != (self.num_instances, self.dim):
            raise ValueError(
                f"this layer holds {self.num_instances} x {self.dim} embeddings, got "
                f"{index.shape[0]} x {index.shape[1]}; build a new layer for another size")
        self._store(index)

    def _store(self, index):
        """Normalise the rows of a checked ``(num_instances, dim)`` index into the kernel."""
        self.kernel.assign(l2_normalize(index).T.astype(self.kernel.dtype))

    @property
    def index_embeddings(self):
        """The stored (normalised) index embeddings, ``(num_instances, dim)``."""
        return np.ascontiguousarray(ops.convert_to_numpy(self.kernel).T)

    def load_own_variables(self, store):
        if self._saved_layout == "instances_dim":
            store = {"0": np.asarray(store["0"]).T}
            self._saved_layout = "dim_instances"
        super().load_own_variables(store)

    def get_config(self):
        return {**super().get_config(), "num_instances": self.num_instances, "dim": self.dim,
                "kernel_layout": "dim_instances"}

    @classmethod
    def from_config(cls, config):
        # configs written before kernel_layout existed stored the kernel instances × dim
        return cls(**{"kernel_layout": "instances_dim", **config})


@keras.saving.register_keras_serializable(package="cbr_edu")
class AggregationLayer(keras.layers.Layer):
    """Reduce instance scores to class scores.

    Parameters
    ----------
    class_ids : sequence of int, length num_instances
        The class (column of the output) of each instance, in ``[0, num_classes)``,
        or ``EMPTY_SLOT`` for a spare row that never scores. Every class needs at
        least one instance.
    num_classes : int
    aggregation : {"max", "mean", "topk_mean"}
    k : int
        For ``"topk_mean"``: how many of a class's nearest neighbours (best scores)
        to average (all of them when the class has fewer than k instances).
    class_names : list of str, optional
        Stored in the config so a saved model remembers its labels.

    Example
    -------
    >>> layer = AggregationLayer([0, 0, 1], num_classes=2, aggregation="mean")
    >>> keras.ops.convert_to_numpy(layer(np.array([[0.2, 0.6, 0.5]], "float32")))
    array([[0.4, 0.5]], dtype=float32)
    """

    def __init__(self, class_ids=None, num_classes=None, *, aggregation="max", k=3,
                 class_names=None, num_instances=None, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        # sorted segment reductions have data-dependent sizes, which XLA cannot compile:
        # Keras then runs the model without XLA (also where it would pick XLA itself, on GPUs)
        self.supports_jit = False
        if aggregation not in AGGREGATIONS:
            raise ValueError(
                f"unknown aggregation {aggregation!r}; choose one of {AGGREGATIONS}")
        if aggregation == "topk_mean" and (not isinstance(k, (int, np.integer)) or k < 1):
            raise ValueError(f"topk_mean needs a whole number k >= 1, got k={k!r}")
        if class_ids is not None:
            ids = np.asarray(class_ids)
            if num_classes is None and ids.size and np.issubdtype(ids.dtype, np.integer):
                num_classes = int(ids.max()) + 1
            ids, counts = _class_layout(ids, num_classes, class_names)
            num_instances = ids.size
        if num_classes is None or num_instances is None:
            raise ValueError("give class_ids, or both num_instances and num_classes")
        self.num_classes = int(num_classes)
        self.num_instances = int(num_instances)
        self.aggregation = aggregation
        self.k = int(k)
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"{len(self.class_names)} class names for {self.num_classes} classes")
        self.class_ids = self.add_weight(
            name="class_ids", shape=(self.num_instances,), dtype="int32",
            initializer="zeros", trainable=False)
        self.class_counts = self.add_weight(
            name="class_counts", shape=(self.num_classes,), dtype="float32",
            initializer="ones", trainable=False)
        # the instances grouped by class (stable: each class keeps its instances' order),
        # then empty slots and one spare row, whose segment num_classes is dropped: with
        # it, a sorted reduction always gives num_classes + 1 rows
        self.class_order = self.add_weight(
            name="class_order", shape=(self.num_instances + 1,), dtype="int32",
            initializer="zeros", trainable=False)
        self.grouped_class_ids = self.add_weight(
            name="grouped_class_ids", shape=(self.num_instances + 1,), dtype="int32",
            initializer="zeros", trainable=False)
        if class_ids is not None:
            self.set_class_ids(ids)

    def set_class_ids(self, class_ids):
        """Give the instances new classes (same number of instances and classes), in place.

        >>> layer = AggregationLayer([0, 1, 1], num_classes=2)
        >>> layer.set_class_ids([1, 1, 0])
        >>> keras.ops.convert_to_numpy(layer(np.array([[0.2, 0.6, 0.5]], "float32")))
        array([[0.5, 0.6]], dtype=float32)
        >>> layer.set_class_ids([1, EMPTY_SLOT, 0])   # the 2nd score now counts for no class
        >>> keras.ops.convert_to_numpy(layer(np.array([[0.2, 0.6, 0.5]], "float32")))
        array([[0.5, 0.2]], dtype=float32)
        """
        ids, counts = _class_layout(np.asarray(class_ids), self.num_classes, self.class_names)
        if ids.size != self.num_instances:
            raise ValueError(f"this layer aggregates {self.num_instances} instances, got "
                             f"{ids.size} class ids; build a new layer for another size")
        self.class_ids.assign(ids.astype(np.int32))
        self.class_counts.assign(counts.astype(np.float32))
        segment = np.append(np.where(ids == EMPTY_SLOT, self.num_classes, ids), self.num_classes)
        order = np.argsort(segment, kind="stable")
        self.class_order.assign(np.where(order == self.num_instances, 0, order).astype(np.int32))
        self.grouped_class_ids.assign(segment[order].astype(np.int32))

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.num_instances:
            raise ValueError(
                f"AggregationLayer expects {self.num_instances} instance scores, "
                f"got {input_shape[-1]}")
        self.built = True

    def call(self, scores):
        # Segment reductions work along the first axis: instances first.
        by_instance = ops.transpose(ops.cast(scores, self.compute_dtype))
        if tf.executing_eagerly() or self.num_instances < ONE_QUERY_XLA_FROM:
            # a one-off call, or a small index: not worth an XLA compilation (~80 ms)
            return self._grouped(by_instance)
        return tf.cond(
            tf.shape(by_instance)[1] == 1,
            lambda: _one_query(by_instance, tf.identity(self.class_ids.value),
                               tf.identity(self.class_counts.value), self.aggregation, self.k),
            lambda: self._grouped(by_instance))

    def _grouped(self, by_instance):
        """Class scores for a batch: the instances grouped by class, sorted reductions."""
        counts = ops.pad(ops.cast(self.class_counts, self.compute_dtype), [[0, 1]])
        per_class = _reduce(tf.gather(by_instance, self.class_order), counts,
                            self.aggregation, self.k, self.grouped_class_ids)
        # the last segment (empty slots and the spare row) is dropped
        return ops.transpose(per_class[:self.num_classes])

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "num_instances": self.num_instances, "aggregation": self.aggregation,
                "k": self.k, "class_names": self.class_names}


def _reduce(by_instance, counts, aggregation, k, segment_ids, num_segments=None):
    """Class scores ``(classes + 1, batch)`` from instance scores ``(instances, batch)``.

    With ``num_segments`` the segment ids are in instance order (unsorted
    reductions); without, the instances are grouped by class (sorted reductions).
    ``topk_mean`` runs k rounds: take each class's best score, then knock out that
    one instance (the first one holding it).
    """
    def segment(reduce_sorted, reduce_unsorted, data):
        if num_segments is None:
            return reduce_sorted(data, segment_ids)
        return reduce_unsorted(data, segment_ids, num_segments)

    def segment_max(data):
        return segment(tf.math.segment_max, tf.math.unsorted_segment_max, data)

    if aggregation == "max":
        return segment_max(by_instance)
    if aggregation == "mean":
        total = segment(tf.math.segment_sum, tf.math.unsorted_segment_sum, by_instance)
        return total / tf.maximum(counts, 1.0)[:, None]
    n = tf.shape(by_instance)[0]
    position = tf.range(n)[:, None]
    total = None
    for round_ in range(k):
        best = segment_max(by_instance)
        best_kept = tf.where((counts > round_)[:, None], best, tf.zeros_like(best))
        total = best_kept if total is None else total + best_kept
        if round_ + 1 == k:
            break
        is_best = by_instance >= tf.gather(best, segment_ids)
        first = -segment_max(tf.where(is_best, -position, -n))
        knocked_out = tf.equal(position, tf.gather(first, segment_ids))
        by_instance = tf.where(knocked_out, tf.cast(float("-inf"), by_instance.dtype), by_instance)
    return total / tf.maximum(tf.minimum(counts, float(k)), 1.0)[:, None]


@tf.function(jit_compile=True, reduce_retracing=True, autograph=False)
def _one_query(by_instance, class_ids, class_counts, aggregation, k):
    """Class scores for one query: :func:`_reduce` XLA-compiled, instances in their order.

    XLA fuses the whole reduction into one pass: measured at 100k instances, 0.05 ms
    against 0.6 ms for grouping the scores and reducing them sorted. For a batch
    the sorted reductions win (XLA's took 1.5x the matrix product at batch 256).
    """
    num_classes = tf.shape(class_counts)[0]
    ids = tf.where(class_ids == EMPTY_SLOT, num_classes, class_ids)  # a segment, dropped
    counts = tf.pad(tf.cast(class_counts, by_instance.dtype), [[0, 1]])
    per_class = _reduce(by_instance, counts, aggregation, k, ids, num_classes + 1)
    return tf.transpose(per_class[:num_classes])


def _as_index(index_embeddings):
    index = np.asarray(index_embeddings, dtype=np.float32)
    if index.ndim != 2:
        raise ValueError(
            f"index_embeddings must be a matrix (num_instances, dim), got shape {index.shape}")
    if not np.all(np.isfinite(index)):
        raise ValueError("index_embeddings contain NaN or inf; check the embedder output")
    return index


def _class_layout(ids, num_classes, class_names=None):
    """Validated class ids and the number of instances of each class."""
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError("class_ids must be a 1-D sequence of integer class indices")
    if num_classes is None:
        raise ValueError("give num_classes (there are no class ids to count them from)")
    if ids.size and (ids.min() < EMPTY_SLOT or ids.max() >= num_classes):
        raise ValueError(f"class_ids must lie in [0, {num_classes}), or be EMPTY_SLOT "
                         f"({EMPTY_SLOT}) for a spare row")
    counts = np.bincount(ids[ids != EMPTY_SLOT], minlength=num_classes)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        which = [class_names[i] for i in empty[:5]] if class_names else empty[:5].tolist()
        raise ValueError(f"every class needs at least one index instance; empty: {which}")
    return ids, counts
