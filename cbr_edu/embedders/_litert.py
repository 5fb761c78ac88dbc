"""Run a ``.tflite`` image embedder with LiteRT (XNNPACK on CPU), batch by batch.

:class:`LiteRTRunner` holds one interpreter per batch size it runs: full chunks of
``batch`` images, and single images for the rest (so one query image costs one
image, and no call re-plans the graph). Inputs are (de)quantised with the model's
own parameters; the interpreter threads default to the CPUs this process may use.
Calls are serialised by a lock (a LiteRT interpreter is not thread-safe).

Example
-------
>>> import keras, tensorflow as tf
>>> from cbr_edu.tflite.convert import convert_embedder
>>> image = keras.Input((2, 2, 3))
>>> data, _ = convert_embedder(keras.Model(image, keras.layers.Flatten()(image)),
...                            image_size=(2, 2))
>>> run = LiteRTRunner(data)
>>> run(np.arange(24, dtype=np.float32).reshape(2, 2, 2, 3))[1].tolist()
[12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0]
"""

from __future__ import annotations

import os
import threading

import numpy as np

__all__ = ["LiteRTRunner", "BATCH", "usable_cpus"]

#: Images per invoke. Measured on 2 cores (benchmarks/embedder_throughput.py): batches
#: of 4-8 run XNNPACK's kernels a little better than single images; larger ones do not.
BATCH = 8


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class LiteRTRunner:
    """``runner(images) -> (n, dim) float32`` for a ``.tflite`` model (path or bytes)
    with one image input ``(b, H, W, 3)`` and one output."""

    def __init__(self, model, *, num_threads=None, batch=BATCH):
        from ai_edge_litert.interpreter import Interpreter
        self._source = ({"model_content": bytes(model)} if isinstance(model, (bytes, bytearray))
                        else {"model_path": os.fspath(model)})
        self._threads = int(num_threads or usable_cpus())
        self._make = Interpreter
        self._lock = threading.Lock()
        first = self._new()
        inp, out = first.get_input_details(), first.get_output_details()
        if len(inp) != 1 or len(inp[0]["shape"]) != 4 or inp[0]["shape"][-1] != 3:
            raise ValueError("an embedder takes one image input (b, H, W, 3); this model's "
                             f"inputs are {[tuple(d['shape']) for d in inp]}")
        self.input_size = (int(inp[0]["shape"][1]), int(inp[0]["shape"][2]))
        self.dim = int(np.prod(out[0]["shape"][1:]))
        signature = inp[0].get("shape_signature", inp[0]["shape"])
        self.dynamic_batch = int(signature[0]) == -1
        fixed = int(inp[0]["shape"][0])
        self.batch = int(batch) if self.dynamic_batch else fixed
        self._interpreters = {fixed: first}

    def _new(self):
        it = self._make(num_threads=self._threads, **self._source)
        it.allocate_tensors()
        return it

    def _interpreter(self, size):
        """The interpreter that runs ``size`` images at once (made on first use)."""
        if size not in self._interpreters:
            it = self._new()
            detail = it.get_input_details()[0]
            it.resize_tensor_input(detail["index"], [size, *self.input_size, 3])
            it.allocate_tensors()
            self._interpreters[size] = it
        return self._interpreters[size]

    def _invoke(self, x):
        it = self._interpreter(len(x))
        inp, out = it.get_input_details()[0], it.get_output_details()[0]
        it.set_tensor(inp["index"], _quantize(x, inp))
        it.invoke()
        y = it.get_tensor(out["index"])
        scale, zero = out["quantization"]
        if not np.issubdtype(y.dtype, np.floating):
            y = (y.astype(np.float32) - zero) * (scale or 1.0)
        return y.reshape(len(x), -1).astype(np.float32)

    def __call__(self, images) -> np.ndarray:
        x = np.asarray(images)
        chunks, b = [], self.batch
        with self._lock:
            for start in range(0, len(x), b):
                chunk = x[start:start + b]
                if len(chunk) == b:
                    chunks.append(self._invoke(chunk))
                elif self.dynamic_batch:  # the rest one by one: no re-planning, no padding
                    chunks.extend(self._invoke(chunk[i:i + 1]) for i in range(len(chunk)))
                else:  # a fixed-batch model: pad the last chunk
                    pad = np.zeros((b - len(chunk), *chunk.shape[1:]), chunk.dtype)
                    chunks.append(self._invoke(np.concatenate([chunk, pad]))[:len(chunk)])
        if not chunks:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate(chunks)


def _quantize(x, detail):
    """``x`` in the input's dtype: quantised with its scale and zero point, clipped."""
    scale, zero = detail["quantization"]
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return np.ascontiguousarray(x, dtype)
    if scale:
        x = np.round(x / scale + zero)
    info = np.iinfo(dtype)
    return np.clip(x, info.min, info.max).astype(dtype)
