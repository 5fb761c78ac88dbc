"""Exercises for notebook 05, *build your own*.

``q1`` the label of an album file, ``q2`` the top predictions of one image,
``q3`` int8 quantisation of the retrieval weights, ``q4`` run a ``.tflite`` model
with LiteRT.

>>> import numpy as np
>>> from cbr_edu.exercises.nb05_build_your_own import reference_quantize
>>> reference_quantize(np.array([1.0, -1.0, 0.5, 0.0])).tolist()
[127, -128, 64, 0]
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

import numpy as np

from ._core import Question, Wrong

__all__ = ["q1", "q2", "q3", "q4", "reference_quantize", "reference_top_predictions"]


class AlbumLabel(Question):
    _var = "album_label"
    _title = "Which class does an album file belong to?"
    _hints = [
        "An album is `root/<class>/<images…>`. Make the path relative to the root first: "
        "`Path(path).relative_to(root)`.",
        "The class is the **first** part of the relative path (`.parts[0]`), so photos in "
        "sub-folders like `root/cats/2023/img.jpg` still belong to `cats`. "
        "`Path(path).parent.name` would say `2023`.",
    ]
    _solution = "The class folder is the first component of the path below the album root."
    solution_code = '''\
from pathlib import Path

def album_label(root, path):
    return Path(path).relative_to(root).parts[0]
'''

    def _check(self, album_label):
        rng = np.random.default_rng(self.seed)
        root = PurePosixPath("/tmp") / f"album_{int(rng.integers(1000, 9999))}"
        classes = ["cats", "dogs", "Eiffel tower", "café"]
        cases = []
        for name in classes:
            depth = int(rng.integers(0, 3))
            sub = [f"trip{int(rng.integers(1, 9))}" for _ in range(depth)]
            cases.append((root.joinpath(name, *sub, f"IMG_{int(rng.integers(100, 999))}.jpg"),
                          name))
        cases.append((root / "dogs" / "2023" / "summer" / "dog.png", "dogs"))
        for as_str in (False, True):
            for path, want in cases:
                args = (str(root), str(path)) if as_str else (Path(root), Path(path))
                got = self.call(album_label, *args, what="album_label(root, path)")
                if got is None:
                    raise Wrong("album_label returned None — did you forget `return`?")
                if str(got) != want:
                    rel = PurePosixPath(path).relative_to(root)
                    if str(got) == rel.parent.name:
                        raise Wrong(f"for {rel} you returned {str(got)!r}, the folder the file "
                                    f"is in; the class is the folder directly under the root, "
                                    f"{want!r}.")
                    raise Wrong(f"album_label({str(root)!r}, {str(path)!r}) gave {got!r}; "
                                f"expected {want!r}.")


def reference_top_predictions(scores, class_names, top):
    """The ``top`` best ``(class name, score)`` pairs of one score vector, best first."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")[:top]
    return [(class_names[i], float(scores[i])) for i in order]


class TopPredictions(Question):
    _var = "top_predictions"
    _title = "The top predictions of one image"
    _hints = [
        "`np.argsort(scores)` gives the column indices from the *smallest* score up; "
        "`np.argsort(-scores)` from the largest down.",
        "Keep the first `top` indices and turn each into `(class_names[i], float(scores[i]))`.",
    ]
    _solution = "Sort the columns by score, best first, and pair each with its class name."
    solution_code = '''\
import numpy as np

def top_predictions(scores, class_names, top=3):
    scores = np.asarray(scores)
    best = np.argsort(-scores)[:top]
    return [(class_names[i], float(scores[i])) for i in best]
'''

    def _check(self, top_predictions):
        rng = np.random.default_rng(self.seed)
        for n, top in ((6, 3), (4, 1), (5, 5)):
            names = [f"class_{c}" for c in "ABCDEFGH"[:n]]
            perm = rng.permutation(n)
            names = [names[i] for i in perm]
            # distinct scores: with a tie, two orders would both be right
            scores = rng.choice(np.arange(-200, 1001), size=n, replace=False) / 1000
            got = self.call(top_predictions, scores.copy(), list(names), top,
                            what="top_predictions(scores, class_names, top)")
            want = reference_top_predictions(scores, names, top)
            try:
                pairs = [(str(a), float(b)) for a, b in got]
            except (TypeError, ValueError):
                raise Wrong("top_predictions should return a list of `(class name, score)` pairs, e.g. "
                            "`[('cats', 0.91), ('dogs', 0.55)]`.") from None
            if len(pairs) != top:
                raise Wrong(f"with top={top} you returned {len(pairs)} pairs.")
            if [p[0] for p in pairs] == [w[0] for w in reference_top_predictions(-scores, names, top)]:
                raise Wrong("you returned the *lowest* scores; sort from the largest down.")
            if [p[0] for p in pairs] != [w[0] for w in want]:
                raise Wrong(f"for scores {scores.tolist()} and names {names} with top={top} "
                            f"you returned {[p[0] for p in pairs]}; expected "
                            f"{[w[0] for w in want]}. Pair each index with `class_names[i]`.")
            if not np.allclose([p[1] for p in pairs], [w[1] for w in want]):
                raise Wrong("the class names are right but the scores next to them are not.")


def reference_quantize(weights):
    """int8 with scale 1/128 and zero point 0, as the original CbR design stores retrieval
    weights: ``clip(round(w * 128), -128, 127)``."""
    w = np.asarray(weights, dtype=np.float64)
    return np.clip(np.round(w * 128), -128, 127).astype(np.int8)


class QuantizeInt8(Question):
    _var = "quantize_int8"
    _title = "int8 retrieval weights"
    _hints = [
        "Unit vectors have components in [-1, 1]. Multiply by 128 and round to the nearest "
        "whole number: `np.round(w * 128)`.",
        "1.0 × 128 = 128 does not fit in int8 (−128…127): `np.clip` to [−128, 127] "
        "**before** `.astype(np.int8)`, or 128 wraps round to −128.",
    ]
    _solution = ("Scale 1/128, zero point 0: `q = clip(round(128·w), −128, 127)`, and "
                 "`q / 128` recovers `w` to within 1/256. Four times smaller than float32.")
    solution_code = '''\
import numpy as np

def quantize_int8(weights):
    return np.clip(np.round(weights * 128), -128, 127).astype(np.int8)
'''

    def _check(self, quantize_int8):
        rng = np.random.default_rng(self.seed)
        w = rng.normal(size=(5, 16))
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        w[0] = 0.0
        w[0, 3] = 1.0           # a unit vector along an axis: 128 does not fit
        w[1] = 0.0
        w[1, 5] = -1.0
        got = self.call(quantize_int8, w.copy(), what="quantize_int8(weights)")
        arr = np.asarray(got)
        if arr.shape != w.shape:
            raise Wrong(f"quantize_int8 returned shape {arr.shape}; expected {w.shape}.")
        if arr.dtype != np.int8:
            raise Wrong(f"the result has dtype {arr.dtype}; convert it with `.astype(np.int8)` "
                        "(1 byte per weight, 4× smaller than float32).")
        want = reference_quantize(w)
        if np.array_equal(arr, want):
            return
        if arr[0, 3] == -128:
            raise Wrong("1.0 became −128: 128 overflowed int8 and wrapped round. Clip to "
                        "[−128, 127] before converting.")
        trunc = np.clip(np.trunc(w * 128), -128, 127).astype(np.int8)
        if np.array_equal(arr, trunc):
            raise Wrong("`.astype(np.int8)` truncates towards zero; round first with "
                        "`np.round` so the error is at most half a step (1/256).")
        if np.array_equal(arr, np.clip(np.round(w * 127), -128, 127).astype(np.int8)):
            raise Wrong("use scale 1/128 (multiply by 128), as the original CbR design does.")
        err = np.abs(arr / 128.0 - w).max()
        raise Wrong(f"`q / 128` should be within 1/256 of the weights; the largest error "
                    f"is {err:.3g}.")


_TFLITE_CACHE: dict = {}


def _tiny_tflite(dim=8, num_instances=6, num_classes=3, seed=0):
    """A small CbR head (normalise → FC → segment max) as ``.tflite`` bytes, batch 1,
    and a numpy function computing the same thing."""
    key = (dim, num_instances, num_classes, seed)
    if key not in _TFLITE_CACHE:
        import tensorflow as tf

        rng = np.random.default_rng(seed)
        index = rng.normal(size=(num_instances, dim)).astype(np.float32)
        index /= np.linalg.norm(index, axis=1, keepdims=True)
        ids = (np.arange(num_instances) % num_classes).astype(np.int32)

        @tf.function(input_signature=[tf.TensorSpec([1, dim], tf.float32)])
        def head(x):
            x = tf.math.l2_normalize(x, axis=-1)
            scores = tf.matmul(x, tf.constant(index.T))
            return tf.transpose(tf.math.unsorted_segment_max(
                tf.transpose(scores), tf.constant(ids), num_classes))

        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [head.get_concrete_function()])
        content = converter.convert()

        def reference(x):
            x = np.asarray(x, np.float64)
            s = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ index.T
            return np.stack([s[:, ids == c].max(axis=1) for c in range(num_classes)], axis=1)
        _TFLITE_CACHE[key] = (content, reference)
    return _TFLITE_CACHE[key]


class RunLiteRT(Question):
    _var = "run_litert"
    _title = "Run a .tflite model with LiteRT"
    _hints = [
        "`from ai_edge_litert.interpreter import Interpreter`; "
        "`interpreter = Interpreter(model_path=path)`, then `interpreter.allocate_tensors()`.",
        "`inp = interpreter.get_input_details()[0]` and `out = interpreter.get_output_details()[0]` "
        "hold the tensor indices and shapes. The model takes **one** row at a time "
        "(input shape `[1, ...]`): loop over your inputs.",
        "Per row: `interpreter.set_tensor(inp['index'], x[None].astype(inp['dtype']))`, "
        "`interpreter.invoke()`, `interpreter.get_tensor(out['index'])[0]`. Stack the rows.",
    ]
    _solution = ("LiteRT's `Interpreter` runs the exported model exactly as a phone would. "
                 "Set the input tensor, invoke, read the output tensor, one image at a time.")
    solution_code = '''\
import numpy as np

def run_litert(tflite_path, inputs):
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=str(tflite_path))
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    rows = []
    for x in inputs:
        interpreter.set_tensor(inp["index"], np.asarray(x)[None].astype(inp["dtype"]))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out["index"])[0].copy())
    return np.stack(rows)
'''

    def _check(self, run_litert):
        rng = np.random.default_rng(self.seed)
        dim = 8
        content, reference = _tiny_tflite(dim=dim)
        queries = rng.normal(size=(int(rng.integers(3, 6)), dim)).astype(np.float32)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tiny_cbr.tflite")
            Path(path).write_bytes(content)
            got = self.call(run_litert, path, queries.copy(),
                            what="run_litert(tflite_path, inputs)")
        want = reference(queries)
        arr = self.as_array(got, "run_litert(...)")
        if arr.shape == want.shape[1:] or arr.shape == (1, want.shape[1]):
            raise Wrong(f"you returned the scores of one input only ({arr.shape}); run every "
                        f"row of `inputs` and stack the results into {want.shape}.")
        if arr.shape != want.shape:
            raise Wrong(f"for {len(queries)} inputs the result has shape {arr.shape}; "
                        f"expected {want.shape} (one row of class scores per input).")
        if np.allclose(arr, np.repeat(arr[:1], len(arr), axis=0)) and \
                not np.allclose(want, np.repeat(want[:1], len(want), axis=0), atol=1e-4):
            raise Wrong("every row of your result is the same: copy each output "
                        "(`get_tensor(...)[0].copy()`) and set a new input before each invoke.")
        self.assert_close(arr, want, "run_litert(...)", atol=1e-4)


q1 = AlbumLabel()
q2 = TopPredictions()
q3 = QuantizeInt8()
q4 = RunLiteRT()
