"""Exact CbR against FAISS, side by side in one run, on synthetic clustered embeddings.

For each index size N, every method is built on the same rows and asked the same
queries; reported per method:

* ``agreement`` — share of queries whose class decision equals exact CbR's
  (``max`` aggregation: the class of the true nearest neighbour, numpy float64);
* ``b1_ms`` / ``b256_ms`` — median latency of one query / a batch of 256,
  measured round-robin so machine noise hits every method alike;
* ``build_s`` — building the index (exact: exporting the ``.tflite``; FAISS:
  training and adding);
* ``bytes`` — the index's size (exact: the ``.tflite`` file; FAISS: the
  serialised index, codes, lists and graph included).

The methods: exact CbR as the exported ``.tflite`` run by LiteRT, float32 and
int8 retrieval weights; and ``CbRClassifier``'s FAISS path
(:class:`~cbr_edu.scale.faiss_index.NeighbourSearch`, top 100 neighbours) over
``Flat`` (exact inner product), ``IVF<L>,Flat``, ``IVF<L>,PQ<D/4>`` and
``HNSW32``, with ``L`` ≈ 4·√N lists. ``benchmarks/bench_large_index.py`` is the
command line; notebook 08 runs small sizes.

Example
-------
>>> rows = compare_indexes([2000], dim=16, queries=64, methods=["exact int8", "Flat"],
...                        rounds=2, report=None)
>>> [(r["method"], r["agreement"]) for r in rows]
[('exact int8', 1.0), ('faiss Flat', 1.0)]
"""

from __future__ import annotations

import os
import re
import tempfile
import time

import numpy as np

from .synthetic import clustered_embeddings

__all__ = ["compare_indexes", "ivf_lists", "method_factories", "METHODS", "plot_indexes"]

#: method names understood by :func:`compare_indexes` (IVF sizes follow N)
METHODS = ("exact float32", "exact int8", "Flat", "IVF,Flat", "IVF,PQ", "HNSW32")


def ivf_lists(n: int) -> int:
    """IVF lists for N rows: the power of two nearest 4·√N, at most N/39 (FAISS's minimum).

    >>> [ivf_lists(n) for n in (10_000, 100_000, 1_000_000)]
    [256, 1024, 4096]
    """
    lists = 2 ** int(round(np.log2(4 * np.sqrt(n))))
    while lists > 1 and lists * 39 > n:
        lists //= 2
    return lists


def method_factories(n: int, dim: int, methods=METHODS) -> dict:
    """Display name -> FAISS factory string (None for the exact methods).

    >>> method_factories(100_000, 256, ["IVF,PQ", "exact int8"])
    {'faiss IVF1024,PQ64': 'IVF1024,PQ64', 'exact int8': None}
    """
    out = {}
    for method in methods:
        if method.startswith("exact"):
            out[method] = None
            continue
        factory = (method.replace("IVF,", f"IVF{ivf_lists(n)},")
                   .replace(",PQ", f",PQ{max(1, dim // 4)}") if method.startswith("IVF")
                   else method)
        out[f"faiss {factory}"] = factory
    return out


def _exact_decisions(index, labels, queries, chunk=256):
    """The reference: class of the true nearest neighbour (float64 products)."""
    out = np.empty(len(queries), labels.dtype)
    weights = index.T.astype(np.float64)
    for start in range(0, len(queries), chunk):
        sims = queries[start:start + chunk].astype(np.float64) @ weights
        out[start:start + chunk] = labels[np.argmax(sims, axis=1)]
    return out


class _Exact:
    """An exported CbR ``.tflite`` (float32 or int8 weights) run by LiteRT."""

    def __init__(self, index, labels, folder, quantize):
        from ..model import build_cbr_model
        from ..tflite import LiteRTClassifier, export_tflite
        start = time.perf_counter()
        model = build_cbr_model(index, labels)
        path = os.path.join(folder, f"exact-{quantize or 'float32'}.tflite")
        result = export_tflite(model, path, quantize=quantize, labels_file=False, overwrite=True)
        self.build_s = time.perf_counter() - start
        self.bytes = result.bytes
        self.classes = np.unique(labels)
        self._runner, self._batch = None, None
        self._path, self._open = path, LiteRTClassifier

    def scores(self, queries):
        # one interpreter sized for this batch (no re-allocation while timed); the old one
        # goes first: at N = 10^6 a batch of 256 needs gigabytes of scratch
        if self._batch != len(queries):
            self._runner = None
            self._runner, self._batch = self._open(self._path), len(queries)
        return self._runner.scores(queries, batch_size=len(queries))

    def decide(self, queries):
        return self.classes[np.argmax(self.scores(queries), axis=1)]


class _Faiss:
    """``CbRClassifier``'s FAISS path: top neighbours, then max over each class's."""

    def __init__(self, index, labels, factory):
        from .faiss_index import FaissIndex
        self.classes = np.unique(labels)
        start = time.perf_counter()
        self.search = FaissIndex(factory).build(index, np.searchsorted(self.classes, labels),
                                               len(self.classes))
        self.build_s = time.perf_counter() - start
        self.bytes = self.search.nbytes

    def scores(self, queries):
        return self.search.class_scores(queries, aggregation="max")

    def decide(self, queries):
        return self.classes[np.argmax(self.scores(queries), axis=1)]


def _median_ms(contenders, batch, rounds):
    """Median milliseconds per call, each round running every contender once."""
    for run in contenders.values():
        run(batch)  # warm-up
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run(batch)
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * float(np.median(t)) for name, t in times.items()}


def _build(data, methods, folder, report):
    built = {}
    for name, factory in method_factories(len(data.index), data.index.shape[1], methods).items():
        if factory is None:
            built[name] = _Exact(data.index, data.labels, folder,
                                 "int8" if "int8" in name else None)
        else:
            built[name] = _Faiss(data.index, data.labels, factory)
        if report:
            report(f"  built {name} in {built[name].build_s:.1f} s "
                   f"({built[name].bytes / 1e6:.1f} MB)")
    return built


def _one_size(n, *, dim, per_class, queries, methods, rounds, seed, report):
    data = clustered_embeddings(n, dim=dim, per_class=per_class, queries=queries, seed=seed)
    reference = _exact_decisions(data.index, data.labels, data.queries)
    with tempfile.TemporaryDirectory(prefix="cbr-edu-compare-") as folder:
        built = _build(data, methods, folder, report)
        calls = {name: method.scores for name, method in built.items()}
        b1 = _median_ms(calls, data.queries[:1], rounds * 10)
        b256 = _median_ms(calls, data.queries[:256], rounds)
        rows = []
        for name, method in built.items():
            decided = np.concatenate([method.decide(data.queries[s:s + 256])
                                      for s in range(0, len(data.queries), 256)])
            rows.append({"n": n, "dim": dim, "classes": n // per_class, "method": name,
                         "agreement": float(np.mean(decided == reference)),
                         "b1_ms": b1[name], "b256_ms": b256[name],
                         "build_s": method.build_s, "bytes": int(method.bytes)})
    if report:
        accuracy = float(np.mean(reference == data.query_labels))
        report(f"  exact CbR accuracy on the queries: {accuracy:.3f}")
    return rows


def compare_indexes(sizes, *, dim=256, per_class=20, queries=1000, methods=METHODS, rounds=5,
                    seed=0, report=print) -> list:
    """Measure every method at every N in ``sizes``; one dict per (N, method)."""
    rows = []
    for n in sizes:
        if report:
            report(f"N={n:,} D={dim}, {n // per_class:,} classes, {queries} queries")
        rows += _one_size(int(n), dim=dim, per_class=per_class, queries=queries,
                          methods=methods, rounds=rounds, seed=seed, report=report)
    return rows


def _family(method: str) -> str:
    """``"faiss IVF1024,PQ64"`` -> ``"faiss IVF,PQ"``: one line per kind across sizes."""
    return re.sub(r"(IVF|PQ)\d+", r"\1", method)


def plot_indexes(rows, *, title=None):
    """Agreement, latency (b=1 and b=256) and memory against N, one line per method."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    panels = [("agreement", "decisions = exact CbR", False), ("b1_ms", "ms, batch 1", True),
              ("b256_ms", "ms, batch 256", True), ("bytes", "index MB", True)]
    families = list(dict.fromkeys(_family(r["method"]) for r in rows))
    for ax, (key, label, log) in zip(axes, panels):
        for method in families:
            mine = sorted((r["n"], r[key]) for r in rows if _family(r["method"]) == method)
            xs, ys = zip(*mine)
            ys = np.array(ys) / (1e6 if key == "bytes" else 1)
            ax.plot(xs, ys, marker="o", label=method)
        ax.set_xscale("log")
        ax.set_yscale("log" if log else "linear")
        ax.set_xlabel("N (index rows)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
