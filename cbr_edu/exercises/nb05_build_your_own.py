"""Exercises for notebook 05, *build your own*.

``q1`` the label of an album file, ``q2`` the top predictions of one image,
``q3`` int8 quantisation of the retrieval weights, ``q4`` run a ``.tflite`` model
with LiteRT; ``p1`` a *predict, then run* question: what int8 makes of a weight of 1.0,
and how far ``q / 128`` can be from ``w``.

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
from ._mistakes import name_mistake
from ._predict import Prediction, guessed_number, judge_number

__all__ = ["q1", "q2", "q3", "q4", "p1", "reference_quantize", "reference_top_predictions"]


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
        cases = []
        for name in ["cats", "dogs", "Eiffel tower", "café"]:
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
                    _album_mistake(str(got), root, PurePosixPath(path), want)


def _album_mistake(got, root, path, want):
    """Raise Wrong naming what ``got`` is instead of the class folder."""
    rel = path.relative_to(root)
    name_mistake(got, [
        (rel.parent.name, f"for {rel} you returned {got!r}, the folder the file is in; the "
                          f"class is the folder directly under the root."),
        (path.name, f"for {rel} you returned the file name; the class is the folder "
                    "directly under the root."),
        (str(rel), f"you returned the whole path below the root ({got!r}); keep only its "
                   "first part (`.parts[0]`)."),
        (str(rel.parent), f"you returned all the folders below the root ({got!r}); keep only "
                          "the first one (`.parts[0]`)."),
        (path.parts[0], "that is the first part of the *absolute* path: make the path "
                        "relative to the root first (`relative_to(root)`)."),
        (path.parts[1], "that is a folder above the album: make the path relative to the "
                        "root first (`relative_to(root)`)."),
    ])
    raise Wrong(f"album_label({str(root)!r}, {str(path)!r}) gave {got!r}, which is not the "
                "folder directly under the root.")


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
        for n, top in ((6, 3), (4, 1), (5, 5), (7, 2)):
            names = [f"class_{c}" for c in "ABCDEFGH"[:n]]
            names = [names[i] for i in rng.permutation(n)]
            # distinct scores: with a tie, two orders would both be right
            scores = rng.choice(np.arange(-200, 1001), size=n, replace=False) / 1000
            got = self.call(top_predictions, scores.copy(), list(names), top,
                            what="top_predictions(scores, class_names, top)")
            try:
                pairs = [(str(a), float(b)) for a, b in got]
            except (TypeError, ValueError):
                raise Wrong("top_predictions should return a list of `(class name, score)` "
                            "pairs, e.g. `[('cats', 0.91), ('dogs', 0.55)]`.") from None
            _judge_top(pairs, scores, names, top)


def _judge_top(pairs, scores, names, top):
    """Raise Wrong naming the mistake when ``pairs`` are not the ``top`` best."""
    want = reference_top_predictions(scores, names, top)
    got_names, want_names = [p[0] for p in pairs], [w[0] for w in want]
    if len(pairs) != top:
        if len(pairs) == 3:
            raise Wrong(f"with top={top} you returned 3 pairs: use the `top` you are given, "
                        "not 3.")
        raise Wrong(f"with top={top} you returned {len(pairs)} pairs (off by one?): "
                    "`[:top]` keeps exactly `top`.")
    if got_names != want_names and np.allclose([p[1] for p in pairs], [w[1] for w in want]):
        if got_names == list(names[:top]):
            raise Wrong("the names are in their original order while the scores are sorted: "
                        "sort the *indices* (`np.argsort`) and pair each with `class_names[i]`.")
        raise Wrong("the scores are the best ones, but the names next to them are not their "
                    "classes: pair each index `i` with `class_names[i]` and `scores[i]`.")
    if got_names == [w[0] for w in reference_top_predictions(-scores, names, top)]:
        raise Wrong("you returned the *lowest* scores; sort from the largest down.")
    if got_names != want_names:
        raise Wrong(f"for scores {scores.tolist()} and names {names} with top={top} "
                    f"you returned {got_names}, which are not the best classes, best first. "
                    "Pair each index with `class_names[i]`.")
    if not np.allclose([p[1] for p in pairs], [w[1] for w in want]):
        raise Wrong("the class names are right but the scores next to them are not: give "
                    "each class its own score, unchanged (`float(scores[i])`).")


def reference_quantize(weights):
    """int8 with scale 1/128 and zero point 0: ``clip(round(w * 128), -128, 127)``.

    Scale 1/128 and zero point 0 are what the original C++ CbR builder uses for the
    retrieval weights of int8 embedders (``AddQuantizedRetrievalBlock`` in TensorFlow's
    examples, ``lite/examples/classification_by_retrieval/lib/tflite_cbr_builder.cc``).
    ``q / 128`` reads a weight back to within 1/256
    (half a step), except weights above 127.5/128, which are clipped to 127: 1.0 comes
    back as 127/128, off by 1/128.
    """
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
    _solution = ("Scale 1/128, zero point 0: `q = clip(round(128·w), −128, 127)`. `q / 128` "
                 "reads each weight back to within 1/256 (half a step of 1/128) — except "
                 "weights above 127.5/128 ≈ 0.996, which are clipped to 127: a weight of "
                 "exactly 1.0 comes back as 127/128, off by 1/128. One byte per weight: four "
                 "times smaller than float32.")
    solution_code = '''\
import numpy as np

def quantize_int8(weights):
    return np.clip(np.round(weights * 128), -128, 127).astype(np.int8)
'''

    @staticmethod
    def _mistakes(w):
        def int8(values):
            return np.clip(values, -128, 127).astype(np.int8)
        return [
            (np.round(w * 128).astype(np.int8), "1.0 became −128: 128 overflowed int8 and "
                                                "wrapped round. Clip to [−128, 127] before "
                                                "converting."),
            (int8(np.trunc(w * 128)), "`.astype(np.int8)` truncates towards zero; round "
                                      "first with `np.round` so the error is at most half a "
                                      "step (1/256)."),
            (int8(np.floor(w * 128)), "`np.floor` rounds down, so every weight is read back "
                                      "too small; round to the *nearest* step (`np.round`)."),
            (int8(np.round(w * 127)), "use scale 1/128 (multiply by 128), the scale of the "
                                      "original CbR builder; with 127 every weight is read "
                                      "back wrong by q/128."),
            (np.clip(np.round(w * 128), -127, 127).astype(np.int8),
             "−1.0 × 128 = −128 fits in int8: clip to [−128, 127], not to ±127."),
        ]

    def _check(self, quantize_int8):
        rng = np.random.default_rng(self.seed)
        w = rng.normal(size=(5, 16))
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        w[0] = 0.0
        w[0, 3] = 1.0           # a unit vector along an axis: 128 does not fit
        w[1] = 0.0
        w[1, 5] = -1.0
        arr = np.asarray(self.call(quantize_int8, w.copy(), what="quantize_int8(weights)"))
        if arr.shape != w.shape:
            raise Wrong(f"quantize_int8 returned shape {arr.shape}; expected {w.shape}.")
        if arr.dtype != np.int8:
            raise Wrong(f"the result has dtype {arr.dtype}; convert it with `.astype(np.int8)` "
                        "(signed, 1 byte per weight, 4× smaller than float32).")
        if np.array_equal(arr, reference_quantize(w)):
            return
        name_mistake(arr, self._mistakes(w))
        err = np.abs(arr / 128.0 - w)
        raise Wrong(f"`q / 128` should read each weight back to within 1/256 (1/128 for the "
                    f"clipped weights near 1.0); the largest error is {err.max():.3g}.")


class PredictInt8(Prediction):
    _var = ("int8_of_one", "largest_error")
    _title = "Predict, then run: int8 at the edge"
    _hints = [
        "int8 holds the whole numbers −128 … 127. What is 1.0 × 128, and what does "
        "clipping make of it?",
        "Rounding to the nearest step of 1/128 is off by at most half a step, 1/256. But "
        "a clipped weight is off by more: compare 1.0 with what is read back for it.",
    ]
    _solution = ("1.0 × 128 = 128 does not fit: it is clipped to **127**, read back as "
                 "127/128, so the largest error is **1/128** ≈ 0.0078 (at w = 1.0). "
                 "Every weight up to 127.5/128 comes back within 1/256.")
    solution_code = "int8_of_one = 127\nlargest_error = 1 / 128\n"

    def _check(self, int8_of_one, largest_error):
        got = guessed_number(self, int8_of_one, "int8_of_one")
        judge_number(got, 127, tolerance=0, mistake_rtol=0, mistakes=(
            (128, "int8_of_one: 128 does not fit in int8 (one signed byte) — what does "
                  "clipping make of it?"),
            (-128, "int8_of_one: that is what wrap-around gives (`.astype` without clipping); "
                   "the quantiser clips first."),
            (1, "int8_of_one: the weight is multiplied by 128 (scale 1/128) before rounding."),
        ), otherwise="int8_of_one: 1.0 × 128, then clipped to the int8 range.")
        error = guessed_number(self, largest_error, "largest_error")
        judge_number(error, 1 / 128, tolerance=2.5e-4, mistakes=(   # 0.008 passes
            (1 / 256, "largest_error: 1/256 (half a step) holds for every weight that is "
                      "*rounded*; a weight that is clipped is read back further off. Which "
                      "weight is that?"),
            (0, "largest_error: int8 has only 256 values, so most weights cannot come back "
                "exactly."),
            (0.5, "largest_error: 0.5 is half a step counted in q; the error of w = q / 128 "
                  "is counted in w's units, where a step is 128 times smaller."),
            (1.0, "largest_error: 1 would be a whole step counted in q; the error of "
                  "w = q / 128 is counted in w's units."),
        ), otherwise="largest_error: compare each weight w with what comes back, q / 128; "
                     "look at the two ends of [−1, 1].")


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
            got = _call_with_advice(self, run_litert, path, queries.copy())
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


def _call_with_advice(question, run_litert, path, queries):
    """Call the learner's runner; add what to do to LiteRT's terse tensor errors."""
    try:
        return question.call(run_litert, path, queries, what="run_litert(tflite_path, inputs)")
    except Wrong as exc:
        text = str(exc)
        if "Dimension mismatch" in text:
            text += (" — the model takes **one row at a time** (shape `[1, dim]`): loop over "
                     "the inputs and set `x[None]` for each.")
        elif "but expected type" in text:
            text += (" — cast each row to the input's dtype first: "
                     "`x[None].astype(inp['dtype'])`.")
        raise Wrong(text) from None


q1 = AlbumLabel()
q2 = TopPredictions()
q3 = QuantizeInt8()
q4 = RunLiteRT()
p1 = PredictInt8()
