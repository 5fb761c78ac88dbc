"""The methods that train nothing — CbR, kNN, prototypes — and the comparison's line-up.

==========================  ==================================================  =========
method                      what it does                                         training
==========================  ==================================================  =========
``CbR`` (max/mean/topk)     cosine to every example, reduce per class            none
``KNN`` (k = 1, 3, 5)       scikit-learn ``KNeighborsClassifier(metric="cosine")`` none
``Prototypes`` UN/L2N/CL2N  nearest class mean after a feature transform         none
``LinearProbe``             softmax ``Dense`` layer on frozen embeddings         backprop
``FineTunedTop``            the embedder's top block + a head, with augmentation backprop
==========================  ==================================================  =========

The two that train live in :mod:`cbr_edu.fewshot.finetune`; all of them implement
:class:`~cbr_edu.fewshot.interface.FewShotMethod`.

Example
-------
>>> X = np.array([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0], [0.1, 0.8]])
>>> y = np.array([0, 0, 1, 1])
>>> [m.fit(X, y).predict(np.array([[0.2, 1.0]])).tolist() for m in default_methods()[:3]]
[[1], [1], [1]]
"""

from __future__ import annotations

import numpy as np

from ..similarity import l2_normalize
from .finetune import FineTunedTop, LinearProbe
from .interface import BaseMethod

__all__ = ["CbR", "KNN", "Prototypes", "default_methods"]


class CbR(BaseMethod):
    """Classification-by-Retrieval: a few-shot adapter over one :class:`~cbr_edu.CbRClassifier`.

    Every ``fit`` re-fits the same classifier on the episode's support set (the
    index); nothing is trained. Scores are cosine similarities aggregated per class.
    ``size_bytes`` is what the classifier stores: the index and one int32 class id
    per index row.

    Parameters
    ----------
    aggregation : {"max", "mean", "topk_mean"}
    k : int — instances averaged by ``"topk_mean"``.

    Example
    -------
    >>> m = CbR("max").fit(np.eye(3), [0, 1, 1])
    >>> m.predict(np.array([[0.0, 0.2, 1.0]])).tolist()
    [1]
    """

    def __init__(self, aggregation="max", *, k=3, name=None):
        self.aggregation = aggregation
        self.k = k
        self.name = name or {"max": "CbR max", "mean": "CbR mean",
                             "topk_mean": f"CbR top-{k} mean"}.get(aggregation,
                                                                   f"CbR {aggregation}")
        self.classifier_ = None

    def fit(self, support_embeddings, support_labels, **_):
        X, y = self._check(support_embeddings, support_labels)
        if self.classifier_ is None:
            from ..classifier import CbRClassifier
            self.classifier_ = CbRClassifier(aggregation=self.aggregation, k=self.k)
        self.classifier_.fit(X, y)
        return self

    def decision_function(self, query_embeddings, **_):
        return self.classifier_.class_scores(self._check(query_embeddings))

    def size_bytes(self):
        index = self.classifier_.index_embeddings_
        return int(index.nbytes + len(index) * np.dtype(np.int32).itemsize)


class KNN(BaseMethod):
    """k nearest neighbours, cosine distance (scikit-learn ``KNeighborsClassifier``).

    ``k`` is capped at the support size. ``weights="distance"`` (default) lets the
    nearer neighbours count more, so a vote can never tie — with ``"uniform"`` and
    k > shots, 1-shot kNN is mostly ties (try it: it is a lesson in itself).

    Example
    -------
    >>> KNN(1).fit(np.eye(2), ["a", "b"]).predict(np.array([[0.9, 0.1]])).tolist()
    ['a']
    """

    def __init__(self, k=1, *, weights="distance", name=None):
        self.k = k
        self.weights = weights
        self.name = name or f"kNN k={k}"

    def fit(self, support_embeddings, support_labels, **_):
        from sklearn.neighbors import KNeighborsClassifier
        X, y = self._check(support_embeddings, support_labels)
        self.knn_ = KNeighborsClassifier(n_neighbors=min(self.k, len(X)), metric="cosine",
                                         weights=self.weights, algorithm="brute")
        self.knn_.fit(X, self._y_idx)
        return self

    def decision_function(self, query_embeddings, **_):
        X = self._check(query_embeddings)
        proba = np.zeros((len(X), len(self.classes_)), np.float32)
        proba[:, self.knn_.classes_] = self.knn_.predict_proba(X)
        return proba

    def size_bytes(self):
        return int(self.knn_._fit_X.nbytes)


class Prototypes(BaseMethod):
    """Nearest class mean after a SimpleShot feature transform (Wang et al. 2019).

    ``UN``: unchanged; ``L2N``: L2-normalise; ``CL2N``: subtract a mean, then
    L2-normalise. The mean is the support set's (default) or ``base_mean`` — the
    mean of a larger *base* set, as in the paper. Distances are Euclidean; scores
    are negative distances.

    Example
    -------
    >>> X = np.array([[10.0, 1.0], [10.0, -1.0]])          # a big shared offset
    >>> Prototypes("CL2N").fit(X, [0, 1]).predict(np.array([[12.0, 0.5]])).tolist()
    [0]
    """

    TRANSFORMS = ("UN", "L2N", "CL2N")

    def __init__(self, transform="CL2N", *, base_mean=None, name=None):
        self.transform = transform
        self.base_mean = base_mean
        self.name = name or f"prototypes {transform}"

    def _transform(self, X):
        if self.transform == "UN":
            return X
        if self.transform == "CL2N":
            X = X - self.mean_
        return l2_normalize(X).astype(np.float32)

    def fit(self, support_embeddings, support_labels, **_):
        if self.transform not in self.TRANSFORMS:
            raise ValueError(f"unknown transform {self.transform!r}; choose {self.TRANSFORMS}")
        X, _y = self._check(support_embeddings, support_labels)
        if self.base_mean is not None:
            self.mean_ = np.asarray(self.base_mean, np.float32).reshape(-1)
            if self.mean_.shape != (X.shape[1],):
                raise ValueError(f"base_mean has shape {self.mean_.shape}, expected "
                                 f"({X.shape[1]},)")
        else:
            self.mean_ = X.mean(axis=0)
        Z = self._transform(X)
        self.prototypes_ = np.stack([Z[self._y_idx == c].mean(axis=0)
                                     for c in range(len(self.classes_))]).astype(np.float32)
        return self

    def decision_function(self, query_embeddings, **_):
        Z = self._transform(self._check(query_embeddings))
        d2 = ((Z ** 2).sum(1)[:, None] - 2 * Z @ self.prototypes_.T
              + (self.prototypes_ ** 2).sum(1)[None, :])
        return -np.sqrt(np.maximum(d2, 0)).astype(np.float32)

    def size_bytes(self):
        extra = self.mean_.nbytes if self.transform == "CL2N" else 0
        return int(self.prototypes_.nbytes + extra)


def default_methods(*, linear_probe=True, finetune_top=False, embedder=None, base_mean=None):
    """The comparison's line-up: CbR ×3, kNN ×3, prototypes ×3, the linear probe.

    ``finetune_top`` adds :class:`~cbr_edu.fewshot.finetune.FineTunedTop` on
    ``embedder`` (slow: it runs the images through the network).

    Example
    -------
    >>> [m.name for m in default_methods(linear_probe=False)][:4]
    ['CbR max', 'CbR mean', 'CbR top-3 mean', 'kNN k=1']
    """
    methods = [CbR("max"), CbR("mean"), CbR("topk_mean", k=3),
               KNN(1), KNN(3), KNN(5),
               Prototypes("UN"), Prototypes("L2N"), Prototypes("CL2N", base_mean=base_mean)]
    if linear_probe:
        methods.append(LinearProbe())
    if finetune_top:
        if embedder is None:
            raise ValueError("finetune_top needs the embedder (spec or object)")
        methods.append(FineTunedTop(embedder))
    return methods
