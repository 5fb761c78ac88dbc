"""The interface every few-shot method implements, and the plumbing they share.

Every method works on the *same* embeddings (computed once, cached) and has

* ``name`` — a short label for tables and plots;
* ``fit(support_embeddings, support_labels)`` → self;
* ``decision_function(query_embeddings)`` → ``(n, n_classes)`` scores, columns in
  ``classes_`` order (higher = more likely);
* ``predict(query_embeddings)`` → labels;
* ``size_bytes()`` — bytes the method stores beyond the shared embedder (the index,
  the prototypes, the trained weights);
* ``trains`` — True when ``fit`` runs gradient descent.

Methods that need the images themselves (fine-tuning the top of the embedder) set
``needs_images = True`` and also accept ``images=`` in ``fit`` / ``decision_function``
/ ``predict``; the evaluation passes the images to them.

Example
-------
>>> import numpy as np
>>> class Nearest(BaseMethod):                      # a method of your own
...     name = "nearest"
...     def fit(self, support_embeddings, support_labels, **_):
...         self.support_, _ = self._check(support_embeddings, support_labels)
...         return self
...     def decision_function(self, query_embeddings, **_):
...         scores = -((self._check(query_embeddings)[:, None] - self.support_) ** 2).sum(-1)
...         return np.stack([scores[:, self._y_idx == c].max(1)
...                          for c in range(len(self.classes_))], axis=1)
...     def size_bytes(self):
...         return self.support_.nbytes
>>> m = Nearest().fit(np.eye(2), ["a", "b"])
>>> m.predict(np.array([[0.9, 0.2]])).tolist(), isinstance(m, FewShotMethod)
(['a'], True)
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["FewShotMethod", "BaseMethod", "method_names"]


@runtime_checkable
class FewShotMethod(Protocol):
    """The interface every method implements (see the module docstring)."""

    name: str
    needs_images: bool

    def fit(self, support_embeddings, support_labels, **kwargs): ...

    def decision_function(self, query_embeddings, **kwargs): ...

    def predict(self, query_embeddings, **kwargs): ...

    def size_bytes(self) -> int: ...


class BaseMethod:
    """Shared plumbing: input checks (``_check``), ``predict`` from ``decision_function``.

    ``_check(X, y)`` validates a support set and sets ``classes_`` (sorted labels),
    ``_y_idx`` (each row's column in ``classes_``) and ``n_features_in_``;
    ``_check(X)`` validates queries against them.
    """

    needs_images = False
    trains = False  # True for methods that run gradient descent in fit
    name = "method"

    def _check(self, X, y=None):
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"{self.name}: expected embeddings (n, dim), got shape {X.shape}")
        if y is None:
            if not hasattr(self, "classes_"):
                raise RuntimeError(f"{self.name}: call fit(support_embeddings, labels) first")
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"{self.name}: queries have {X.shape[1]} features, the "
                                 f"support set had {self.n_features_in_}")
            return X
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"{self.name}: need one label per support row "
                             f"({len(X)} rows, labels of shape {y.shape})")
        if len(np.unique(y)) < 2:
            raise ValueError(f"{self.name}: the support set needs at least 2 classes")
        self.classes_, self._y_idx = np.unique(y, return_inverse=True)
        self.n_features_in_ = X.shape[1]
        return X, y

    def predict(self, query_embeddings, **kwargs):
        """The best-scoring class of each query."""
        scores = self.decision_function(query_embeddings, **kwargs)
        return self.classes_[np.argmax(scores, axis=1)]

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


def method_names(methods):
    """Names of ``methods``, checking they are unique.

    >>> from cbr_edu.fewshot import KNN
    >>> method_names([KNN(1), KNN(3)])
    ['kNN k=1', 'kNN k=3']
    """
    names = [m.name for m in methods]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"method names must be unique; repeated: {dupes} (pass name=...)")
    return names
