"""Write a TFLite flatbuffer op by op: aligned buffers, tensors, operators, packing.

The object API of LiteRT's generated schema (``ModelT``, ``TensorT``, ...) holds
the graph; :class:`Graph` appends tensors and builtin ops to its first subgraph,
and :func:`pack` serialises it. Constant data goes through :class:`AlignedBuffer`,
which copies each array into the flatbuffer 16-byte aligned in one bulk copy
(the generated ``BufferT.Pack`` prepends byte by byte: minutes for a large index).

Example
-------
>>> import numpy as np
>>> model = new_model(dim=4)
>>> graph = Graph(model)
>>> x = int(graph.subgraph.inputs[0])
>>> y = graph.op("RELU", [x], "relu", (1, 4))
>>> graph.subgraph.outputs = np.array([y], np.int32)
>>> pack(model)[4:8]
b'TFL3'
"""

from __future__ import annotations

import numpy as np

__all__ = ["schema", "AlignedBuffer", "Graph", "new_model", "read_model", "attach_metadata",
           "pack"]


def schema():
    """LiteRT's generated flatbuffer schema module (imported on first use)."""
    from ai_edge_litert import schema_py_generated
    return schema_py_generated


class AlignedBuffer:
    """A ``BufferT`` whose data is written 16-byte aligned with one bulk copy."""

    def __init__(self, data):
        self.data = None if data is None else np.ascontiguousarray(data).view(np.uint8).ravel()
        self.offset = 0
        self.size = 0

    def Pack(self, builder):  # noqa: N802 - the name the generated object API calls
        s = schema()
        vector = None
        if self.data is not None and self.data.size:
            n = int(self.data.size)
            builder.StartVector(1, n, 16)
            builder.head = builder.head - n
            builder.Bytes[builder.head:builder.head + n] = self.data.tobytes()
            vector = builder.EndVector()
        s.BufferStart(builder)
        if vector is not None:
            s.BufferAddData(builder, vector)
        return s.BufferEnd(builder)


class Graph:
    """Appends tensors and ops to subgraph 0 of a ``ModelT``.

    Tensors made with ``batch=True`` have a dynamic first axis (shape signature
    ``-1``), so LiteRT can resize the batch.
    """

    def __init__(self, model):
        self.s = schema()
        self.model = model
        self.subgraph = model.subgraphs[0]
        self.subgraph.tensors = list(self.subgraph.tensors or [])
        self.subgraph.operators = list(self.subgraph.operators or [])
        model.operatorCodes = list(model.operatorCodes or [])
        model.buffers = [b if isinstance(b, AlignedBuffer) else AlignedBuffer(b.data)
                         for b in (model.buffers or [])] or [AlignedBuffer(None)]

    def tensor(self, name, shape, ttype=None, *, data=None, batch=False, quantization=None):
        """Append a tensor (a constant when ``data`` is given); return its index."""
        t = self.s.TensorT()
        t.name = name
        t.shape = np.array([1 if batch and i == 0 else d for i, d in enumerate(shape)], np.int32)
        if batch:
            t.shapeSignature = np.array([-1, *shape[1:]], np.int32)
        t.type = self.s.TensorType.FLOAT32 if ttype is None else ttype
        t.buffer = 0
        if data is not None:
            self.model.buffers.append(AlignedBuffer(data))
            t.buffer = len(self.model.buffers) - 1
        t.quantization = quantization
        self.subgraph.tensors.append(t)
        return len(self.subgraph.tensors) - 1

    def const(self, name, value):
        """A constant tensor holding ``value`` (float32, int32, bool or int8)."""
        value = np.asarray(value)
        types = self.s.TensorType
        ttype = {np.dtype(np.float32): types.FLOAT32, np.dtype(np.int32): types.INT32,
                 np.dtype(np.bool_): types.BOOL, np.dtype(np.int8): types.INT8}[value.dtype]
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

    def op(self, name, inputs, output_name, output_shape, output_type=None, *, options=None,
           version=1, batch=True):
        """Append builtin op ``name`` and its one output tensor; return the output's index.

        ``options`` is ``(options type name, options table)``, e.g.
        ``("MulOptions", s.MulOptionsT())``.
        """
        out = self.tensor(output_name, output_shape, output_type, batch=batch)
        op = self.s.OperatorT()
        op.opcodeIndex = self._opcode(getattr(self.s.BuiltinOperator, name), version)
        op.inputs = np.array(inputs, np.int32)
        op.outputs = np.array([out], np.int32)
        if options is not None:
            kind, table = options
            op.builtinOptionsType = getattr(self.s.BuiltinOptions, kind)
            op.builtinOptions = table
        self.subgraph.operators.append(op)
        return out

    def batch_last(self, t):
        """Mark tensor ``t`` as laid out ``(rows, batch)``: its last axis is the dynamic batch."""
        tensor = self.subgraph.tensors[t]
        tensor.shapeSignature = np.array([*tensor.shape[:-1], -1], np.int32)


def new_model(dim):
    """An empty ``ModelT`` whose only tensor is the embedding input ``(batch, dim)``."""
    s = schema()
    model = s.ModelT()
    model.version = 3
    model.description = "cbr-edu"
    subgraph = s.SubGraphT()
    subgraph.name = "main"
    model.subgraphs = [subgraph]
    model.buffers = [AlignedBuffer(None)]
    x = Graph(model).tensor("embedding", (1, dim), batch=True)
    subgraph.inputs = np.array([x], np.int32)
    subgraph.outputs = np.array([x], np.int32)
    return model


def read_model(data):
    """The ``ModelT`` of ``.tflite`` bytes (to append to)."""
    s = schema()
    return s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))


def attach_metadata(model, name, data: bytes):
    """Add a named metadata entry (e.g. ``TFLITE_METADATA``) holding ``data``."""
    s = schema()
    model.buffers.append(AlignedBuffer(np.frombuffer(data, np.uint8)))
    entry = s.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata = list(model.metadata or []) + [entry]


def pack(model) -> bytes:
    """Serialise a ``ModelT`` to ``.tflite`` bytes (file identifier ``TFL3``)."""
    import flatbuffers
    size = sum(int(b.data.size) for b in model.buffers if b.data is not None)
    builder = flatbuffers.Builder(size + (1 << 20))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
