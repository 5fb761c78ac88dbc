"""Exercises for notebook 08, *when one machine is not enough*.

``q1`` the query fan-out: an index split into shards (one per machine) answers a
query by asking every shard for its top ``k`` and merging the answers into the
global top ``k`` — the step that lets 10^8 embeddings live on many machines.

>>> import numpy as np
>>> sims = [np.array([[0.9, 0.2]]), np.array([[0.5, 0.4]])]
>>> ids = [np.array([[3, 0]]), np.array([[1, 2]])]
>>> reference_merge(sims, ids, [0, 10], 2)
(array([[0.9, 0.5]]), array([[ 3, 11]]))
"""

from __future__ import annotations

import numpy as np

from ._core import Question, Wrong

__all__ = ["q1", "reference_merge", "shard_case"]


def reference_merge(shard_sims, shard_ids, offsets, k):
    """Global top ``k`` from per-shard top lists: ids made global, best first."""
    sims = np.concatenate([np.asarray(s, np.float64) for s in shard_sims], axis=1)
    ids = np.concatenate([np.asarray(i) + o for i, o in zip(shard_ids, offsets)], axis=1)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, order, 1), np.take_along_axis(ids, order, 1)


def shard_case(rng, *, queries=4, dim=8, k=5):
    """A random index in 2-4 shards and each shard's own top ``k`` (ids local to it)."""
    sizes = rng.integers(k, 4 * k, int(rng.integers(2, 5)))
    index = rng.normal(size=(int(sizes.sum()), dim))
    q = rng.normal(size=(queries, dim))
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    shard_sims, shard_ids = [], []
    for start, size in zip(offsets, sizes):
        sims = q @ index[start:start + size].T
        top = np.argsort(-sims, axis=1)[:, :k]
        shard_sims.append(np.take_along_axis(sims, top, 1))
        shard_ids.append(top)
    return shard_sims, shard_ids, offsets.tolist(), q @ index.T


class MergeShards(Question):
    _var = "merge_shards"
    _title = "Query fan-out: merge the shards' answers"
    _hints = [
        "Put every shard's candidates side by side (`np.concatenate(..., axis=1)`): the "
        "global top k is among them, because each shard sent its own best k.",
        "A shard numbers its rows from 0. Shard `s` starts at global row `offsets[s]`: add "
        "it to that shard's ids *before* merging.",
        "Then sort each query's row by similarity, largest first (`np.argsort(-sims, "
        "axis=1)`), keep the first k columns, and pick the ids with the same order "
        "(`np.take_along_axis`).",
    ]
    _solution = ("Every shard returns its own top k, so the global top k is among the "
                 "S·k candidates: concatenate, make the ids global with each shard's "
                 "offset, and keep the k best per query. Each machine sends k results per "
                 "query whatever its size, which is why fan-out scales.")
    solution_code = '''\
import numpy as np

def merge_shards(shard_sims, shard_ids, offsets, k):
    sims = np.concatenate(shard_sims, axis=1)
    ids = np.concatenate([ids + offset for ids, offset in zip(shard_ids, offsets)], axis=1)
    order = np.argsort(-sims, axis=1)[:, :k]
    return np.take_along_axis(sims, order, axis=1), np.take_along_axis(ids, order, axis=1)
'''

    def _check(self, merge_shards):
        rng = np.random.default_rng(self.seed)
        for k in (int(rng.integers(3, 7)), 1):
            shard_sims, shard_ids, offsets, full = shard_case(rng, k=k)
            got = self.call(merge_shards, [s.copy() for s in shard_sims],
                            [i.copy() for i in shard_ids], list(offsets), k,
                            what="merge_shards(...)")
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                raise Wrong("return two arrays: `(similarities, ids)`, each of shape "
                            "(queries, k).")
            sims = self.as_array(got[0], "the similarities")
            ids = np.asarray(got[1])
            want_sims, want_ids = reference_merge(shard_sims, shard_ids, offsets, k)
            if sims.shape != want_sims.shape or ids.shape != want_ids.shape:
                raise Wrong(f"with {len(offsets)} shards, k={k} and {len(full)} queries both "
                            f"arrays should have shape {want_sims.shape}; got {sims.shape} "
                            f"and {ids.shape} (keep only the best k of all shards).")
            self._diagnose(sims, ids, want_sims, want_ids, offsets)

    @staticmethod
    def _diagnose(sims, ids, want_sims, want_ids, offsets):
        if np.allclose(sims, want_sims, atol=1e-9):
            if np.array_equal(ids, want_ids):
                return
            if np.array_equal(ids, want_ids - _offsets_of(want_ids, offsets)):
                raise Wrong("the ids are still shard-local: add each shard's offset (its "
                            "first global row) to its ids.")
            raise Wrong("the similarities are right but the ids do not follow them: reorder "
                        "the ids in the same order as the similarities.")
        if np.allclose(np.sort(sims, 1), np.sort(want_sims, 1), atol=1e-9):
            raise Wrong("the right neighbours in the wrong order: best (largest "
                        "similarity) first.")
        if (sims.min(axis=1) < want_sims[:, -1] - 1e-9).any():
            raise Wrong("some of your neighbours are not among the global best k: take the "
                        "largest similarities over all shards together.")
        raise Wrong("not the global top k: concatenate every shard's answers, then keep "
                    "each query's k largest similarities.")


def _offsets_of(global_ids, offsets):
    """Each global id's shard offset (the start of the shard that holds it)."""
    starts = np.asarray(offsets)
    return starts[np.searchsorted(starts, global_ids, side="right") - 1]


q1 = MergeShards()
