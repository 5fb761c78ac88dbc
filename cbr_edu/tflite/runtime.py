"""Run an exported CbR ``.tflite`` model with LiteRT, and count its ops.

:class:`LiteRTClassifier` runs the file with ``ai_edge_litert`` exactly as a phone
would; images go through the project's one pixel policy
(:func:`cbr_edu.images.prepare_images`), so they reach the model as the same
uint8 pixels the Python classifier embeds.

Example
-------
>>> import numpy as np, tempfile, os
>>> from cbr_edu import CbRClassifier
>>> from cbr_edu.tflite import export_tflite
>>> path = os.path.join(tempfile.mkdtemp(), "pets.tflite")
>>> _ = export_tflite(CbRClassifier().fit(np.eye(3), ["cat", "dog", "dog"]), path)
>>> lite = LiteRTClassifier(path)
>>> [(name, round(score, 2)) for name, score in lite.predict([[0.0, 0.9, 0.1]], top=2)[0]]
[('dog', 0.99), ('cat', 0.0)]
>>> count_ops(path)["FULLY_CONNECTED"]
1
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .._quiet import native_stderr_filtered
from ._graph import schema
from .metadata import read_class_names, side_labels_path

__all__ = ["LiteRTClassifier", "count_ops"]


def count_ops(path_or_bytes) -> Counter:
    """How many times each builtin op occurs in a ``.tflite`` model (a path or its bytes)."""
    s = schema()
    data = path_or_bytes if isinstance(path_or_bytes, (bytes, bytearray)) else \
        Path(path_or_bytes).read_bytes()
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    model = s.Model.GetRootAsModel(data, 0)
    counts = Counter()
    for g in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(g)
        for i in range(subgraph.OperatorsLength()):
            oc = model.OperatorCodes(subgraph.Operators(i).OpcodeIndex())
            counts[names.get(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()), "?")] += 1
    return counts


class LiteRTClassifier:
    """Run an exported CbR ``.tflite`` model with ``ai_edge_litert``.

    Class names come from the model's metadata; a model without metadata uses
    its label file ``<model>.labels.txt`` only when that file has one name per
    output column. A label file that disagrees with the metadata is ignored, and
    ``label_note`` says so.

    Attributes
    ----------
    class_names : list of str — one per output column.
    label_note : str — why a label file beside the model was not used ("" if none).
    input_kind : "image" or "embedding"
    input_size : (H, W) for image models, else None.
    dim : int — embedding size for embedding models.
    """

    def __init__(self, path, *, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter
        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a folder, not a model file; give the "
                                    ".tflite file inside it")
        if not self.path.is_file():
            raise FileNotFoundError(f"model file {self.path} does not exist")
        try:
            with native_stderr_filtered():   # LiteRT announces its delegate on stderr
                self._interpreter = Interpreter(model_path=str(self.path),
                                                num_threads=num_threads)
                self._interpreter.allocate_tensors()
        except Exception as error:  # noqa: BLE001 - LiteRT raises ValueError/RuntimeError
            raise ValueError(f"{self.path} cannot be loaded by LiteRT: {error}") from None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        shape = tuple(int(v) for v in self._input["shape"])
        if len(shape) == 4:
            self.input_kind, self.input_size, self.dim = "image", shape[1:3], None
            if self._input["dtype"] != np.uint8:
                raise ValueError(
                    f"{self.path} takes {np.dtype(self._input['dtype']).name} pixels, not "
                    "uint8 RGB: it is not a classifier made by export_tflite (an embedder?)")
        else:
            self.input_kind, self.input_size, self.dim = "embedding", None, shape[-1]
        self.class_names, self.label_note = _class_names(self.path, int(self._output["shape"][-1]))
        self._batch = 1

    def __repr__(self):
        return (f"<LiteRTClassifier {self.path.name}: {self.input_kind} input, "
                f"{len(self.class_names)} classes>")

    def _prepare(self, items):
        if self.input_kind == "embedding":
            x = np.asarray(items, np.float32)
            if x.ndim == 1:
                x = x[None]
            if x.ndim != 2 or x.shape[1] != self.dim:
                raise ValueError(f"expected embeddings of shape (n, {self.dim}), got {x.shape}")
            return x
        from ..images import prepare_images
        return prepare_images(items, self.input_size)

    def scores(self, items, *, batch_size=32):
        """Class scores ``(n, num_classes)`` for images (paths/arrays) or embeddings."""
        x = self._prepare(items)
        out = []
        for i in range(0, len(x), batch_size):
            batch = x[i:i + batch_size]
            if len(batch) != self._batch:
                self._interpreter.resize_tensor_input(self._input["index"],
                                                      [len(batch), *x.shape[1:]])
                self._interpreter.allocate_tensors()
                self._batch = len(batch)
            self._interpreter.set_tensor(self._input["index"], batch)
            self._interpreter.invoke()
            out.append(self._interpreter.get_tensor(self._output["index"]).copy())
        return np.concatenate(out) if out else np.zeros((0, len(self.class_names)), np.float32)

    def predict(self, items, *, top=3):
        """For each input, the ``top`` best ``(class name, score)`` pairs, best first."""
        scores = self.scores(items)
        top = max(1, min(int(top), scores.shape[1]))
        order = np.argsort(-scores, axis=1, kind="stable")[:, :top]
        return [[(self.class_names[j], float(row[j])) for j in idx] for row, idx in zip(scores, order)]


def _class_names(path, columns):
    """``(class names, note)``: the metadata's names, else a matching label file."""
    side = side_labels_path(path)
    try:
        side_names = side.read_text("utf-8").splitlines() if side.is_file() else None
    except (OSError, UnicodeDecodeError):
        side_names = None
    try:
        names = read_class_names(path)
    except ValueError:
        names = None
    if names is not None:
        note = ""
        if side_names is not None and side_names != names:
            note = (f"{side.name} differs from the class names inside {path.name}; "
                    "using the model's")
        if len(names) != columns:
            raise ValueError(f"{path} is damaged: its metadata names {len(names)} classes "
                             f"for {columns} outputs; export it again")
        return names, note
    if side_names is None:
        raise ValueError(f"{path} has no class names: no metadata inside and no {side.name} "
                         "beside it; export it with export_tflite (or build)")
    if len(side_names) != columns:
        raise ValueError(f"{side} has {len(side_names)} class names but {path.name} has "
                         f"{columns} outputs: the file belongs to another model; export "
                         "the model again")
    return side_names, ""
