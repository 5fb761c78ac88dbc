"""Wrong answers learners really write for notebook 08 (see ``battery.py``).

The query fan-out (``nb08_scale.q1``): every shard's top ``k`` merged into the global top ``k``.
"""

from __future__ import annotations

import numpy as np

from battery import mistake as m


def _merge(*, offset=True, descending=True, reorder_ids=True, keep_sorted=True, shards=None):
    """A merge written with one step done wrong (each keyword names the step)."""
    def merge_shards(shard_sims, shard_ids, offsets, k):
        chosen = range(len(shard_sims)) if shards is None else shards
        sims = np.concatenate([shard_sims[s] for s in chosen], axis=1)
        ids = np.concatenate([shard_ids[s] + (offsets[s] if offset else 0) for s in chosen],
                             axis=1)
        if not keep_sorted:
            return sims[:, :k], ids[:, :k]
        order = np.argsort(-sims if descending else sims, axis=1)[:, :k]
        best_ids = np.take_along_axis(ids, order, 1) if reorder_ids else ids[:, :k]
        return np.take_along_axis(sims, order, 1), best_ids
    return merge_shards


def _reversed_order(shard_sims, shard_ids, offsets, k):
    sims, ids = _merge()(shard_sims, shard_ids, offsets, k)
    return sims[:, ::-1], ids[:, ::-1]


def _partition(shard_sims, shard_ids, offsets, k):
    """A right merge written with ``argpartition`` then a sort of the k kept."""
    sims = np.hstack(shard_sims)
    ids = np.hstack([i + o for i, o in zip(shard_ids, offsets)])
    keep = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    sims, ids = np.take_along_axis(sims, keep, 1), np.take_along_axis(ids, keep, 1)
    order = np.argsort(-sims, axis=1)
    return np.take_along_axis(sims, order, 1), np.take_along_axis(ids, order, 1)


BATTERY = {
    "nb08_scale.q1": [
        m("ids left shard-local", "shard-local", _merge(offset=False)),
        m("smallest similarities first", "global best", _merge(descending=False)),
        m("best last", "wrong order", _reversed_order),
        m("ids not reordered with the similarities", "do not follow",
          _merge(reorder_ids=False)),
        m("first k candidates, no sort", "global best", _merge(keep_sorted=False)),
        m("the first shard only", "global best", _merge(shards=[0])),
    ],
}
RIGHT = {"nb08_scale.q1": [("solution", None, None),
                           ("argpartition, then sort", None, (_partition,))]}
CONTEXTS: dict = {}
DETERMINISTIC: set = set()
