"""Export a CbR classifier to one ``.tflite`` file with its labels inside.

``export_tflite(clf_or_model, "model.tflite")`` writes

* an image-input model when there is an embedder: input ``uint8 (1, H, W, 3)``
  RGB pixels 0..255 at the embedder's input size (cast and preprocessing are
  inside the model), output ``float32 (1, num_classes)`` class scores;
* an embedding-input model when there is none: input ``float32 (1, dim)``.
  (The batch dimension is dynamic: LiteRT can resize it.)

The graph is the embedder (converted once by TensorFlow's converter and cached,
:mod:`cbr_edu.tflite.convert`) followed by the CbR head written op by op
(normalise → ``FULLY_CONNECTED`` → aggregation), so a 100k-image, 50k-class
index exports in seconds. ``quantize="int8"`` makes the file for phones: the
embedder becomes a full-integer int8 model calibrated on the bundled photos
(:mod:`cbr_edu.tflite.convert`: about 0.3× its float size and about half its
latency), and the retrieval weights are stored as int8 with one symmetric scale
per index row (``max|w| / 127``, zero point 0; the original used one scale 1/128
for every row, which wastes most of the int8 range on unit vectors): the
retrieval block is 4× smaller and runs LiteRT's hybrid kernel. The input stays
uint8 pixels and the aggregation float, so clients read both files alike.

Labels travel as standard TFLite model metadata (:mod:`cbr_edu.tflite.metadata`,
as MediaPipe Tasks reads it) and in a label file named after the model beside it
(``pets.tflite`` -> ``pets.labels.txt``, so two models in one folder never share one). The input
size and pixel normalisation in the metadata are read from the embedder's own
Keras graph, so ``clf`` and ``clf.to_keras()`` export the same file contents.
Files are written atomically and never overwritten unless ``overwrite=True``.

Example
-------
>>> import numpy as np, tempfile, os
>>> from cbr_edu import CbRClassifier
>>> from cbr_edu.tflite import read_class_names
>>> clf = CbRClassifier().fit(np.eye(3), ["cat", "dog", "dog"])
>>> out = os.path.join(tempfile.mkdtemp(), "pets.tflite")
>>> result = export_tflite(clf, out)
>>> read_class_names(out), result.num_classes, result.input, result.labels_path.name
(['cat', 'dog'], 2, 'embedding', 'pets.labels.txt')
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .._atomic import atomic_write_bytes
from .._errors import InputError
from ._graph import attach_metadata, new_model, pack
from ._head import append_head
from ._normalization import read_normalization
from ._parts import parts_of
from .convert import convert_embedder, embedder_graph
from .metadata import (LABELS_FILE, METADATA_NAME, build_metadata, check_side_labels,
                       label_file_text, zip_associated_files)
from .runtime import count_ops

__all__ = ["export_tflite", "ExportResult"]

_MAX_FLATBUFFER = 2 ** 31 - 1  # flatbuffers cannot address more than 2 GB


@dataclass
class ExportResult:
    """What :func:`export_tflite` wrote.

    ``path`` and ``labels_path`` are the files (``labels_path`` is None when no
    label file was written); ``bytes`` the model size,
    ``retrieval_bytes`` the size of the retrieval weights inside it; ``seconds``
    the wall time of the export (``stem_cached`` says whether the embedder's
    conversion came from the cache); ``embedder_bytes`` the size of the converted
    embedder (0 without one).
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
    embedder_bytes: int = 0
    ops: dict = field(default_factory=dict)

    def __str__(self):
        kind = "float32"
        if self.quantize == "int8":
            kind = "int8 embedder and retrieval weights" if self.embedder_bytes else \
                "int8 retrieval weights"
        return (f"{self.path} ({self.bytes / 1e6:.2f} MB, {kind}): {self.input} input "
                f"{self.input_shape}, {self.num_classes} classes from "
                f"{self.num_instances} indexed examples; retrieval weights "
                f"{self.retrieval_bytes / 1e6:.2f} MB; {sum(self.ops.values())} ops; "
                f"written in {self.seconds:.1f} s")


def export_tflite(model_or_classifier, path, *, quantize=None, overwrite=False, class_names=None,
                  labels_file=True, name=None, description=None) -> ExportResult:
    """Write a CbR classifier to a ``.tflite`` file (with metadata) and its label file.

    Parameters
    ----------
    model_or_classifier : CbRClassifier or keras.Model
        A fitted ``CbRClassifier`` or a model from ``build_cbr_model`` (or
        ``clf.to_keras()``).
    path : str or PathLike
        The ``.tflite`` file to write (atomically).
    quantize : None or "int8"
        ``"int8"`` quantises the embedder (full-integer int8) and stores the
        retrieval weights as int8 (per-row scales).
    overwrite : bool
        Replace existing files. Without it an existing model is an error; an
        existing label file is only an error if its content differs.
    class_names : list of str, optional
        One name per output column; default: the classifier's classes.
    labels_file : bool
        Also write the class names, one per line, to ``<model>.labels.txt``
        beside the model (``pets.tflite`` -> ``pets.labels.txt``); False writes
        none (the labels are in the model's metadata either way).
    name, description : str, optional
        Recorded in the metadata.

    Returns
    -------
    ExportResult

    Raises
    ------
    FileExistsError
        ``path`` (or its label file, with other names) exists and ``overwrite`` is False.
    ValueError
        Not a fitted CbR classifier/model, bad labels, or too large for one file.
    """
    start = time.perf_counter()
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
    path = _check_model_path(Path(path), overwrite=overwrite)
    parts = parts_of(model_or_classifier)
    if class_names is not None:
        parts.class_names = _given_class_names(class_names, len(parts.class_names))
    label_text = label_file_text(parts.class_names)
    side = check_side_labels(path, label_text, overwrite=overwrite) if labels_file else None
    _check_size(parts.index.shape, quantize)

    stem_cached, stem = None, b""
    if parts.embedder is not None:
        stem, stem_cached = convert_embedder(parts.embedder, image_size=parts.image_size,
                                             quantize=quantize if parts.image_size else None)
        model = embedder_graph(stem)
    else:
        model = new_model(parts.dim)
    retrieval_bytes = append_head(model, parts, quantize=quantize)
    attach_metadata(model, METADATA_NAME, _metadata(parts, quantize, name, description))
    flat = pack(model)
    data = zip_associated_files(flat, {LABELS_FILE: label_text})

    atomic_write_bytes(path, data)
    if side is not None and (not side.exists() or side.read_bytes() != label_text):
        atomic_write_bytes(side, label_text)
    image = parts.image_size is not None
    return ExportResult(
        path=path, labels_path=side, input="image" if image else "embedding",
        input_shape=(1, *parts.image_size, 3) if image else (1, parts.dim),
        num_classes=len(parts.class_names), num_instances=len(parts.index),
        quantize=quantize, bytes=len(data), retrieval_bytes=int(retrieval_bytes),
        seconds=time.perf_counter() - start, stem_cached=stem_cached,
        embedder_bytes=len(stem), ops=dict(count_ops(flat)))


def _check_model_path(path, *, overwrite):
    if path.suffix.lower() != ".tflite":
        raise ValueError(f"the model file should end in .tflite, got {path.name!r}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name such as {path / 'model.tflite'}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist; create it first")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    return path


def _given_class_names(class_names, num_classes):
    class_names = [str(v) for v in class_names]
    if len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
    return class_names


def _check_size(shape, quantize):
    n, d = shape
    weight_bytes = n * d * (1 if quantize == "int8" else 4)
    if weight_bytes > _MAX_FLATBUFFER - (64 << 20):
        raise InputError(f"an index of {n} x {d} is {weight_bytes / 2**30:.1f} GB of weights: "
                         "too large for one .tflite file (2 GB).",
                         python_hint="" if quantize else "Try quantize='int8' (4x smaller).")


def _metadata(parts, quantize, name, description) -> bytes:
    """The ``TFLITE_METADATA`` of the model: labels, input size and normalisation, scores."""
    n, d = parts.index.shape
    kind = "int8 (per-row scales)" if quantize == "int8" else "float32"
    if quantize == "int8" and parts.image_size is not None:
        kind += "; embedder int8 (full-integer)"
    topk = f" (k={parts.k})" if parts.aggregation == "topk_mean" else ""
    if parts.image_size is not None:
        mean, std = read_normalization(parts.keras_embedder())
        height, width = parts.image_size
        input_description = (f"RGB image, uint8 0..255, {height}x{width} "
                             "(resize the whole image; no crop)")
    else:
        mean, std = [0.0], [1.0]
        input_description = f"embedding, float32 ({d}-d), normalised inside the model"
    return build_metadata(
        name=name or "CbR classifier",
        description=description or (
            f"Classification-by-Retrieval: {n} indexed examples, {len(parts.class_names)} "
            f"classes, aggregation {parts.aggregation}{topk}, retrieval weights {kind}. "
            "Made with cbr-edu."),
        labels_file=LABELS_FILE, image_size=parts.image_size, mean=mean, std=std,
        input_description=input_description,
        output_description=(
            f"class scores: {parts.aggregation} cosine similarity to the class's indexed "
            "examples (-1..1, higher is better; not probabilities)"),
        score_range=(-1.0, 1.0))
