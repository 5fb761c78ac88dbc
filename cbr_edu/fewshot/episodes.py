"""The episode sampler: seeded N-way K-shot tasks drawn from a labelled set.

An **episode** picks ``ways`` classes, then ``shots`` support and ``queries`` query
images per class (never the same image in both). Episode ``i`` depends only on
``(seed, i)``, so the same seed gives the same episodes (and the same numbers), and
the first 100 episodes of a 600-episode run are those of a 100-episode run. Every
few-shot measurement here — closed set (:mod:`.closed_set`) and open set
(:mod:`.open_set`) — draws its tasks from :func:`sample_episodes`.

Example
-------
>>> ep = sample_episodes(["a", "a", "b", "b", "c", "c"], ways=2, shots=1, queries=1,
...                      episodes=1, seed=0)[0]
>>> len(ep.classes), len(ep.support), len(ep.query)
(2, 2, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Episode", "sample_episodes", "auto_queries", "class_members"]


@dataclass(frozen=True)
class Episode:
    """One N-way K-shot task: row indices into the data set, and its classes.

    ``classes`` — the episode's ``ways`` labels, sorted; ``support`` — ``shots`` rows
    of each class, class by class in ``classes`` order; ``query`` — ``queries`` other
    rows of each class, in the same order. Index the labels with them
    (``labels[episode.support]``) for the rows' labels.
    """

    classes: np.ndarray
    support: np.ndarray
    query: np.ndarray


def class_members(labels):
    """``{label: row indices}`` of a 1-D label array, labels sorted.

    >>> {str(c): rows.tolist() for c, rows in class_members(["b", "a", "b"]).items()}
    {'a': [1], 'b': [0, 2]}
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    return {c: np.flatnonzero(labels == c) for c in np.unique(labels)}


def auto_queries(labels, *, ways, shots, cap=15):
    """The largest Q ≤ ``cap`` such that ``ways`` classes have ``shots + Q`` images.

    ``shots`` may be a list: the largest counts.

    >>> auto_queries([0] * 7 + [1] * 7 + [2] * 3, ways=2, shots=5)
    2
    """
    counts = sorted((len(v) for v in class_members(labels).values()), reverse=True)
    if len(counts) < ways:
        raise ValueError(f"{ways}-way episodes need {ways} classes; there are {len(counts)}")
    most = int(max(np.atleast_1d(shots)))
    q = min(cap, counts[ways - 1] - most)
    if q < 1:
        raise ValueError(f"{ways}-way {most}-shot episodes need {ways} classes with at "
                         f"least {most + 1} images; the class sizes are {counts}")
    return int(q)


def sample_episodes(labels, *, ways, shots, queries, episodes, seed=0, start=0):
    """``episodes`` seeded N-way K-shot episodes over ``labels``.

    Only classes with at least ``shots + queries`` images take part. Per episode:
    ``ways`` classes without replacement, then per class a random permutation of its
    images — the first ``shots`` are support, the next ``queries`` are queries, so
    support and query never overlap and every class has exactly ``shots`` and
    ``queries`` images. Episode ``i`` uses ``numpy.random.default_rng([seed, i])``;
    the episodes returned are ``i = start, …, start + episodes - 1`` (a later
    ``start`` gives further, independent episodes with the same seed).

    Example
    -------
    >>> eps = sample_episodes([0, 0, 0, 1, 1, 1, 2, 2, 2], ways=2, shots=1, queries=2,
    ...                       episodes=3, seed=0)
    >>> len(eps), len(eps[0].support), len(eps[0].query)
    (3, 2, 4)
    """
    for what, v, low in (("ways", ways, 2), ("shots", shots, 1), ("queries", queries, 1),
                         ("episodes", episodes, 1), ("start", start, 0)):
        if int(v) != v or v < low:
            raise ValueError(f"{what} must be an integer >= {low}, got {v!r}")
    members = class_members(labels)
    eligible = [c for c, rows in members.items() if len(rows) >= shots + queries]
    if len(eligible) < ways:
        sizes = {str(c): len(rows) for c, rows in members.items()}
        raise ValueError(
            f"{ways}-way {shots}-shot episodes with {queries} queries need {ways} classes "
            f"with at least {shots + queries} images each; only {len(eligible)} have that "
            f"(class sizes: {sizes}). Use fewer ways, shots or queries.")
    eligible = np.array(eligible)
    out = []
    for i in range(int(start), int(start) + int(episodes)):
        rng = np.random.default_rng([int(seed), i])
        chosen = np.sort(rng.choice(eligible, size=ways, replace=False))
        support, query = [], []
        for c in chosen:
            perm = rng.permutation(members[c])
            support.append(perm[:shots])
            query.append(perm[shots:shots + queries])
        out.append(Episode(chosen, np.concatenate(support), np.concatenate(query)))
    return out
