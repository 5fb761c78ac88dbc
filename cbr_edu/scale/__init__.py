"""When one machine is not enough: embeddings on Apache Beam, big indexes with FAISS.

Two roads, both in the optional ``scale`` extra (``pip install "cbr-edu[scale]"``):

* **Embedding a big collection** — :func:`embed_source` (``python -m cbr_edu
  embed``) runs a Beam pipeline: read, decode with the one pixel policy, embed
  with RunInference, write Parquet shards and a manifest (:mod:`.pipeline`,
  :mod:`.sources`); :func:`read_embeddings` reads them back (:mod:`.shards`).
* **An index too big for one matrix product** — ``CbRClassifier(index=
  "faiss:IVF4096,PQ64")`` retrieves the top neighbours with FAISS and aggregates
  over them (:mod:`.faiss_index`); :mod:`.compare` measures exact CbR against
  FAISS side by side on synthetic clustered embeddings (:mod:`.synthetic`).

Without the extra, using any of these raises one line saying how to install it.

Example
-------
>>> from cbr_edu import scale
>>> scale.missing(["json"])
''
"""

from importlib import import_module

from .._quiet import quiet_beam
from ._extra import INSTALL, MissingExtraError, missing, require

quiet_beam()  # before any Beam import: its notes about optional parts it lacks stay out

# public name -> (module, the extra's packages it needs)
_EXPORTS = {
    "embed_source": ("pipeline", None),
    "EmbedderModelHandler": ("pipeline", None),
    "read_embeddings": ("shards", ["pyarrow", "apache_beam"]),
    "EmbeddingShards": ("shards", ["pyarrow", "apache_beam"]),
    "FaissIndex": ("faiss_index", ["faiss"]),
    "clustered_embeddings": ("synthetic", []),
    "compare_indexes": ("compare", ["faiss"]),
}

__all__ = ["INSTALL", "MissingExtraError", "missing", "require", *sorted(_EXPORTS)]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cbr_edu.scale' has no attribute {name!r}")
    module, needs = _EXPORTS[name]
    require(needs, what=f"cbr_edu.scale.{name}")
    return getattr(import_module(f"cbr_edu.scale.{module}"), name)


def __dir__():
    return __all__
