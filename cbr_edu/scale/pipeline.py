"""The embedding pipeline on Apache Beam: images -> embeddings in Parquet shards + a manifest.

::

    SOURCE ─ list ─ read & prepare ─┬─ RunInference(EmbedderModelHandler) ─ batch ─ Parquet shards
      (album scan     (the one pixel │                                                     │
       or file list)   policy)       └─ skipped (path, reason) ────────── manifest.json ◄──┘

* **read & prepare** decodes each file with :func:`cbr_edu.images.prepare_image`
  (the project's one pixel policy, as ``embed`` and the ``.tflite`` see it); a
  file that cannot be read goes to the *skipped* output with its reason — never
  fatal.
* **RunInference** batches the images and loads the embedder once per worker
  process, shared by its threads (``large_model=True`` shares one copy between
  the processes of a machine), through :class:`EmbedderModelHandler`.
* The **manifest** is written last, from the shards Beam finalised.

Runs on any Beam runner. ``DirectRunner`` (the default) runs in this process on
Beam's ``FnApiRunner`` — the engine Beam's own DirectRunner falls back to — and
never fetches the PrismRunner binary, so it works offline.

Example
-------
>>> import tempfile, os, numpy as np
>>> from PIL import Image
>>> album = tempfile.mkdtemp()
>>> for c in ("dark", "light"):
...     os.mkdir(os.path.join(album, c))
...     Image.new("RGB", (9, 9), (40 if c == "dark" else 220,) * 3).save(f"{album}/{c}/1.png")
>>> open(f"{album}/dark/2.png", "w").close()          # an empty file: skipped, not fatal
>>> out = os.path.join(tempfile.mkdtemp(), "emb")
>>> manifest = embed_source(album, out, embedder="pixels:4")
>>> manifest["counts"]["embedded"], manifest["counts"]["skipped"], manifest["embedder"]["dim"]
(2, 1, 16)
>>> manifest["skipped"][0]["reason"]
'empty file (0 bytes)'
"""

from __future__ import annotations

import os
import tempfile
import time

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, RunInference

from . import shards as _shards
from .sources import open_source, parse_line, is_remote

__all__ = ["EmbedderModelHandler", "PrepareImages", "embed_source", "DEFAULT_BATCH_SIZE"]

DEFAULT_BATCH_SIZE = 32
_SKIPPED = "skipped"


class EmbedderModelHandler(ModelHandler):
    """RunInference's model handler for a ``cbr_edu`` embedder (by its spec string).

    Batches are ``(b, H, W, 3)`` uint8 images already at the embedder's input size;
    each inference is the ``float32`` embedding. The model is loaded with
    :func:`cbr_edu.load_embedder` on each worker.

    >>> handler = EmbedderModelHandler("pixels:2", max_batch_size=8)
    >>> model = handler.load_model()
    >>> [v.shape for v in handler.run_inference([np.zeros((2, 2, 3), np.uint8)] * 3, model)]
    [(4,), (4,), (4,)]
    """

    def __init__(self, spec, *, min_batch_size=1, max_batch_size=DEFAULT_BATCH_SIZE,
                 large_model=False):
        super().__init__(min_batch_size=min_batch_size, max_batch_size=max_batch_size,
                         large_model=large_model)
        self.spec = spec

    def load_model(self):
        from ..embedders import load_embedder
        return load_embedder(self.spec)

    def run_inference(self, batch, model, inference_args=None):
        images = np.stack(batch)
        return list(model.embed(images, batch_size=len(images), progress=False))

    def get_num_bytes(self, batch):
        return sum(image.nbytes for image in batch)

    def get_metrics_namespace(self):
        return "cbr_edu"


def _local_copy(path: str, suffix: str) -> str:
    """A remote file copied into a local temporary file (read through Beam's FileSystems)."""
    from apache_beam.io.filesystems import CompressionTypes, FileSystems
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as src:
        data = src.read()
    handle, local = tempfile.mkstemp(suffix=suffix, prefix="cbr-edu-")
    with os.fdopen(handle, "wb") as dst:
        dst.write(data)
    return local


def prepare_path(path: str, size):
    """One file -> RGB uint8 at ``size`` by the one pixel policy (remote files too)."""
    from ..images import ImageReadError, prepare_image
    if not is_remote(path):
        return prepare_image(path, size)
    try:
        local = _local_copy(path, os.path.splitext(path)[1])
    except (OSError, ValueError) as error:  # missing object, no access...
        raise ImageReadError(path, f"cannot read the file ({error})") from None
    try:
        return prepare_image(local, size)
    except ImageReadError as error:
        raise ImageReadError(path, error.reason, error.hint) from None
    finally:
        os.unlink(local)


class PrepareImages(beam.DoFn):
    """``(path, label)`` -> ``((path, label), pixels)``; unreadable files to ``skipped``."""

    def __init__(self, input_size):
        self.input_size = tuple(input_size)

    def process(self, item):
        from ..images import ImageReadError
        path, label = item
        try:
            yield (path, label), prepare_path(path, self.input_size)
        except ImageReadError as error:
            yield beam.pvalue.TaggedOutput(_SKIPPED, (path, error.reason))
        except (OSError, ValueError, MemoryError) as error:
            yield beam.pvalue.TaggedOutput(_SKIPPED, (path, f"cannot read ({error})"))


def _manifest(header, *, out_dir, per_class, read_skipped, shards):
    """The finished manifest (runs once, after the shards are final) -> written to out_dir."""
    skipped = [tuple(s) for s in header["scan_skipped"]] + sorted(map(tuple, read_skipped))
    manifest = {key: value for key, value in header.items() if key != "scan_skipped"}
    manifest.update(per_class=dict(sorted(per_class.items())),
                    shards=sorted(_basename(s) for s in shards),
                    skipped=[{"path": p, "reason": r} for p, r in skipped])
    manifest["counts"] = {"embedded": sum(per_class.values()), "classes": len(per_class),
                          "skipped": len(skipped), "unreadable": len(read_skipped)}
    _shards.write_manifest(out_dir, manifest)
    return manifest


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]


def _items(pipeline, source):
    if source.list_path is None:
        return pipeline | "List album" >> beam.Create(source.items)
    base = source.base
    return (pipeline
            | "Read file list" >> beam.io.ReadFromText(source.list_path)
            | "Parse lines" >> beam.Map(parse_line, base=base)
            | "Drop comments" >> beam.Filter(lambda item: item is not None))


def _build(pipeline, source, out_dir, header, *, embedder, batch_size, shards, large_model):
    """The pipeline's graph (see the module docstring)."""
    dim = header["embedder"]["dim"]
    prepared = (_items(pipeline, source)
                | "Read and prepare" >> beam.ParDo(PrepareImages(embedder.input_size))
                .with_outputs(_SKIPPED, main="images"))
    handler = KeyedModelHandler(EmbedderModelHandler(
        embedder.spec, max_batch_size=batch_size, large_model=large_model))
    embedded = prepared.images | "Embed" >> RunInference(handler)
    written = (embedded
               | "Batch rows" >> beam.BatchElements(min_batch_size=1, max_batch_size=1024)
               | "To Arrow" >> beam.Map(_shards.to_table, dim=dim)
               | "Write shards" >> beam.io.WriteToParquetBatched(
                   _shards.join(out_dir, _shards.PREFIX), schema=_shards.schema(dim),
                   file_name_suffix=_shards.SUFFIX, num_shards=shards))
    per_class = (embedded
                 | "Labels" >> beam.Map(lambda row: row[0][1])
                 | "Count per class" >> beam.combiners.Count.PerElement()
                 | "As dict" >> beam.combiners.ToDict())
    _ = (pipeline
         | "Header" >> beam.Create([header])
         | "Write manifest" >> beam.Map(
             _manifest, out_dir=out_dir, per_class=beam.pvalue.AsSingleton(per_class),
             read_skipped=beam.pvalue.AsList(prepared[_SKIPPED]),
             shards=beam.pvalue.AsList(written)))


def _runner(options):
    """Beam's in-process FnApiRunner for the DirectRunner (never the Prism download)."""
    from apache_beam.options.pipeline_options import StandardOptions
    name = options.view_as(StandardOptions).runner
    if name in (None, "DirectRunner", "direct"):
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner
        options.view_as(StandardOptions).runner = None
        return FnApiRunner(), "DirectRunner"
    return name, name


def _header(source, embedder, runner_name, out_dir):
    from .. import __version__
    return {"format": _shards.FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "source": {"kind": source.kind, "location": source.location},
            "embedder": {"spec": embedder.spec, "id": embedder.id, "dim": int(embedder.dim),
                         "input_size": list(embedder.input_size),
                         "pixel_policy": embedder.preprocessing},
            "runner": runner_name, "beam": beam.__version__, "cbr_edu": __version__,
            "output": out_dir, "scan_skipped": [list(s) for s in source.skipped]}


def embed_source(source, out_dir, *, embedder="efficientnet_lite0", pipeline_args=(),
                 batch_size=DEFAULT_BATCH_SIZE, shards=0, large_model=False) -> dict:
    """Embed SOURCE into Parquet shards in ``out_dir`` with Beam; returns the manifest.

    ``pipeline_args``: Beam pipeline options (``["--runner", "DataflowRunner", …]``);
    ``shards``: number of Parquet files (0: the runner decides); ``large_model``:
    one embedder per machine instead of one per worker process.
    """
    from apache_beam.options.pipeline_options import PipelineOptions
    from ..embedders import load_embedder
    source = open_source(source)
    out_dir = os.fspath(out_dir)
    embedder = load_embedder(embedder)  # here: its dimension sets the shards' schema
    if not isinstance(embedder.spec, str) or not embedder.spec:
        raise ValueError("the pipeline loads the embedder on every worker from its spec string; "
                         "pass a spec such as 'efficientnet_lite0'")
    options = PipelineOptions(list(pipeline_args))
    runner, runner_name = _runner(options)
    header = _header(source, embedder, runner_name, out_dir)
    if not is_remote(out_dir):
        os.makedirs(out_dir, exist_ok=True)
    with beam.Pipeline(runner=runner, options=options) as pipeline:
        _build(pipeline, source, out_dir, header, embedder=embedder, batch_size=batch_size,
               shards=shards, large_model=large_model)
    return _shards.read_manifest(out_dir)
