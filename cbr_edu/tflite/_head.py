"""The CbR head as TFLite builtin ops: normalise → ``FULLY_CONNECTED`` → aggregation.

Written op by op after the embedding tensor, like the original C++ builder:

* L2 normalisation exactly as ``keras.ops.normalize``:
  ``SQUARE, SUM, RSQRT, MINIMUM, MUL`` (``x * min(rsqrt(sum(x²)), 1/epsilon)``);
* retrieval: ``FULLY_CONNECTED`` with the ``(N, dim)`` index as weights — float32,
  or int8 with one symmetric scale per row (:func:`quantize_rows`), run by
  LiteRT's hybrid kernel (the query is quantised on the fly);
* aggregation on the transposed scores ``(N, batch)``: ``UNSORTED_SEGMENT_MAX``
  (max), ``UNSORTED_SEGMENT_SUM`` + ``MUL`` (mean) or k rounds of segment max +
  knock-out (top-k mean), then a ``TRANSPOSE`` back to ``(batch, classes)``.

The op count does not depend on the number of classes or instances, and
writing the index is one numpy copy, so a 100k-image, 50k-class head is written
in seconds (TensorFlow's converter takes minutes on such a constant).

Example
-------
>>> q, s = quantize_rows(np.array([[0.6, -0.8]], np.float32))
>>> q.tolist(), round(float(s[0]) * 127, 5)
([[95, -127]], 0.8)
"""

from __future__ import annotations

import sys

import numpy as np

from ._graph import Graph

__all__ = ["append_head", "quantize_rows"]


def quantize_rows(weights, *, chunk=16384):
    """Symmetric per-row int8: ``q = round(w / s)``, ``s = max|row| / 127`` (zero point 0).

    Returns ``(q int8 (N, D), scales float32 (N,))``; ``q * s[:, None]`` ≈ ``weights``
    with an error of at most ``s / 2`` per element. A zero row gets scale 1.

    >>> q, s = quantize_rows(np.array([[0.6, -0.8], [0.0, 0.0]], np.float32))
    >>> q.tolist(), [round(float(v), 5) for v in s]
    ([[95, -127], [0, 0]], [0.0063, 1.0])
    """
    w = np.asarray(weights, np.float32)
    q = np.empty(w.shape, np.int8)
    scales = np.empty(len(w), np.float32)
    for i in range(0, len(w), chunk):
        block = w[i:i + chunk]
        s = np.abs(block).max(axis=1) / np.float32(127)
        s[s == 0] = 1.0
        q[i:i + chunk] = np.clip(np.rint(block / s[:, None]), -127, 127)
        scales[i:i + chunk] = s
    return q, scales


def append_head(model, parts, *, quantize=None) -> int:
    """Append the CbR head after the model's output (the embedding) and make its
    class scores the one output; return the size of the retrieval weights in bytes."""
    g = Graph(model)
    x = int(g.subgraph.outputs[0])
    feature_shape = tuple(int(d) for d in g.subgraph.tensors[x].shape)
    if len(feature_shape) != 2 or feature_shape[-1] != parts.dim:
        raise ValueError(f"the embedder outputs shape {feature_shape}, but the index holds "
                         f"{parts.dim}-d embeddings")
    unit = _l2_normalize(g, x, parts.dim)
    similarity, retrieval_bytes = _retrieval(g, unit, parts.index, quantize)
    scores = _aggregation(g, similarity, parts)
    _set_output(g, scores)
    return retrieval_bytes


def _keras_epsilon():
    if "keras" in sys.modules:
        import keras
        return float(keras.config.epsilon())
    return 1e-7  # Keras' default


def _l2_normalize(g, x, d):
    """``x * min(rsqrt(sum(x²)), 1/epsilon)``, as ``keras.ops.normalize``."""
    s = g.s
    square = g.op("SQUARE", [x], "normalize/square", (1, d),
                  options=("SquareOptions", s.SquareOptionsT()))
    reducer = s.ReducerOptionsT()
    reducer.keepDims = True
    total = g.op("SUM", [square, g.const("normalize/axis", np.array([1], np.int32))],
                 "normalize/sum", (1, 1), options=("ReducerOptions", reducer))
    inverse = g.op("RSQRT", [total], "normalize/rsqrt", (1, 1))
    limit = g.const("normalize/max_inv_norm", np.float32(1.0 / _keras_epsilon()))
    clipped = g.op("MINIMUM", [inverse, limit], "normalize/min", (1, 1),
                   options=("MaximumMinimumOptions", s.MaximumMinimumOptionsT()))
    return g.op("MUL", [x, clipped], "normalize/mul", (1, d),
                options=("MulOptions", s.MulOptionsT()))


def _retrieval(g, unit, index, quantize):
    """``FULLY_CONNECTED`` with the ``(N, dim)`` index as weights: cosine to every row."""
    s = g.s
    n, d = index.shape
    options = s.FullyConnectedOptionsT()
    if quantize == "int8":
        q, scales = quantize_rows(index)
        quantization = s.QuantizationParametersT()
        quantization.scale = scales
        quantization.zeroPoint = np.zeros(n, np.int64)
        quantization.quantizedDimension = 0
        weights = g.tensor("retrieval/index_int8", (n, d), s.TensorType.INT8, data=q,
                           quantization=quantization)
        options.asymmetricQuantizeInputs = True  # hybrid kernel: query quantised per batch row
        version, nbytes = 12, q.nbytes + scales.nbytes
    else:
        weights = g.tensor("retrieval/index", (n, d), data=index)
        version, nbytes = 1, index.nbytes
    similarity = g.op("FULLY_CONNECTED", [unit, weights, -1], "retrieval/similarity", (1, n),
                      options=("FullyConnectedOptions", options), version=version)
    return similarity, nbytes


def _aggregation(g, similarity, parts):
    """Class scores ``(batch, C)`` from instance scores ``(batch, N)``."""
    s = g.s
    n, c = len(parts.class_ids), len(parts.class_names)
    perm = g.const("transpose/perm", np.array([1, 0], np.int32))
    transpose = ("TransposeOptions", s.TransposeOptionsT())
    per_instance = g.op("TRANSPOSE", [similarity, perm], "aggregation/per_instance", (n, 1),
                        options=transpose, batch=False)
    g.batch_last(per_instance)
    ids = g.const("aggregation/class_ids", parts.class_ids.astype(np.int32))
    num = g.const("aggregation/num_classes", np.array(c, np.int32))
    counts = np.bincount(parts.class_ids, minlength=c).astype(np.float32)
    if parts.aggregation == "max":
        per_class = g.op("UNSORTED_SEGMENT_MAX", [per_instance, ids, num],
                         "aggregation/max", (c, 1), batch=False)
    elif parts.aggregation == "mean":
        total = g.op("UNSORTED_SEGMENT_SUM", [per_instance, ids, num], "aggregation/sum",
                     (c, 1), batch=False)
        inverse = g.const("aggregation/inv_counts", (1.0 / counts)[:, None].astype(np.float32))
        per_class = g.op("MUL", [total, inverse], "aggregation/mean", (c, 1), batch=False,
                         options=("MulOptions", s.MulOptionsT()))
    elif parts.aggregation == "topk_mean":
        per_class = _topk_mean(g, per_instance, ids, num, counts, parts.k, n)
    else:
        raise ValueError(f"unknown aggregation {parts.aggregation!r}")
    g.batch_last(per_class)
    return g.op("TRANSPOSE", [per_class, perm], "scores", (1, c), options=transpose)


def _topk_mean(g, scores, ids, num, counts, k, n):
    """Mean of each class's k best scores, as in AggregationLayer (k rounds).

    Each round takes every class's best remaining score (segment max), then knocks
    out one instance per class: the first position that reaches that best.
    """
    s = g.s
    c = len(counts)
    select = ("SelectV2Options", s.SelectV2OptionsT())
    gather = s.GatherOptionsT()
    gather.axis = 0
    gather = ("GatherOptions", gather)
    neg_position = g.const("topk/neg_position", -np.arange(n, dtype=np.int32)[:, None])
    neg_n = g.const("topk/neg_n", np.array(-n, np.int32))
    zero = g.const("topk/zero", np.float32(0))
    minus_inf = g.const("topk/minus_inf", np.float32(-np.inf))

    def op(name, inputs, out, rows, ttype=None, options=None):
        t = g.op(name, inputs, out, (rows, 1), ttype, options=options, batch=False)
        g.batch_last(t)
        return t

    total = None
    for r in range(k):
        best = op("UNSORTED_SEGMENT_MAX", [scores, ids, num], f"topk/best_{r}", c)
        has = g.const(f"topk/has_round_{r}", (counts > r)[:, None])
        kept = op("SELECT_V2", [has, best, zero], f"topk/kept_{r}", c, options=select)
        total = kept if total is None else op(
            "ADD", [total, kept], f"topk/total_{r}", c, options=("AddOptions", s.AddOptionsT()))
        if r + 1 == k:
            break
        best_of = op("GATHER", [best, ids], f"topk/best_of_{r}", n, options=gather)
        is_best = op("GREATER_EQUAL", [scores, best_of], f"topk/is_best_{r}", n,
                     s.TensorType.BOOL)
        candidate = op("SELECT_V2", [is_best, neg_position, neg_n], f"topk/candidate_{r}", n,
                       s.TensorType.INT32, options=select)
        first = op("UNSORTED_SEGMENT_MAX", [candidate, ids, num], f"topk/first_{r}", c,
                   s.TensorType.INT32)
        first_of = op("GATHER", [first, ids], f"topk/first_of_{r}", n, s.TensorType.INT32,
                      options=gather)
        knocked = op("EQUAL", [neg_position, first_of], f"topk/knocked_{r}", n,
                     s.TensorType.BOOL)
        scores = op("SELECT_V2", [knocked, minus_inf, scores], f"topk/scores_{r + 1}", n,
                    options=select)
    used = (1.0 / np.minimum(counts, k))[:, None].astype(np.float32)
    return g.op("MUL", [total, g.const("topk/inv_used", used)], "topk/mean", (c, 1),
                batch=False, options=("MulOptions", s.MulOptionsT()))


def _set_output(g, scores):
    """Make ``scores`` the subgraph's only output, with a ``serving_default`` signature."""
    s = g.s
    g.subgraph.outputs = np.array([scores], np.int32)
    signature = s.SignatureDefT()
    signature.signatureKey = "serving_default"
    signature.subgraphIndex = 0
    tin, tout = s.TensorMapT(), s.TensorMapT()
    tin.name = g.subgraph.tensors[g.subgraph.inputs[0]].name
    tin.tensorIndex = int(g.subgraph.inputs[0])
    tout.name, tout.tensorIndex = "scores", scores
    signature.inputs, signature.outputs = [tin], [tout]
    g.model.signatureDefs = [signature]
