"""Synthetic clustered embeddings: a stand-in for a big collection, made in seconds.

Real collections are lumpy: classes gather in topics (paintings, coins, ships)
whose members look alike. So: ``topics`` random directions; each class a point
near its topic; each example (and each query, a new example of a random class)
a point near its class; everything on the unit sphere, ``float32``, like
normalised embeddings. The spreads are chosen so that exact nearest-neighbour
classification is right most of the time but not always — approximate
indexes then have near ties to get wrong, as in real data.

Example
-------
>>> data = clustered_embeddings(1000, dim=32, per_class=10, queries=50)
>>> data.index.shape, data.labels.max() + 1, data.queries.shape
((1000, 32), np.int64(100), (50, 32))
>>> bool(np.allclose(np.linalg.norm(data.index, axis=1), 1, atol=1e-5))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Clustered", "clustered_embeddings"]

TOPIC_SPREAD = 0.45  # how far a class lies from its topic (the topic is a unit vector)
CLASS_SPREAD = 1.0   # how far an example lies from its class
_CHUNK = 65_536


@dataclass
class Clustered:
    """Index rows with their class, and queries with their true class."""

    index: np.ndarray
    labels: np.ndarray
    queries: np.ndarray
    query_labels: np.ndarray


def _unit(x):
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _around(centres, which, spread, rng):
    """Unit points near ``centres[which]``, made in chunks (no big float64 temporaries)."""
    dim = centres.shape[1]
    out = np.empty((len(which), dim), np.float32)
    for start in range(0, len(which), _CHUNK):
        rows = which[start:start + _CHUNK]
        noise = rng.standard_normal((len(rows), dim), dtype=np.float32)
        noise *= spread / np.sqrt(dim)
        noise += centres[rows]
        out[start:start + len(rows)] = _unit(noise)
    return out


def clustered_embeddings(n, *, dim=256, per_class=20, queries=1000, seed=0) -> Clustered:
    """``n`` index rows in ``n // per_class`` classes grouped in √classes topics, and queries."""
    if n < 2 * per_class:
        raise ValueError(f"n={n} makes fewer than 2 classes of {per_class}; use a larger n")
    rng = np.random.default_rng(seed)
    classes = n // per_class
    topics = max(2, int(round(np.sqrt(classes))))
    topic_of = rng.integers(0, topics, classes)
    topic_centres = _unit(rng.standard_normal((topics, dim), dtype=np.float32))
    class_centres = _around(topic_centres, topic_of, TOPIC_SPREAD, rng)
    labels = rng.permutation(np.arange(n) % classes)
    query_labels = rng.integers(0, classes, queries)
    return Clustered(index=_around(class_centres, labels, CLASS_SPREAD, rng), labels=labels,
                     queries=_around(class_centres, query_labels, CLASS_SPREAD, rng),
                     query_labels=query_labels)
