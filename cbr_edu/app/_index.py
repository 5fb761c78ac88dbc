"""The builder's live index: rows appended in O(1), each class scored by its nearest row.

The same Classification-by-Retrieval as the exported model — cosine similarity
to every indexed example (the rows are L2-normalised), then the best score per
class — kept in a numpy array with room to spare (doubled when full), so adding
a photo writes one row and rebuilds nothing. Renaming a class renames it;
removing rows re-packs the array (rare).

Example
-------
>>> import numpy as np
>>> index = LiveIndex()
>>> index.append(np.array([[1.0, 0.0], [0.8, 0.6]]), "sun")
>>> index.append(np.array([[0.0, 1.0]]), "moon")
>>> sims = index.similarities(np.array([0.6, 0.8]))
>>> index.best_per_class(sims), index.where(int(np.argmax(sims)))
({'sun': 0.96, 'moon': 0.8}, ('sun', 1))
"""

from __future__ import annotations

import numpy as np

from ..similarity import l2_normalize

__all__ = ["LiveIndex"]


class LiveIndex:
    """L2-normalised rows with a class id each; class names in order of first use."""

    def __init__(self):
        self._vectors = None                  # (capacity, dim) float32
        self._ids = np.zeros(0, np.int32)     # (capacity,) class id of each row
        self.names: list = []                 # class id -> name
        self.size = 0

    def append(self, vectors, name):
        """Add rows of class ``name``: written into spare room (doubled when full)."""
        vectors = l2_normalize(np.asarray(vectors, np.float32)).astype(np.float32)
        if len(vectors) == 0:
            return
        if name not in self.names:
            self.names.append(name)
        end = self.size + len(vectors)
        if self._vectors is None or end > len(self._vectors):
            self._grow(max(end, 2 * self.size, 16), vectors.shape[1])
        self._vectors[self.size:end] = vectors
        self._ids[self.size:end] = self.names.index(name)
        self.size = end

    def _grow(self, capacity, dim):
        vectors = np.zeros((capacity, dim), np.float32)
        ids = np.zeros(capacity, np.int32)
        if self._vectors is not None:
            vectors[:self.size] = self._vectors[:self.size]
            ids[:self.size] = self._ids[:self.size]
        self._vectors, self._ids = vectors, ids

    def reset(self, vectors, labels):
        """All rows anew (after removals): ``vectors`` with one class name each."""
        self.__init__()
        for name in dict.fromkeys(labels):
            self.append(np.asarray(vectors)[[label == name for label in labels]], name)

    def rename(self, old, new):
        if old in self.names:
            self.names[self.names.index(old)] = new

    def similarities(self, query) -> np.ndarray:
        """Cosine similarity of one embedding to every row."""
        query = l2_normalize(np.asarray(query, np.float32).reshape(1, -1))[0]
        return self._vectors[:self.size] @ query

    def best_per_class(self, similarities) -> dict:
        """Each class's best similarity (its nearest row), rounded to 6 decimals."""
        best = np.full(len(self.names), -np.inf, np.float32)
        np.maximum.at(best, self._ids[:self.size], similarities)
        return {name: round(float(best[i]), 6) for i, name in enumerate(self.names)
                if np.isfinite(best[i])}

    def where(self, row) -> tuple:
        """``(class name, position among the class's rows)`` of a row."""
        class_id = self._ids[row]
        return self.names[class_id], int(np.count_nonzero(self._ids[:row] == class_id))
