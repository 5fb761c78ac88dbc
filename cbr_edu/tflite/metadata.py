"""TFLite model metadata: the labels and input format a model carries, written and read.

Phones read a classifier's labels and input format from *model metadata*, the
flatbuffer defined by ``metadata_schema.fbs`` (TensorFlow Lite Support, now
shipped by MediaPipe). A model carries it in two places:

* a buffer named ``"TFLITE_METADATA"`` in the model's ``metadata`` list holds
  the ``ModelMetadata`` table (file identifier ``M001``);
* the *associated files* it names (here ``labels.txt``) are appended to the end
  of the ``.tflite`` file as an uncompressed zip archive. The file stays a valid
  flatbuffer (readers ignore trailing bytes) and a valid zip (the central
  directory is at the end).

This module writes and reads the few tables a classifier needs with the plain
``flatbuffers`` runtime (field slots follow ``metadata_schema.fbs``), so it has
no dependency on MediaPipe or tflite-support; the tests check the result with
MediaPipe's generated schema code and with MediaPipe's ``ImageClassifier``.
:func:`read_metadata` and :func:`read_class_names` read them back from a model file.

``min_parser_version`` is ``"1.0.0"``: the tables used here are all in the
first schema version (see MediaPipe's ``metadata_version.cc``).

Example
-------
>>> buf = build_metadata(name="demo", description="a test", labels_file="labels.txt",
...                      image_size=(224, 224), mean=[127.5], std=[127.5])
>>> meta = parse_metadata(buf)
>>> meta["input"]["normalization"], meta["output"]["labels_file"], meta["min_parser_version"]
({'mean': [127.5], 'std': [127.5]}, 'labels.txt', '1.0.0')
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import flatbuffers
from flatbuffers import table as fb_table

__all__ = ["METADATA_NAME", "METADATA_IDENTIFIER", "MIN_PARSER_VERSION", "LABELS_FILE",
           "side_labels_path", "check_side_labels",
           "build_metadata", "parse_metadata", "zip_associated_files",
           "read_associated_file", "label_file_text", "read_metadata", "read_class_names"]

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"

# enum values from metadata_schema.fbs
_CONTENT_FEATURE, _CONTENT_IMAGE = 1, 2          # union ContentProperties
_PROCESS_NORMALIZATION = 1                       # union ProcessUnitOptions
_COLOR_RGB = 1                                   # enum ColorSpaceType
TENSOR_AXIS_LABELS = 2                           # enum AssociatedFileType
LABELS_FILE = "labels.txt"                       # the label file's name inside a model


# --------------------------------------------------------------------------- writing

def _table(b, nslots, fields):
    """One table: ``fields`` is a list of (slot, kind, value); None values are left out."""
    b.StartObject(nslots)
    for slot, kind, value in fields:
        if value is None:
            continue
        if kind == "offset":
            b.PrependUOffsetTRelativeSlot(slot, value, 0)
        elif kind == "byte":
            b.PrependUint8Slot(slot, value, 0)
        elif kind == "uint":
            b.PrependUint32Slot(slot, value, 0)
        else:  # pragma: no cover - programming error
            raise ValueError(kind)
    return b.EndObject()


def _offsets(b, offsets):
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _floats(b, values):
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependFloat32(float(v))
    return b.EndVector()


def _string(b, text):
    return None if text is None else b.CreateString(text)


def _stats(b, lo, hi):
    if lo is None and hi is None:
        return None
    mx = _floats(b, [hi]) if hi is not None else None
    mn = _floats(b, [lo]) if lo is not None else None
    return _table(b, 2, [(0, "offset", mx), (1, "offset", mn)])


def _tensor_metadata(b, name, description, content_type, content, process_units=(),
                     stats=None, associated_files=()):
    name, description = _string(b, name), _string(b, description)
    content_t = _table(b, 3, [(0, "byte", content_type), (1, "offset", content)])
    units = _offsets(b, list(process_units)) if process_units else None
    files = _offsets(b, list(associated_files)) if associated_files else None
    return _table(b, 7, [(0, "offset", name), (1, "offset", description),
                         (3, "offset", content_t), (4, "offset", units),
                         (5, "offset", stats), (6, "offset", files)])


def build_metadata(*, name, description, labels_file, image_size=None, mean=(0.0,),
                   std=(1.0,), input_description=None, output_description=None,
                   score_range=None, version=None, author="cbr-edu") -> bytes:
    """Serialise a ``ModelMetadata`` flatbuffer for a one-input, one-output classifier.

    Parameters
    ----------
    image_size : (height, width) or None
        An image input (``ImageProperties``: RGB, default size, ``NormalizationOptions``
        with ``mean``/``std`` and ``Stats`` 0..255); None for a feature (embedding) input.
    mean, std : sequence of float
        How the model maps 0..255 pixels: ``(pixel - mean) / std``; one value for
        every channel, or one per channel.
    labels_file : str
        Name of the label file (one class name per line, in output order), attached to
        the output tensor as ``TENSOR_AXIS_LABELS``.
    score_range : (min, max) or None
        Range of the output scores, recorded as the output ``Stats``.
    """
    b = flatbuffers.Builder(1024)
    # -- input
    if image_size is not None:
        height, width = (int(v) for v in image_size)
        size = _table(b, 2, [(0, "uint", width), (1, "uint", height)])
        props = _table(b, 2, [(0, "byte", _COLOR_RGB), (1, "offset", size)])
        norm_mean, norm_std = _floats(b, list(mean)), _floats(b, list(std))
        norm = _table(b, 2, [(0, "offset", norm_mean), (1, "offset", norm_std)])
        unit = _table(b, 2, [(0, "byte", _PROCESS_NORMALIZATION), (1, "offset", norm)])
        stats = _stats(b, 0.0, 255.0)
        tensor_in = _tensor_metadata(b, "image", input_description, _CONTENT_IMAGE, props,
                                     [unit], stats)
    else:
        props = _table(b, 0, [])
        tensor_in = _tensor_metadata(b, "embedding", input_description, _CONTENT_FEATURE,
                                     props)
    # -- output
    file_name, file_desc = _string(b, labels_file), _string(
        b, "Class names, one per line, in the order of the output scores.")
    label_file = _table(b, 5, [(0, "offset", file_name), (1, "offset", file_desc),
                               (2, "byte", TENSOR_AXIS_LABELS)])
    props_out = _table(b, 0, [])
    stats_out = _stats(b, *score_range) if score_range is not None else None
    tensor_out = _tensor_metadata(b, "scores", output_description, _CONTENT_FEATURE,
                                  props_out, (), stats_out, [label_file])
    # -- subgraph and model
    inputs, outputs = _offsets(b, [tensor_in]), _offsets(b, [tensor_out])
    subgraph = _table(b, 10, [(2, "offset", inputs), (3, "offset", outputs)])
    subgraphs = _offsets(b, [subgraph])
    fields = [(0, _string(b, name)), (1, _string(b, description)),
              (2, _string(b, version)), (4, _string(b, author)),
              (7, _string(b, MIN_PARSER_VERSION))]
    root = _table(b, 8, [(slot, "offset", off) for slot, off in fields]
                  + [(3, "offset", subgraphs)])
    b.Finish(root, METADATA_IDENTIFIER)
    return bytes(b.Output())


# --------------------------------------------------------------------------- reading

class _Tab:
    """Tiny typed accessors over a flatbuffers table (slot i has vtable offset 4 + 2i)."""

    def __init__(self, buf, pos):
        self.t = fb_table.Table(buf, pos)

    def _off(self, slot):
        return self.t.Offset(4 + 2 * slot)

    def table(self, slot):
        o = self._off(slot)
        return _Tab(self.t.Bytes, self.t.Indirect(o + self.t.Pos)) if o else None

    def string(self, slot):
        o = self._off(slot)
        return self.t.String(o + self.t.Pos).decode("utf-8") if o else None

    def byte(self, slot):
        o = self._off(slot)
        return self.t.Get(flatbuffers.number_types.Uint8Flags, o + self.t.Pos) if o else 0

    def uint(self, slot):
        o = self._off(slot)
        return self.t.Get(flatbuffers.number_types.Uint32Flags, o + self.t.Pos) if o else 0

    def tables(self, slot):
        o = self._off(slot)
        if not o:
            return []
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return [_Tab(self.t.Bytes, self.t.Indirect(start + 4 * i)) for i in range(n)]

    def floats(self, slot):
        o = self._off(slot)
        if not o:
            return []
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        return [self.t.Get(flatbuffers.number_types.Float32Flags, start + 4 * i)
                for i in range(n)]


def _read_tensor(tm):
    out = {"name": tm.string(0), "description": tm.string(1)}
    content = tm.table(3)
    kind = content.byte(0) if content else 0
    out["content"] = {_CONTENT_IMAGE: "image", _CONTENT_FEATURE: "feature"}.get(kind, kind)
    if kind == _CONTENT_IMAGE:
        props = content.table(1)
        size = props.table(1) if props else None
        out["color_space"] = "RGB" if props and props.byte(0) == _COLOR_RGB else None
        out["image_size"] = (size.uint(1), size.uint(0)) if size else None  # (H, W)
    for unit in tm.tables(4):
        if unit.byte(0) == _PROCESS_NORMALIZATION:
            norm = unit.table(1)
            out["normalization"] = {"mean": norm.floats(0), "std": norm.floats(1)}
    stats = tm.table(5)
    if stats:
        out["stats"] = {"max": stats.floats(0), "min": stats.floats(1)}
    for f in tm.tables(6):
        if f.byte(2) == TENSOR_AXIS_LABELS and "labels_file" not in out:
            out["labels_file"] = f.string(0)
    return out


def parse_metadata(buf) -> dict:
    """Read what :func:`build_metadata` writes back into a dict (any valid metadata works)."""
    buf = bytearray(buf)
    if bytes(buf[4:8]) != METADATA_IDENTIFIER:
        raise ValueError("not a TFLite metadata buffer (file identifier is not 'M001')")
    root = _Tab(buf, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0))
    meta = {"name": root.string(0), "description": root.string(1),
            "version": root.string(2), "author": root.string(4),
            "min_parser_version": root.string(7)}
    subgraphs = root.tables(3)
    if subgraphs:
        inputs, outputs = subgraphs[0].tables(2), subgraphs[0].tables(3)
        meta["input"] = _read_tensor(inputs[0]) if inputs else None
        meta["output"] = _read_tensor(outputs[0]) if outputs else None
    return meta


# --------------------------------------------------------------------------- associated files

def zip_associated_files(model_bytes: bytes, files: dict) -> bytes:
    """``model_bytes`` followed by an uncompressed zip of ``files`` ({name: bytes})."""
    out = io.BytesIO()
    out.write(model_bytes)
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def read_associated_file(path_or_bytes, name) -> bytes:
    """One associated file from the zip at the end of a ``.tflite`` file."""
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, (bytes, bytearray)) \
        else path_or_bytes
    try:
        with zipfile.ZipFile(src) as zf:
            return zf.read(name)
    except (zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"the model has no associated file {name!r} ({error})") from None


# --------------------------------------------------------------------------- labels and model files

def side_labels_path(model_path) -> Path:
    """The label file kept beside a model: ``pets.tflite`` -> ``pets.labels.txt``.

    Named after its model, so two models in one folder never share one.

    >>> side_labels_path("out/pets.tflite").as_posix()
    'out/pets.labels.txt'
    """
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}.labels.txt")


def check_side_labels(model_path, label_text: bytes, *, overwrite=False) -> Path:
    """The label file to write beside ``model_path``; refuses to replace other labels.

    Raises FileExistsError when the file holds other labels (unless ``overwrite``)
    and IsADirectoryError when a folder has its name.
    """
    side = side_labels_path(model_path)
    if side.is_dir():
        raise IsADirectoryError(f"{side} is a folder; the model's label file goes there: "
                                "rename the folder or the model")
    if side.exists() and not overwrite and side.read_bytes() != label_text:
        raise FileExistsError(f"{side} exists with other labels; pass overwrite=True to "
                              "replace it, or choose another model name")
    return side


def label_file_text(names) -> bytes:
    """The label file for class ``names``: one per line, UTF-8.

    Raises ValueError for an empty name, a line break in a name, or repeated names.

    >>> label_file_text(["cat", "dog"])
    b'cat\\ndog\\n'
    """
    for name in names:
        if not name or "\n" in name or "\r" in name:
            raise ValueError(f"class name {name!r} cannot go in a label file (empty or has a "
                             "line break); rename the class")
    if len(set(names)) != len(names):
        raise ValueError("class names must be distinct")
    return ("\n".join(names) + "\n").encode("utf-8")


def read_metadata(path) -> dict:
    """The model metadata of a ``.tflite`` file as a dict, with ``class_names`` added.

    Raises ValueError when the file has no ``TFLITE_METADATA``.
    """
    from ._graph import schema
    data = Path(path).read_bytes()
    try:
        model = schema().Model.GetRootAsModel(data, 0)
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
    meta["class_names"] = None
    if labels_file:
        meta["class_names"] = read_associated_file(data, labels_file).decode("utf-8").splitlines()
    return meta


def read_class_names(path) -> list:
    """The class names stored in a model's metadata (its label file), in output order."""
    class_names = read_metadata(path)["class_names"]
    if class_names is None:
        raise ValueError(f"{path} has metadata but no label file")
    return class_names
