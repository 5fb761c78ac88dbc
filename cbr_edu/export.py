"""Export a CbR classifier to a ``.tflite`` file and run it with LiteRT.

``export_tflite(clf_or_model, "model.tflite")`` writes

* an image-input model when there is an embedder: input ``uint8 (1, H, W, 3)``
  RGB pixels 0..255 at the embedder's input size (cast and preprocessing are
  inside the model), output ``float32 (1, num_classes)`` class scores;
* an embedding-input model when there is none: input ``float32 (1, dim)``.
  (The batch dimension is dynamic: LiteRT can resize it.)

The graph is the embedder (converted once by TensorFlow's converter and cached)
followed by the CbR head, written op by op like the original C++ builder:
``SQUARE, SUM, RSQRT, MINIMUM, MUL`` (L2 normalisation exactly as
``keras.ops.normalize``), ``FULLY_CONNECTED`` with the ``(N, dim)`` index,
``TRANSPOSE``, then the aggregation — ``UNSORTED_SEGMENT_MAX`` (max),
``UNSORTED_SEGMENT_SUM`` + ``MUL`` (mean) or k rounds of segment max + knock-out
(top-k mean) — and a final ``TRANSPOSE``. The op count does not depend on the
number of classes or instances, and writing the head is a numpy copy, so a
100k-image, 50k-class index exports in seconds (TensorFlow's converter takes
over a minute on such a constant).

``quantize="int8"`` stores the retrieval weights as int8 with one symmetric
scale per index row (``max|w| / 127``, zero point 0; the original used one
scale 1/128 for every row, which wastes most of the int8 range on unit
vectors). The ``FULLY_CONNECTED`` op then runs LiteRT's hybrid kernel (int8
weights, the query quantised on the fly), so the retrieval block is 4× smaller
and faster. The embedder and the aggregation stay float.

Labels travel as standard TFLite model metadata (``TFLITE_METADATA`` with the
label file zipped onto the model, as MediaPipe Tasks and the TFLite Support
library read it; see :mod:`cbr_edu.tflite_metadata`) and in ``labels.txt``
beside the model. Files are written atomically and never overwritten unless
``overwrite=True``.

Example
-------
>>> import numpy as np, tempfile, os
>>> from cbr_edu import CbRClassifier
>>> clf = CbRClassifier().fit(np.eye(3), ["cat", "dog", "dog"])
>>> out = os.path.join(tempfile.mkdtemp(), "pets.tflite")
>>> result = export_tflite(clf, out)
>>> read_labels(out)
['cat', 'dog']
>>> LiteRTClassifier(out).predict(np.array([[0.0, 0.9, 0.1]]), top=1)[0][0][0]
'dog'
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._atomic import atomic_write_bytes

__all__ = ["export_tflite", "ExportResult", "LiteRTClassifier", "run_tflite",
           "read_labels", "read_metadata", "count_ops", "quantize_rows"]

_FORMAT_VERSION = 1           # bump when the exported graph changes (stem cache key)
_MAX_FLATBUFFER = 2 ** 31 - 1  # flatbuffers cannot address more than 2 GB
_LABELS_IN_MODEL = "labels.txt"


# --------------------------------------------------------------------------- results

@dataclass
class ExportResult:
    """What :func:`export_tflite` wrote.

    ``path`` and ``labels_path`` are the files; ``bytes`` the model size,
    ``retrieval_bytes`` the size of the retrieval weights inside it; ``seconds``
    the wall time of the export (``stem_cached`` says whether the embedder's
    conversion came from the cache).
    """

    path: Path
    labels_path: Path | None
    input: str
    input_shape: tuple
    num_classes: int
    num_instances: int
    quantize: str | None
    bytes: int
    retrieval_bytes: int
    seconds: float
    stem_cached: bool | None = None
    ops: dict = field(default_factory=dict)

    def __str__(self):
        kind = "int8 retrieval weights" if self.quantize == "int8" else "float32"
        return (f"{self.path} ({self.bytes / 1e6:.2f} MB, {kind}): {self.input} input "
                f"{self.input_shape}, {self.num_classes} classes from "
                f"{self.num_instances} indexed examples; retrieval weights "
                f"{self.retrieval_bytes / 1e6:.2f} MB; {sum(self.ops.values())} ops; "
                f"written in {self.seconds:.1f} s")


# --------------------------------------------------------------------------- quantisation

def quantize_rows(weights, chunk=16384):
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


# --------------------------------------------------------------------------- what to export

@dataclass
class _Parts:
    stem: object                 # keras model uint8/float input -> embedding, or None
    image_size: tuple | None     # (H, W) for image input
    dim: int
    index: np.ndarray            # (N, dim) float32, L2-normalised
    class_ids: np.ndarray        # (N,) int32
    class_names: list
    method: str
    k: int
    normalization: tuple         # (mean, std) on 0..255 pixels


# Known preprocessing of the bundled embedders, (mean, std) on 0..255 pixels: the
# model computes (pixel - mean) / std before the network (informational for uint8 input).
_KNOWN_NORMALIZATION = {"efficientnet_lite0": (127.5, 127.5), "pixels": (0.0, 255.0)}


def _normalization_of(embedder, default=(0.0, 1.0)):
    value = getattr(embedder, "normalization", None)
    if value is not None:
        mean, std = value
        return float(np.mean(mean)), float(np.mean(std))
    ident = str(getattr(embedder, "id", "") or getattr(embedder, "spec", ""))
    for prefix, norm in _KNOWN_NORMALIZATION.items():
        if ident.startswith(prefix):
            return norm
    return default


def _parts_from_classifier(clf):
    from .model import check_index
    from .similarity import l2_normalize
    if not hasattr(clf, "index_embeddings_"):
        raise ValueError("the classifier is not fitted yet: call fit(X, y) before exporting")
    _, classes, class_ids = check_index(clf.index_embeddings_, clf.index_labels_)
    index = l2_normalize(np.asarray(clf.index_embeddings_, np.float32)).astype(np.float32)
    embedder = clf.embedder_
    stem = image_size = None
    if embedder is not None:
        image_size = tuple(int(v) for v in embedder.input_size)
        stem = _image_stem(embedder.as_layer(), image_size)
    return _Parts(stem, image_size, index.shape[1], index, class_ids,
                  [str(c) for c in classes], clf.aggregation, int(clf.k),
                  _normalization_of(embedder))


def _parts_from_keras(model):
    import keras
    from .model import cbr_layers
    retrieval, aggregation = cbr_layers(model)
    index = np.ascontiguousarray(retrieval.index_embeddings, dtype=np.float32)  # (N, dim)
    class_ids = keras.ops.convert_to_numpy(aggregation.class_ids).astype(np.int32)
    names = aggregation.class_names or [str(i) for i in range(aggregation.num_classes)]
    stem, image_size = None, None
    if len(model.inputs) != 1:
        raise ValueError("a CbR model for export has exactly one input")
    shape = tuple(model.inputs[0].shape)
    if retrieval.input is not model.inputs[0]:
        sub = keras.Model(model.inputs[0], retrieval.input)
        if len(shape) == 4:
            if shape[1] is None or shape[2] is None:
                raise ValueError("the model's image input has no fixed size; build it with "
                                 "build_cbr_model(..., embedder=...) so it has one")
            image_size = (int(shape[1]), int(shape[2]))
            stem = _image_stem(sub, image_size)
        else:
            stem = sub
    return _Parts(stem, image_size, retrieval.dim, index, class_ids, list(names),
                  aggregation.method, int(aggregation.k), (0.0, 1.0))


def _image_stem(embedding_model, image_size):
    """A Keras model uint8 (b, H, W, 3) -> embedding (b, dim) around ``embedding_model``."""
    import keras
    h, w = image_size
    inputs = keras.Input((h, w, 3), dtype="uint8", name="image")
    outputs = embedding_model(keras.ops.cast(inputs, "float32"))
    return keras.Model(inputs, outputs, name="cbr_embedder")


# --------------------------------------------------------------------------- the embedder stem

def _stem_cache_dir():
    from .cache import cache_root
    return cache_root() / "tflite_stems"


def _convert_stem(stem):
    """TFLite bytes of the stem (cached on disk by a hash of its config and weights)."""
    import tensorflow as tf
    spec = stem.inputs[0]
    dtype = tf.uint8 if str(spec.dtype) == "uint8" else tf.float32
    h = hashlib.sha256()
    h.update(json.dumps([_FORMAT_VERSION, tf.__version__, str(dtype), list(spec.shape),
                         stem.to_json()], default=str).encode())
    for weight in stem.weights:
        value = np.ascontiguousarray(np.asarray(weight.numpy()))
        h.update(str(value.dtype).encode() + str(value.shape).encode())
        h.update(value.tobytes())
    cache_file = _stem_cache_dir() / f"{h.hexdigest()}.tflite"
    try:
        return cache_file.read_bytes(), True
    except OSError:
        pass
    module = tf.Module()
    module.variables_ = [w.value for w in stem.weights]  # so the converter freezes them
    module.call = tf.function(lambda x: stem(x, training=False), input_signature=[
        tf.TensorSpec((None, *spec.shape[1:]), dtype, name="input")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.call.get_concrete_function()], module)
    data = converter.convert()
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cache_file, data)
    except OSError:  # a read-only cache is not an error
        pass
    return data, False


# --------------------------------------------------------------------------- graph writing

def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


class _AlignedBuffer:
    """A ``BufferT`` whose data is written 16-byte aligned with one bulk copy."""

    def __init__(self, data):
        self.data = None if data is None else np.ascontiguousarray(data).view(np.uint8).ravel()
        self.offset = 0
        self.size = 0

    def Pack(self, builder):
        schema = _schema()
        vec = None
        if self.data is not None and self.data.size:
            n = int(self.data.size)
            builder.StartVector(1, n, 16)
            builder.head = builder.head - n
            builder.Bytes[builder.head:builder.head + n] = self.data.tobytes()
            vec = builder.EndVector()
        schema.BufferStart(builder)
        if vec is not None:
            schema.BufferAddData(builder, vec)
        return schema.BufferEnd(builder)


class _Graph:
    """Appends tensors and ops to subgraph 0 of a ``ModelT``."""

    def __init__(self, model):
        self.s = _schema()
        self.model = model
        self.sg = model.subgraphs[0]
        self.sg.tensors = list(self.sg.tensors or [])
        self.sg.operators = list(self.sg.operators or [])
        model.operatorCodes = list(model.operatorCodes or [])
        model.buffers = [b if isinstance(b, _AlignedBuffer) else _AlignedBuffer(b.data)
                         for b in (model.buffers or [])] or [_AlignedBuffer(None)]

    def tensor(self, name, shape, ttype=None, data=None, batch=False, quant=None):
        s = self.s
        t = s.TensorT()
        t.name = name
        t.shape = np.array([1 if batch and i == 0 else d for i, d in enumerate(shape)], np.int32)
        if batch:
            t.shapeSignature = np.array([-1, *shape[1:]], np.int32)
        t.type = s.TensorType.FLOAT32 if ttype is None else ttype
        t.buffer = 0
        if data is not None:
            self.model.buffers.append(_AlignedBuffer(data))
            t.buffer = len(self.model.buffers) - 1
        t.quantization = quant
        self.sg.tensors.append(t)
        return len(self.sg.tensors) - 1

    def const(self, name, value, ttype=None):
        value = np.asarray(value)
        s = self.s
        if ttype is None:
            ttype = {np.dtype(np.float32): s.TensorType.FLOAT32,
                     np.dtype(np.int32): s.TensorType.INT32,
                     np.dtype(np.bool_): s.TensorType.BOOL,
                     np.dtype(np.int8): s.TensorType.INT8}[value.dtype]
        return self.tensor(name, value.shape, ttype, data=value)

    def _opcode(self, code, version):
        for i, oc in enumerate(self.model.operatorCodes):
            if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code and oc.version == version:
                return i
        oc = self.s.OperatorCodeT()
        oc.builtinCode = code
        oc.deprecatedBuiltinCode = min(code, self.s.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
        oc.version = version
        self.model.operatorCodes.append(oc)
        return len(self.model.operatorCodes) - 1

    def op(self, name, inputs, output_name, output_shape, output_type=None, options=None,
           version=1, batch=True):
        s = self.s
        out = self.tensor(output_name, output_shape, output_type, batch=batch)
        op = s.OperatorT()
        op.opcodeIndex = self._opcode(getattr(s.BuiltinOperator, name), version)
        op.inputs = np.array(inputs, np.int32)
        op.outputs = np.array([out], np.int32)
        if options is not None:
            kind, table = options
            op.builtinOptionsType = getattr(s.BuiltinOptions, kind)
            op.builtinOptions = table
        self.sg.operators.append(op)
        return out


def _new_model(dim):
    """An empty ModelT whose only tensor is the embedding input ``(b, dim)``."""
    s = _schema()
    model = s.ModelT()
    model.version = 3
    model.description = "cbr-edu"
    sg = s.SubGraphT()
    sg.name = "main"
    model.subgraphs = [sg]
    model.buffers = [_AlignedBuffer(None)]
    graph = _Graph(model)
    x = graph.tensor("embedding", (1, dim), batch=True)
    sg.inputs = np.array([x], np.int32)
    sg.outputs = np.array([x], np.int32)
    return model


def _stem_model(data):
    s = _schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    if len(model.subgraphs) != 1 or len(model.subgraphs[0].outputs) != 1:
        raise ValueError("the embedder converts to a TFLite graph with more than one "
                         "subgraph or output; it cannot be the base of a CbR model")
    sg = model.subgraphs[0]
    sg.tensors[sg.inputs[0]].name = "image" if sg.tensors[sg.inputs[0]].type == \
        s.TensorType.UINT8 else "embedding"
    sg.tensors[sg.outputs[0]].name = "embedding"
    model.metadata = None          # conversion notes about the stem alone would mislead
    model.signatureDefs = None
    return model


def _keras_epsilon():
    if "keras" in sys.modules:
        import keras
        return float(keras.config.epsilon())
    return 1e-7  # Keras' default


def _append_head(model, parts, quantize):
    """Add normalise -> retrieval -> aggregation after the embedding tensor; return info."""
    s = _schema()
    g = _Graph(model)
    x = int(g.sg.outputs[0])
    feature_shape = tuple(int(d) for d in g.sg.tensors[x].shape)
    if feature_shape[-1] != parts.dim or len(feature_shape) != 2:
        raise ValueError(f"the embedder outputs shape {feature_shape}, but the index holds "
                         f"{parts.dim}-d embeddings")
    n, d = parts.index.shape
    c = len(parts.class_names)
    # L2 normalisation, as keras.ops.normalize: x * min(rsqrt(sum(x^2)), 1/epsilon)
    sq = g.op("SQUARE", [x], "normalize/square", (1, d), options=("SquareOptions", s.SquareOptionsT()))
    reducer = s.ReducerOptionsT()
    reducer.keepDims = True
    ss = g.op("SUM", [sq, g.const("normalize/axis", np.array([1], np.int32))],
              "normalize/sum", (1, 1), options=("ReducerOptions", reducer))
    rs = g.op("RSQRT", [ss], "normalize/rsqrt", (1, 1))
    mn = g.op("MINIMUM", [rs, g.const("normalize/max_inv_norm",
                                      np.float32(1.0 / _keras_epsilon()))],
              "normalize/min", (1, 1), options=("MaximumMinimumOptions", s.MaximumMinimumOptionsT()))
    xn = g.op("MUL", [x, mn], "normalize/mul", (1, d), options=("MulOptions", s.MulOptionsT()))
    # retrieval: FULLY_CONNECTED with the (N, dim) index as weights
    fc = s.FullyConnectedOptionsT()
    if quantize == "int8":
        q, scales = quantize_rows(parts.index)
        quant = s.QuantizationParametersT()
        quant.scale = scales
        quant.zeroPoint = np.zeros(n, np.int64)
        quant.quantizedDimension = 0
        weights = g.tensor("retrieval/index_int8", (n, d), s.TensorType.INT8, data=q, quant=quant)
        fc.asymmetricQuantizeInputs = True   # hybrid kernel: query quantised per batch row
        version, retrieval_bytes = 12, q.nbytes + scales.nbytes
    else:
        weights = g.tensor("retrieval/index", (n, d), data=parts.index)
        version, retrieval_bytes = 1, parts.index.nbytes
    sims = g.op("FULLY_CONNECTED", [xn, weights, -1], "retrieval/similarity",
                (1, n), options=("FullyConnectedOptions", fc), version=version)
    perm = g.const("transpose/perm", np.array([1, 0], np.int32))
    per_instance = g.op("TRANSPOSE", [sims, perm], "aggregation/per_instance", (n, 1),
                        options=("TransposeOptions", s.TransposeOptionsT()), batch=False)
    _transpose_batch_last(g, per_instance)
    ids = g.const("aggregation/class_ids", parts.class_ids.astype(np.int32))
    num = g.const("aggregation/num_classes", np.array(c, np.int32))
    counts = np.bincount(parts.class_ids, minlength=c).astype(np.float32)
    if parts.method == "max":
        per_class = g.op("UNSORTED_SEGMENT_MAX", [per_instance, ids, num],
                         "aggregation/max", (c, 1), batch=False)
    elif parts.method == "mean":
        total = g.op("UNSORTED_SEGMENT_SUM", [per_instance, ids, num], "aggregation/sum",
                     (c, 1), batch=False)
        inv = g.const("aggregation/inv_counts", (1.0 / counts)[:, None].astype(np.float32))
        per_class = g.op("MUL", [total, inv], "aggregation/mean", (c, 1), batch=False,
                         options=("MulOptions", s.MulOptionsT()))
    elif parts.method == "topk_mean":
        per_class = _topk_mean(g, per_instance, ids, num, counts, parts.k, n, c)
    else:
        raise ValueError(f"unknown aggregation {parts.method!r}")
    _transpose_batch_last(g, per_class)
    out = g.op("TRANSPOSE", [per_class, perm], "scores", (1, c),
               options=("TransposeOptions", s.TransposeOptionsT()))
    g.sg.outputs = np.array([out], np.int32)
    sig = s.SignatureDefT()
    sig.signatureKey = "serving_default"
    sig.subgraphIndex = 0
    tin, tout = s.TensorMapT(), s.TensorMapT()
    tin.name, tin.tensorIndex = g.sg.tensors[g.sg.inputs[0]].name, int(g.sg.inputs[0])
    tout.name, tout.tensorIndex = "scores", out
    sig.inputs, sig.outputs = [tin], [tout]
    model.signatureDefs = [sig]
    return retrieval_bytes


def _transpose_batch_last(g, t):
    """Tensors laid out (rows, batch): the batch is the last axis, dynamic."""
    tensor = g.sg.tensors[t]
    tensor.shapeSignature = np.array([*tensor.shape[:-1], -1], np.int32)


def _topk_mean(g, scores, ids, num, counts, k, n, c):
    """Mean of each class's k best scores, as in AggregationLayer (k rounds)."""
    s = g.s
    select = ("SelectV2Options", s.SelectV2OptionsT())
    gather = s.GatherOptionsT()
    gather.axis = 0
    neg_pos = g.const("topk/neg_position", -np.arange(n, dtype=np.int32)[:, None])
    neg_n = g.const("topk/neg_n", np.array(-n, np.int32))
    zero = g.const("topk/zero", np.float32(0))
    minus_inf = g.const("topk/minus_inf", np.float32(-np.inf))
    total = None
    for r in range(k):
        best = g.op("UNSORTED_SEGMENT_MAX", [scores, ids, num], f"topk/best_{r}", (c, 1),
                    batch=False)
        _transpose_batch_last(g, best)
        has = g.const(f"topk/has_round_{r}", (counts > r)[:, None])
        kept = g.op("SELECT_V2", [has, best, zero], f"topk/kept_{r}", (c, 1), batch=False,
                    options=select)
        _transpose_batch_last(g, kept)
        if total is None:
            total = kept
        else:
            total = g.op("ADD", [total, kept], f"topk/total_{r}", (c, 1), batch=False,
                         options=("AddOptions", s.AddOptionsT()))
            _transpose_batch_last(g, total)
        if r + 1 == k:
            break
        best_of = g.op("GATHER", [best, ids], f"topk/best_of_{r}", (n, 1), batch=False,
                       options=("GatherOptions", gather))
        _transpose_batch_last(g, best_of)
        is_best = g.op("GREATER_EQUAL", [scores, best_of], f"topk/is_best_{r}", (n, 1),
                       s.TensorType.BOOL, batch=False)
        _transpose_batch_last(g, is_best)
        cand = g.op("SELECT_V2", [is_best, neg_pos, neg_n], f"topk/candidate_{r}", (n, 1),
                    s.TensorType.INT32, batch=False, options=select)
        _transpose_batch_last(g, cand)
        first = g.op("UNSORTED_SEGMENT_MAX", [cand, ids, num], f"topk/first_{r}", (c, 1),
                     s.TensorType.INT32, batch=False)
        _transpose_batch_last(g, first)
        first_of = g.op("GATHER", [first, ids], f"topk/first_of_{r}", (n, 1),
                        s.TensorType.INT32, batch=False, options=("GatherOptions", gather))
        _transpose_batch_last(g, first_of)
        knocked = g.op("EQUAL", [neg_pos, first_of], f"topk/knocked_{r}", (n, 1),
                       s.TensorType.BOOL, batch=False)
        _transpose_batch_last(g, knocked)
        scores = g.op("SELECT_V2", [knocked, minus_inf, scores], f"topk/scores_{r + 1}",
                      (n, 1), batch=False, options=select)
        _transpose_batch_last(g, scores)
    inv_used = g.const("topk/inv_used", (1.0 / np.minimum(counts, k))[:, None].astype(np.float32))
    mean = g.op("MUL", [total, inv_used], "topk/mean", (c, 1), batch=False,
                options=("MulOptions", s.MulOptionsT()))
    return mean


def _pack(model):
    import flatbuffers
    s = _schema()
    size = sum(int(b.data.size) for b in model.buffers if b.data is not None)
    builder = flatbuffers.Builder(size + (1 << 20))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _add_metadata(model, metadata):
    s = _schema()
    model.buffers.append(_AlignedBuffer(np.frombuffer(metadata, np.uint8)))
    entry = s.MetadataT()
    entry.name = "TFLITE_METADATA"
    entry.buffer = len(model.buffers) - 1
    model.metadata = list(model.metadata or []) + [entry]


# --------------------------------------------------------------------------- files

def _check_labels(names):
    for name in names:
        if not name or "\n" in name or "\r" in name:
            raise ValueError(f"class name {name!r} cannot go in a label file (empty or has a "
                             "line break); rename the class")
    if len(set(names)) != len(names):
        raise ValueError("class names must be distinct")


# --------------------------------------------------------------------------- public API

def export_tflite(model_or_classifier, path, quantize=None, overwrite=False, labels=None,
                  labels_path="labels.txt", normalization=None, name=None,
                  description=None) -> ExportResult:
    """Write a CbR classifier to a ``.tflite`` file (with metadata) and ``labels.txt``.

    Parameters
    ----------
    model_or_classifier : CbRClassifier or keras.Model
        A fitted ``CbRClassifier`` or a model from ``build_cbr_model`` (or
        ``clf.to_keras()``).
    path : str or PathLike
        The ``.tflite`` file to write (atomically).
    quantize : None or "int8"
        ``"int8"`` stores the retrieval weights as int8 (per-row scales).
    overwrite : bool
        Replace an existing file. Without it an existing model is an error; an
        existing label file is only an error if its content differs.
    labels : list of str, optional
        Class names, one per output column; default: the classifier's classes.
    labels_path : str, PathLike or None
        The label file beside the model (relative to the model's folder);
        None writes no label file (the labels are in the model either way).
    normalization : (mean, std), optional
        How the model maps 0..255 pixels, recorded in the metadata; default: the
        embedder's (EfficientNet-Lite0: 127.5, 127.5).
    name, description : str, optional
        Recorded in the metadata.

    Returns
    -------
    ExportResult

    Raises
    ------
    FileExistsError
        ``path`` (or a different ``labels_path``) exists and ``overwrite`` is False.
    ValueError
        Not a fitted CbR classifier/model, bad labels, or too large for one file.
    """
    start = time.perf_counter()
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
    path = Path(path)
    if path.suffix.lower() != ".tflite":
        raise ValueError(f"the model file should end in .tflite, got {path.name!r}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name such as {path / 'model.tflite'}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist; create it first")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")

    if hasattr(model_or_classifier, "index_labels_") or hasattr(model_or_classifier, "to_keras"):
        parts = _parts_from_classifier(model_or_classifier)
    elif hasattr(model_or_classifier, "layers"):
        parts = _parts_from_keras(model_or_classifier)
    else:
        raise TypeError(f"export_tflite takes a CbRClassifier or a CbR keras.Model, got "
                        f"{type(model_or_classifier).__name__}")
    if labels is not None:
        labels = [str(v) for v in labels]
        if len(labels) != len(parts.class_names):
            raise ValueError(f"{len(labels)} labels for {len(parts.class_names)} classes")
        parts.class_names = labels
    _check_labels(parts.class_names)
    if normalization is not None:
        parts.normalization = (float(normalization[0]), float(normalization[1]))
    label_text = ("\n".join(parts.class_names) + "\n").encode("utf-8")

    side = None
    if labels_path is not None:
        side = Path(labels_path)
        side = side if side.is_absolute() else path.parent / side
        if side.exists() and not overwrite and side.read_bytes() != label_text:
            raise FileExistsError(
                f"{side} exists with other labels; pass overwrite=True, or labels_path= "
                "another name (e.g. '<model>_labels.txt')")

    n, d = parts.index.shape
    weight_bytes = n * d * (1 if quantize == "int8" else 4)
    if weight_bytes > _MAX_FLATBUFFER - (64 << 20):
        raise ValueError(f"an index of {n} x {d} is {weight_bytes / 2**30:.1f} GB of weights: "
                         "too large for one .tflite file (2 GB)"
                         + ("" if quantize else "; try quantize='int8' (4x smaller)"))

    stem_cached = None
    if parts.stem is not None:
        stem_bytes, stem_cached = _convert_stem(parts.stem)
        model = _stem_model(stem_bytes)
    else:
        model = _new_model(d)
    retrieval_bytes = _append_head(model, parts, quantize)

    from .tflite_metadata import build_metadata, zip_associated_files
    image = parts.image_size is not None
    kind = "int8 (per-row scales)" if quantize == "int8" else "float32"
    mean, std = parts.normalization
    metadata = build_metadata(
        name=name or "CbR classifier",
        description=description or (
            f"Classification-by-Retrieval: {n} indexed examples, {len(parts.class_names)} "
            f"classes, aggregation {parts.method}"
            + (f" (k={parts.k})" if parts.method == "topk_mean" else "")
            + f", retrieval weights {kind}. Made with cbr-edu."),
        labels_file=_LABELS_IN_MODEL,
        image_size=parts.image_size,
        mean=mean, std=std,
        input_description=(
            f"RGB image, uint8 0..255, {parts.image_size[0]}x{parts.image_size[1]} "
            "(resize the whole image; no crop)" if image else
            f"embedding, float32 ({d}-d), normalised inside the model"),
        output_description=(
            f"class scores: {parts.method} cosine similarity to the class's indexed "
            "examples (-1..1, higher is better; not probabilities)"),
        score_range=(-1.0, 1.0))
    _add_metadata(model, metadata)
    flat = _pack(model)
    data = zip_associated_files(flat, {_LABELS_IN_MODEL: label_text})

    atomic_write_bytes(path, data)
    if side is not None and (not side.exists() or side.read_bytes() != label_text):
        atomic_write_bytes(side, label_text)
    input_shape = ((1, *parts.image_size, 3) if image else (1, d))
    return ExportResult(path=path, labels_path=side, input="image" if image else "embedding",
                        input_shape=input_shape, num_classes=len(parts.class_names),
                        num_instances=n, quantize=quantize, bytes=len(data),
                        retrieval_bytes=int(retrieval_bytes),
                        seconds=time.perf_counter() - start, stem_cached=stem_cached,
                        ops=dict(count_ops(flat)))


# --------------------------------------------------------------------------- reading back

def _model_bytes(path):
    return Path(path).read_bytes()


def count_ops(path_or_bytes) -> Counter:
    """How many times each builtin op occurs in a ``.tflite`` model.

    >>> import numpy as np, tempfile, os
    >>> from cbr_edu import CbRClassifier
    >>> p = os.path.join(tempfile.mkdtemp(), "m.tflite")
    >>> _ = export_tflite(CbRClassifier().fit(np.eye(2), ["a", "b"]), p)
    >>> count_ops(p)["UNSORTED_SEGMENT_MAX"]
    1
    """
    s = _schema()
    data = path_or_bytes if isinstance(path_or_bytes, (bytes, bytearray)) else \
        _model_bytes(path_or_bytes)
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    model = s.Model.GetRootAsModel(data, 0)
    counts = Counter()
    for g in range(model.SubgraphsLength()):
        sg = model.Subgraphs(g)
        for i in range(sg.OperatorsLength()):
            oc = model.OperatorCodes(sg.Operators(i).OpcodeIndex())
            counts[names.get(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()), "?")] += 1
    return counts


def read_metadata(path) -> dict:
    """The model metadata of a ``.tflite`` file as a dict, with ``labels`` added.

    Raises ValueError when the file has no ``TFLITE_METADATA``.
    """
    from .tflite_metadata import METADATA_NAME, parse_metadata, read_associated_file
    s = _schema()
    data = _model_bytes(path)
    try:
        model = s.Model.GetRootAsModel(data, 0)
        buffer = None
        for i in range(model.MetadataLength()):
            if model.Metadata(i).Name().decode() == METADATA_NAME:
                buffer = model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy().tobytes()
    except Exception as error:  # noqa: BLE001 - any parse failure means "not a model"
        raise ValueError(f"{path} is not a TFLite model ({type(error).__name__})") from None
    if buffer is None:
        raise ValueError(f"{path} has no TFLite model metadata; export it with export_tflite")
    meta = parse_metadata(buffer)
    labels_file = (meta.get("output") or {}).get("labels_file")
    meta["labels"] = None
    if labels_file:
        text = read_associated_file(data, labels_file).decode("utf-8")
        meta["labels"] = text.splitlines()
    return meta


def read_labels(path) -> list:
    """The class names stored in a model's metadata, in output order."""
    labels = read_metadata(path)["labels"]
    if labels is None:
        raise ValueError(f"{path} has metadata but no label file")
    return labels


def _interpreter(path, num_threads=None):
    from ai_edge_litert.interpreter import Interpreter
    return Interpreter(model_path=str(path), num_threads=num_threads)


class LiteRTClassifier:
    """Run an exported CbR ``.tflite`` model with ``ai_edge_litert``.

    Attributes
    ----------
    labels : list of str — class names (from the metadata, else ``labels.txt`` beside it).
    input_kind : "image" or "embedding"
    input_size : (H, W) for image models, else None.
    dim : int — embedding size for embedding models.
    """

    def __init__(self, path, num_threads=None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"model file {self.path} does not exist")
        try:
            self.labels = read_labels(self.path)
        except ValueError:
            side = self.path.parent / "labels.txt"
            if not side.is_file():
                raise
            self.labels = side.read_text("utf-8").splitlines()
        try:
            self._interp = _interpreter(self.path, num_threads)
        except Exception as error:  # noqa: BLE001 - LiteRT raises ValueError/RuntimeError
            raise ValueError(f"{self.path} cannot be loaded by LiteRT: {error}") from None
        self._interp.allocate_tensors()
        detail = self._interp.get_input_details()[0]
        self._input = detail
        self._output = self._interp.get_output_details()[0]
        shape = tuple(int(v) for v in detail["shape"])
        if len(shape) == 4:
            self.input_kind, self.input_size, self.dim = "image", shape[1:3], None
        else:
            self.input_kind, self.input_size, self.dim = "embedding", None, shape[-1]
        self._batch = 1

    def __repr__(self):
        return (f"<LiteRTClassifier {self.path.name}: {self.input_kind} input, "
                f"{len(self.labels)} classes>")

    def _prepare(self, items):
        if self.input_kind == "embedding":
            x = np.asarray(items, np.float32)
            if x.ndim == 1:
                x = x[None]
            if x.ndim != 2 or x.shape[1] != self.dim:
                raise ValueError(f"expected embeddings of shape (n, {self.dim}), got {x.shape}")
            return x
        from .images import prepare_images
        return prepare_images(items, self.input_size)

    def scores(self, items, batch_size=32):
        """Class scores ``(n, num_classes)`` for images (paths/arrays) or embeddings."""
        x = self._prepare(items)
        out = []
        for i in range(0, len(x), batch_size):
            batch = x[i:i + batch_size]
            if len(batch) != self._batch:
                self._interp.resize_tensor_input(self._input["index"], [len(batch), *x.shape[1:]])
                self._interp.allocate_tensors()
                self._batch = len(batch)
            self._interp.set_tensor(self._input["index"], batch)
            self._interp.invoke()
            out.append(self._interp.get_tensor(self._output["index"]).copy())
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), np.float32)

    def predict(self, items, top=3):
        """For each input, the ``top`` best ``(class name, score)`` pairs, best first."""
        scores = self.scores(items)
        top = max(1, min(int(top), scores.shape[1]))
        order = np.argsort(-scores, axis=1, kind="stable")[:, :top]
        return [[(self.labels[j], float(row[j])) for j in idx] for row, idx in zip(scores, order)]


def run_tflite(path, inputs, num_threads=None):
    """Scores ``(n, num_classes)`` of a ``.tflite`` CbR model on a batch of inputs.

    ``inputs``: uint8 images ``(n, H, W, 3)`` at the model's input size (or image
    paths/arrays, resized), or embeddings ``(n, dim)``.
    """
    return LiteRTClassifier(path, num_threads=num_threads).scores(inputs)
