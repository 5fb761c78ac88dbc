"""Leave-one-out check of a builder's classes: accuracy per class and a confusion matrix.

Every sample is classified by all the *other* samples, as the builder would
classify it if it were a new photo: its nearest other example decides (the
builder's classes score by their nearest example). Each mistake names that
nearest example — the one to blame, and the one to remove when it is a bad
example. Below the unknown threshold a sample's answer is ``"unknown"``.

Example
-------
>>> import numpy as np
>>> emb = np.array([[1, 0], [1, .1], [0, 1], [.1, 1], [.9, .2]], float)
>>> result = leave_one_out(emb, ["a", "a", "b", "b", "b"], classes=["a", "b"])
>>> result.matrix.tolist()
[[2, 0], [1, 2]]
>>> result.per_class
{'a': 1.0, 'b': 0.667}
>>> result.cells[("b", "a")]      # b's third sample: its nearest other example is a's second
[CheckedSample(position=2, nearest_class='a', nearest_position=1, similarity=0.993)]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..similarity import l2_normalize

__all__ = ["leave_one_out", "CheckResult", "CheckedSample", "UNKNOWN"]

#: The builder's answer when the best similarity is below the threshold.
UNKNOWN = "unknown"
_CHUNK = 512  # queries per block: memory is _CHUNK x n similarities


@dataclass(frozen=True)
class CheckedSample:
    """A sample of a cell: its position in its class and the example that answered for it."""

    position: int
    nearest_class: str
    nearest_position: int
    similarity: float


@dataclass
class CheckResult:
    """What :func:`leave_one_out` found.

    ``rows`` — the classes checked (those with at least 2 samples), ``columns``
    — the answers (every class with samples, then ``"unknown"`` when a
    threshold is set); ``matrix[i, j]`` counts samples of ``rows[i]`` answered
    ``columns[j]``; ``cells[(row, column)]`` lists those samples as
    :class:`CheckedSample` records (right answers included); ``skipped`` — classes
    with fewer than 2 samples, which cannot be checked.
    """

    rows: list
    columns: list
    matrix: np.ndarray
    cells: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)

    @property
    def per_class(self) -> dict:
        """Share of each checked class's samples answered right (3 decimals)."""
        out = {}
        for i, name in enumerate(self.rows):
            right = self.matrix[i, self.columns.index(name)]
            out[name] = round(float(right / max(self.matrix[i].sum(), 1)), 3)
        return out

    @property
    def accuracy(self) -> float:
        """Share of all checked samples answered right."""
        right = sum(self.matrix[i, self.columns.index(name)] for i, name in enumerate(self.rows))
        return float(right / max(self.matrix.sum(), 1))

    def mistakes(self):
        """``(true class, answer, CheckedSample)`` for every wrong answer."""
        return [(row, column, m) for (row, column), items in self.cells.items()
                if row != column for m in items]

    def __str__(self):
        lines = [f"leave-one-out accuracy {self.accuracy:.0%} on {int(self.matrix.sum())} "
                 f"samples"]
        lines += [f"  {name}: {acc:.0%}" for name, acc in self.per_class.items()]
        if self.skipped:
            lines.append("not checked (fewer than 2 samples): " + ", ".join(self.skipped))
        return "\n".join(lines)


def leave_one_out(embeddings, labels, *, classes, threshold=None) -> CheckResult:
    """Classify every sample by its nearest *other* sample; see the module docstring.

    ``embeddings`` ``(n, dim)`` and ``labels`` ``(n,)`` are the samples,
    ``classes`` the class order; a sample's position is its rank among the
    samples of its class, in order.
    """
    unit = l2_normalize(np.asarray(embeddings, np.float32))
    labels = np.asarray(labels, dtype=object)
    present = [c for c in classes if np.any(labels == c)]
    rows = [c for c in present if np.sum(labels == c) >= 2]
    columns = present + ([UNKNOWN] if threshold is not None else [])
    position = np.zeros(len(labels), int)
    for c in present:
        position[labels == c] = np.arange(np.sum(labels == c))
    queries = np.flatnonzero(np.isin(labels, rows))
    matrix = np.zeros((len(rows), len(columns)), int)
    cells: dict = {}
    for start in range(0, len(queries), _CHUNK):
        block = queries[start:start + _CHUNK]
        sims = unit[block] @ unit.T
        sims[np.arange(len(block)), block] = -np.inf   # leave the sample itself out
        nearest = np.argmax(sims, axis=1)
        for i, j, best in zip(block, nearest, sims[np.arange(len(block)), nearest]):
            answer = labels[j] if threshold is None or best >= threshold else UNKNOWN
            matrix[rows.index(labels[i]), columns.index(answer)] += 1
            cells.setdefault((labels[i], answer), []).append(CheckedSample(
                int(position[i]), labels[j], int(position[j]), round(float(best), 3)))
    skipped = [c for c in classes if c not in rows]
    return CheckResult(rows, columns, matrix, cells, skipped)
