"""Embedding shards on disk: Parquet files ``path``, ``label``, ``embedding`` + ``manifest.json``.

``python -m cbr_edu embed`` writes them (:mod:`.pipeline`); :func:`read_embeddings`
reads them back for ``build --embeddings`` or a :class:`~cbr_edu.CbRClassifier`::

    shards = read_embeddings("out/embeddings")
    clf = CbRClassifier().fit(shards.embeddings, shards.labels)   # no re-embedding
    clf.predict(shards.load_embedder().embed(new_images))         # queries: same embedder

Layout of ``OUT_DIR`` (local or any file system Beam writes)::

    embeddings-00000-of-00002.parquet   path: string, label: string,
    embeddings-00001-of-00002.parquet   embedding: fixed_size_list<float32>[dim]
    manifest.json                        written last, once every shard is complete

The manifest names the embedder (spec, id, dimension, input size, pixel policy),
the counts (images embedded, per class, skipped), every shard, and every skipped
file with its reason. Only the shards it lists are read, so a folder whose
manifest is missing is an unfinished run, and stray files are ignored.

Example
-------
>>> import numpy as np, tempfile
>>> out = tempfile.mkdtemp()
>>> rows = [(("a.jpg", "cat"), np.ones(3)), (("b.jpg", "dog"), np.zeros(3))]
>>> table = to_table(rows, dim=3)
>>> import pyarrow.parquet as pq
>>> pq.write_table(table, out + "/embeddings-00000-of-00001.parquet")
>>> _ = write_manifest(out, {"format": FORMAT, "embedder": {"spec": "pixels:1", "dim": 3},
...                          "counts": {"embedded": 2}, "shards": ["embeddings-00000-of-00001.parquet"]})
>>> shards = read_embeddings(out)
>>> shards.labels.tolist(), shards.embeddings.dtype, shards.embeddings.shape
(['cat', 'dog'], dtype('float32'), (2, 3))
"""

from __future__ import annotations

import json
import posixpath
import uuid
from dataclasses import dataclass

import numpy as np

from .sources import is_remote

__all__ = ["FORMAT", "MANIFEST", "PREFIX", "SUFFIX", "EmbeddingShards", "schema", "to_table",
           "write_manifest", "read_manifest", "read_embeddings", "join"]

FORMAT = "cbr_edu.embeddings/1"
MANIFEST = "manifest.json"
PREFIX = "embeddings"
SUFFIX = ".parquet"


def join(folder: str, name: str) -> str:
    """``folder/name`` on a local or remote file system.

    >>> join("gs://b/out", "manifest.json")
    'gs://b/out/manifest.json'
    """
    import os
    return posixpath.join(folder, name) if is_remote(folder) else os.path.join(folder, name)


def schema(dim: int):
    """The shards' Arrow schema for ``dim``-dimensional embeddings."""
    import pyarrow as pa
    return pa.schema([("path", pa.string()), ("label", pa.string()),
                      ("embedding", pa.list_(pa.float32(), int(dim)))])


def to_table(rows, *, dim: int):
    """``[((path, label), vector), …]`` -> one Arrow table of :func:`schema`."""
    import pyarrow as pa
    vectors = np.asarray([vector for _, vector in rows], dtype=np.float32).reshape(-1, dim)
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), int(dim))
    return pa.table({"path": [str(key[0]) for key, _ in rows],
                     "label": [str(key[1]) for key, _ in rows],
                     "embedding": embedding}, schema=schema(dim))


def write_manifest(out_dir: str, manifest: dict) -> str:
    """Write ``manifest.json`` into ``out_dir`` atomically (a temporary name, then renamed)."""
    from apache_beam.io.filesystems import FileSystems
    final = join(out_dir, MANIFEST)
    temporary = join(out_dir, f".{MANIFEST}.{uuid.uuid4().hex}.tmp")
    with FileSystems.create(temporary) as f:
        f.write(json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8") + b"\n")
    if FileSystems.exists(final):
        FileSystems.delete([final])
    FileSystems.rename([temporary], [final])
    return final


def _read_bytes(path: str) -> bytes:
    from apache_beam.io.filesystems import CompressionTypes, FileSystems
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


def read_manifest(out_dir) -> dict:
    """The manifest of an ``embed`` run; ValueError naming the file when it is not usable."""
    import os
    out_dir = os.fspath(out_dir)
    path = join(out_dir, MANIFEST)
    try:
        manifest = json.loads(_read_bytes(path))
    except (OSError, ValueError) as error:
        if not is_remote(out_dir) and not os.path.exists(path):
            raise ValueError(f"'{out_dir}' has no {MANIFEST}: it is not the output of "
                             "'python -m cbr_edu embed', or that run did not finish") from None
        raise ValueError(f"cannot read '{path}': {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"'{path}' is not a cbr_edu embeddings manifest (format {FORMAT})")
    return manifest


@dataclass
class EmbeddingShards:
    """Embeddings read from shards, rows sorted by path (deterministic)."""

    embeddings: np.ndarray
    labels: np.ndarray
    paths: list
    manifest: dict

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def embedder_spec(self) -> str:
        """The spec the shards were embedded with (``load_embedder`` takes it)."""
        return self.manifest["embedder"]["spec"]

    def load_embedder(self):
        """The embedder the shards were made with, to embed queries the same way."""
        from ..embedders import load_embedder
        return load_embedder(self.embedder_spec)


def _check_table(table, path, dim):
    names = set(table.column_names)
    if not {"path", "label", "embedding"} <= names:
        raise ValueError(f"shard '{path}' lacks the columns path, label, embedding "
                         f"(has {sorted(names)})")
    width = getattr(table.schema.field("embedding").type, "list_size", None)
    if width != dim:
        raise ValueError(f"shard '{path}' holds {width}-d embeddings; the manifest says {dim}")


def read_embeddings(out_dir) -> EmbeddingShards:
    """Read every shard the manifest lists (checked against it) -> :class:`EmbeddingShards`."""
    import io
    import os
    import pyarrow as pa
    import pyarrow.parquet as pq
    out_dir = os.fspath(out_dir)
    manifest = read_manifest(out_dir)
    dim = int(manifest["embedder"]["dim"])
    tables = []
    for name in manifest["shards"]:
        path = join(out_dir, name)
        try:
            table = pq.read_table(io.BytesIO(_read_bytes(path)))
        except (OSError, pa.ArrowException) as error:
            raise ValueError(f"cannot read shard '{path}' listed in the manifest: {error}") \
                from None
        _check_table(table, path, dim)
        tables.append(table.select(["path", "label", "embedding"]))
    table = pa.concat_tables(tables) if tables else schema(dim).empty_table()
    expected = manifest["counts"]["embedded"]
    if table.num_rows != expected:
        raise ValueError(f"the shards in '{out_dir}' hold {table.num_rows} rows; the manifest "
                         f"says {expected}: re-run 'python -m cbr_edu embed'")
    table = table.sort_by("path")
    flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return EmbeddingShards(embeddings=flat.astype(np.float32).reshape(-1, dim),
                           labels=np.asarray(table.column("label").to_pylist()),
                           paths=table.column("path").to_pylist(), manifest=manifest)
