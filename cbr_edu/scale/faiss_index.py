"""The large-index path: FAISS retrieves the top neighbours, CbR aggregates over them.

Exact CbR scores a query against every indexed example — one matrix product
whose memory and time grow with the index. Past a few million rows,
``CbRClassifier(index="faiss:IVF4096,PQ64")`` instead asks a FAISS index for the
``neighbors`` most similar examples (inner product on L2-normalised vectors =
cosine) and aggregates per class over those alone.

What that costs — the loss, stated (``tests/test_scale_faiss.py`` checks each):

* ``max`` with an exact FAISS index (``Flat``): the same decisions as exact CbR,
  and the same score for every class among the neighbours.
* ``topk_mean``: exact for a class with at least ``min(k, its size)`` examples
  among the neighbours; a class with fewer is scored as if its missing examples
  had the last neighbour's similarity — an upper bound on its exact score.
* A class with no example among the neighbours scores -1 (the lowest cosine):
  it is out of the running, so ``predict_proba`` gives it (almost) nothing.
* ``mean`` needs every example of every class and is refused: use exact CbR.
* An approximate index (IVF, PQ, HNSW) may miss the true nearest neighbours:
  decisions then differ from exact CbR on a fraction of the queries, which
  ``benchmarks/bench_large_index.py`` measures (class-decision agreement). PQ also
  approximates the similarities themselves (a few hundredths).

The spec: ``"faiss:<factory string>"`` (FAISS's ``index_factory``, e.g. ``Flat``,
``IVF1024,Flat``, ``IVF4096,PQ64``, ``HNSW32``), optionally followed by
``;neighbors=N``, ``;nprobe=N`` (IVF lists searched) or ``;efSearch=N`` (HNSW).

Example
-------
>>> spec = FaissIndex.parse("faiss:IVF256,PQ16;nprobe=8")
>>> spec.factory, spec.nprobe, spec.neighbors, spec.spec
('IVF256,PQ16', 8, 100, 'faiss:IVF256,PQ16;nprobe=8')
>>> FaissIndex.parse("exact") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["FaissIndex", "NeighbourSearch", "neighbour_class_scores", "PREFIX", "OUT_OF_RUNNING"]

PREFIX = "faiss:"
#: the score of a class with no example among the retrieved neighbours
OUT_OF_RUNNING = -1.0
_OPTIONS = {"neighbors": "neighbors", "nprobe": "nprobe", "efsearch": "ef_search"}
_TRAIN_PER_LIST = 64  # k-means trains on at most this many rows per IVF list,
_TRAIN_MIN = 65_536   # and never fewer than this (PQ: 256 rows per centroid)


@dataclass(frozen=True)
class FaissIndex:
    """A FAISS index recipe: factory string and search settings (no data)."""

    factory: str
    neighbors: int = 100
    nprobe: int | None = None
    ef_search: int | None = None

    @classmethod
    def parse(cls, value):
        """``"exact"`` -> None; ``"faiss:…"`` -> a FaissIndex; anything else: ValueError."""
        if value is None or value == "exact":
            return None
        if not isinstance(value, str) or not value.startswith(PREFIX):
            raise ValueError(f"index must be 'exact' or 'faiss:<factory string>' such as "
                             f"'faiss:IVF4096,PQ64', got {value!r}")
        factory, *options = value[len(PREFIX):].split(";")
        settings = {}
        for option in options:
            name, _, number = option.partition("=")
            key = _OPTIONS.get(name.strip().lower())
            if key is None or not re.fullmatch(r"\s*[1-9][0-9]*\s*", number):
                raise ValueError(f"index option {option!r} in {value!r}: use neighbors=N, "
                                 "nprobe=N or efSearch=N with a whole number N >= 1")
            settings[key] = int(number)
        if not factory.strip():
            raise ValueError(f"index {value!r} names no FAISS factory string, e.g. "
                             "'faiss:IVF4096,PQ64'")
        return cls(factory.strip(), **settings)

    @property
    def spec(self) -> str:
        """The string :meth:`parse` reads back into this recipe."""
        extra = [f"neighbors={self.neighbors}"] if self.neighbors != 100 else []
        extra += [f"nprobe={self.nprobe}"] if self.nprobe else []
        extra += [f"efSearch={self.ef_search}"] if self.ef_search else []
        return ";".join([PREFIX + self.factory, *extra])

    def build(self, embeddings, class_ids, num_classes) -> "NeighbourSearch":
        """Train (when the index needs it) and fill a FAISS index with unit ``embeddings``."""
        import faiss
        from .. import similarity
        vectors = np.ascontiguousarray(similarity.l2_normalize(embeddings), dtype=np.float32)
        try:
            index = faiss.index_factory(vectors.shape[1], self.factory,
                                        faiss.METRIC_INNER_PRODUCT)
        except RuntimeError as error:
            raise ValueError(f"FAISS cannot make {self.factory!r} for {vectors.shape[1]}-d "
                             f"vectors ({_first_line(error)}); see FAISS's index_factory "
                             "strings, e.g. 'IVF1024,Flat', 'IVF4096,PQ64', 'HNSW32'") from None
        _train(index, vectors, self.factory)
        index.add(vectors)
        self._tune(index)
        return NeighbourSearch(index, np.asarray(class_ids), int(num_classes), self.neighbors)

    def _tune(self, index):
        import faiss
        ivf = faiss.try_extract_index_ivf(index)
        if ivf is not None:
            ivf.nprobe = min(self.nprobe or 32, ivf.nlist)
        hnsw = getattr(faiss.downcast_index(index), "hnsw", None)
        if hnsw is not None:
            hnsw.efSearch = self.ef_search or max(128, self.neighbors)


def _first_line(error) -> str:
    return str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__


def _train(index, vectors, factory):
    """Train on a seeded sample (at most 64 rows per IVF list); explain a too-small index."""
    import faiss
    if index.is_trained:
        return
    ivf = faiss.try_extract_index_ivf(index)
    lists = ivf.nlist if ivf is not None else 1
    if len(vectors) < lists:
        raise ValueError(f"{factory!r} has {lists} lists but the index has only {len(vectors)} "
                         f"rows; use fewer lists (about 4·√N, e.g. 'IVF"
                         f"{max(1, int(4 * len(vectors) ** 0.5))},Flat') or the exact index")
    if hasattr(faiss.downcast_index(ivf) if ivf is not None else index, "do_polysemous_training"):
        # polysemous codes only serve Hamming-filtered search, which CbR does not use,
        # and training them takes minutes
        (faiss.downcast_index(ivf) if ivf is not None else index).do_polysemous_training = False
    size = max(_TRAIN_PER_LIST * lists, _TRAIN_MIN)
    sample = vectors
    if len(vectors) > size:
        rows = np.random.default_rng(0).choice(len(vectors), size, replace=False)
        sample = vectors[np.sort(rows)]
    try:
        index.train(sample)
    except RuntimeError as error:
        raise ValueError(f"FAISS could not train {factory!r} on {len(sample)} rows "
                         f"({_first_line(error)})") from None


class NeighbourSearch:
    """A filled FAISS index and the class of each row: queries -> class scores."""

    def __init__(self, index, class_ids, num_classes, neighbors):
        self.index = index
        self.class_ids = class_ids
        self.num_classes = num_classes
        self.neighbors = min(int(neighbors), index.ntotal)
        self.counts = np.bincount(class_ids, minlength=num_classes)

    @property
    def nbytes(self) -> int:
        """Size of the index as FAISS serialises it (vectors, codes, lists, graph)."""
        import faiss
        return int(faiss.serialize_index(self.index).nbytes)

    def search(self, queries):
        """``(similarities, row ids)`` of the top neighbours, best first (-1: no result)."""
        from .. import similarity
        unit = np.ascontiguousarray(similarity.l2_normalize(queries), dtype=np.float32)
        return self.index.search(unit, self.neighbors)

    def class_scores(self, queries, *, aggregation="max", k=3):
        """``(n, num_classes)`` scores aggregated over each query's neighbours."""
        sims, ids = self.search(queries)
        return neighbour_class_scores(sims, ids, self.class_ids, self.counts,
                                      aggregation=aggregation, k=k)


def neighbour_class_scores(sims, ids, class_ids, counts, *, aggregation="max", k=3):
    """Per-class scores from each query's retrieved neighbours (see the module docstring).

    ``sims``/``ids``: ``(q, n)`` best first, id -1 for no result; ``class_ids``: class of
    each index row; ``counts``: examples per class.

    >>> sims = np.array([[0.9, 0.8, 0.5]]); ids = np.array([[0, 2, 1]])
    >>> neighbour_class_scores(sims, ids, np.array([0, 1, 0, 2]), np.array([2, 1, 1]))
    array([[ 0.9,  0.5, -1. ]])
    >>> neighbour_class_scores(sims, ids, np.array([0, 1, 0, 2]), np.array([2, 1, 1]),
    ...                        aggregation="topk_mean", k=2).round(3)
    array([[ 0.85,  0.5 , -1.  ]])
    """
    if aggregation not in ("max", "topk_mean"):
        raise ValueError(f"aggregation {aggregation!r} cannot be computed from the top "
                         "neighbours alone ('mean' needs every example); use 'max' or "
                         "'topk_mean', or the exact index")
    depth = 1 if aggregation == "max" else int(k)
    sims = np.clip(np.asarray(sims, np.float64), -1.0, 1.0)
    ids = np.asarray(ids)
    q, n = ids.shape
    need = np.minimum(depth, counts).astype(np.float64)
    rows = np.repeat(np.arange(q), n)
    cls = np.where(ids >= 0, np.asarray(class_ids)[np.maximum(ids, 0)], -1).ravel()
    keep = cls >= 0
    rows, cls, flat = rows[keep], cls[keep], sims.ravel()[keep]
    # rank of each neighbour within its (query, class) group; the lists are best first
    order = np.lexsort((np.nonzero(keep)[0], cls, rows))
    rows, cls, flat = rows[order], cls[order], flat[order]
    first = np.r_[True, (rows[1:] != rows[:-1]) | (cls[1:] != cls[:-1])]
    position = np.arange(len(rows))
    rank = position - np.maximum.accumulate(np.where(first, position, 0))
    use = rank < need[cls]
    total = np.zeros((q, len(counts)))
    found = np.zeros((q, len(counts)))
    np.add.at(total, (rows[use], cls[use]), flat[use])
    np.add.at(found, (rows[use], cls[use]), 1.0)
    valid = ids >= 0
    last = np.where(valid.any(1), sims[np.arange(q), np.maximum(valid.sum(1) - 1, 0)], -1.0)
    padded = (total + (need[None, :] - found) * last[:, None]) / np.maximum(need[None, :], 1)
    return np.where(found > 0, padded, OUT_OF_RUNNING)
