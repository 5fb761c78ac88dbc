"""Run a ``.tflite`` image embedder with LiteRT (XNNPACK on CPU), image by image.

:class:`LiteRTRunner` runs a model whose batch is dynamic one image per invoke:
measured on 2 cores (``benchmarks/embedder_throughput.py``), XNNPACK embeds
single images faster than batches of 2, 4 or 8 (a batch's activations spill out
of the CPU caches), and one query image never waits for others. A model with a
fixed batch runs in chunks of that batch, the last one padded. Inputs are
(de)quantised with the model's own parameters (a ``uint8`` input takes ``uint8``
pixels as they are); the interpreter threads default to the CPUs this process may
use. Calls are serialised by a lock (a LiteRT interpreter is not thread-safe).

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

__all__ = ["LiteRTRunner", "usable_cpus"]


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class LiteRTRunner:
    """``runner(images) -> (n, dim) float32`` for a ``.tflite`` model (path or bytes)
    with one image input ``(b, H, W, 3)`` and one output."""

    def __init__(self, model, *, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter
        source = ({"model_content": bytes(model)} if isinstance(model, (bytes, bytearray))
                  else {"model_path": os.fspath(model)})
        self.threads = int(num_threads or usable_cpus())
        self._lock = threading.Lock()
        it = self._interpreter = Interpreter(num_threads=self.threads, **source)
        inp, out = it.get_input_details(), it.get_output_details()
        if len(inp) != 1 or len(inp[0]["shape"]) != 4 or inp[0]["shape"][-1] != 3:
            raise ValueError("an embedder takes one image input (b, H, W, 3); this model's "
                             f"inputs are {[tuple(d['shape']) for d in inp]}")
        self.input_size = (int(inp[0]["shape"][1]), int(inp[0]["shape"][2]))
        self.dim = int(np.prod(out[0]["shape"][1:]))
        signature = inp[0].get("shape_signature", inp[0]["shape"])
        #: images per invoke: 1 when the model's batch is dynamic, else its fixed batch
        self.batch = 1 if int(signature[0]) == -1 else int(inp[0]["shape"][0])
        if int(inp[0]["shape"][0]) != self.batch:
            it.resize_tensor_input(inp[0]["index"], [self.batch, *self.input_size, 3])
        it.allocate_tensors()
        self._input, self._output = it.get_input_details()[0], it.get_output_details()[0]

    def _invoke(self, x):
        it = self._interpreter
        it.set_tensor(self._input["index"], _quantize(x, self._input))
        it.invoke()
        y = it.get_tensor(self._output["index"])
        scale, zero = self._output["quantization"]
        if not np.issubdtype(y.dtype, np.floating):
            y = (y.astype(np.float32) - zero) * (scale or 1.0)
        return y.reshape(len(x), -1).astype(np.float32)

    def __call__(self, images) -> np.ndarray:
        x = np.asarray(images)
        out, b = np.empty((len(x), self.dim), np.float32), self.batch
        with self._lock:
            for start in range(0, len(x), b):
                chunk = x[start:start + b]
                if len(chunk) < b:  # a fixed-batch model: pad the last chunk
                    pad = np.zeros((b - len(chunk), *chunk.shape[1:]), chunk.dtype)
                    chunk = np.concatenate([chunk, pad])
                out[start:start + b] = self._invoke(chunk)[:len(x) - start]
        return out


def _quantize(x, detail):
    """``x`` in the input's dtype: quantised with its scale and zero point, clipped."""
    scale, zero = detail["quantization"]
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating) or (x.dtype == dtype and not scale):
        return np.ascontiguousarray(x, dtype)
    if scale:
        x = np.round(x / scale + zero)
    info = np.iinfo(dtype)
    return np.clip(x, info.min, info.max).astype(dtype)
