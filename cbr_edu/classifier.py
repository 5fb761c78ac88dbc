"""``CbRClassifier``: Classification-by-Retrieval with scikit-learn's conventions.

``fit`` stores an index (no training), ``predict`` finds the best class by
retrieval + aggregation, ``add_examples`` / ``remove_class`` edit the index in
place, ``to_keras`` gives the same classifier as a Keras model.

Example
-------
>>> import numpy as np
>>> X = np.array([[1.0, 0.0], [0.9, 0.2], [0.0, 1.0]])
>>> clf = CbRClassifier().fit(X, ["sun", "sun", "moon"])
>>> clf.classes_.tolist()
['moon', 'sun']
>>> clf.predict([[0.1, 2.0]]).tolist()
['moon']
>>> clf.remove_class("moon").add_examples([[0.0, -1.0]], ["rain"]).classes_.tolist()
['rain', 'sun']
"""

import json
from pathlib import Path

import keras
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.extmath import softmax

from ._atomic import atomic_output
from .layers import AGGREGATIONS
from .model import build_cbr_model, check_index
from .similarity import l2_normalize

__all__ = ["CbRClassifier"]

_FORMAT = "cbr_edu.CbRClassifier/1"


class CbRClassifier(ClassifierMixin, BaseEstimator):
    """A nearest-neighbour classifier built from an index, with no training.

    Parameters
    ----------
    embedder : None, str or Embedder
        None: ``X`` is already embeddings ``(n, dim)``. A spec such as
        ``"efficientnet_lite0"`` or an Embedder object: ``X`` is images (arrays
        or file paths), embedded on the way in.
    aggregation : {"max", "mean", "topk_mean"}
        How instance scores become class scores (see ``cbr_edu.layers``).
    k : int
        Number of best instances averaged by ``"topk_mean"``.
    temperature : float
        ``predict_proba`` is ``softmax(scores / temperature)``: a readable
        confidence, not a calibrated probability.
    batch_size : int
        Queries scored per batch.

    Attributes
    ----------
    classes_ : ndarray — the class labels, sorted; columns of ``decision_function``.
    index_embeddings_ : ndarray (n, dim) — L2-normalised index.
    index_labels_ : ndarray (n,) — label of each index row.
    n_features_in_ : int — embedding dimension.

    Example
    -------
    >>> clf = CbRClassifier(aggregation="mean").fit(np.eye(3), [0, 1, 1])
    >>> clf.decision_function(np.array([[0.0, 1.0, 1.0]])).round(3)
    array([[0.   , 0.707]], dtype=float32)
    """

    def __init__(self, embedder=None, aggregation="max", k=3, temperature=0.05,
                 batch_size=256):
        self.embedder = embedder
        self.aggregation = aggregation
        self.k = k
        self.temperature = temperature
        self.batch_size = batch_size

    # -- building the index -------------------------------------------------
    def fit(self, X, y):
        """Index ``X`` (embeddings or images) with labels ``y``; returns self."""
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"unknown aggregation {self.aggregation!r}; choose one of {AGGREGATIONS}")
        self.embedder_ = self._resolve_embedder()
        embeddings = self._embed(X, what="fit")
        self._set_index(embeddings, self._labels(y, len(embeddings)))
        return self

    def add_examples(self, X, y):
        """Add examples (of new or existing classes) to the index; returns self.

        >>> clf = CbRClassifier().fit(np.eye(2), ["a", "b"])
        >>> clf.add_examples([[1.0, 1.0]], ["c"]).classes_.tolist()
        ['a', 'b', 'c']
        """
        if not hasattr(self, "index_embeddings_"):
            return self.fit(X, y)
        embeddings = self._embed(X, what="add_examples")
        if embeddings.shape[1] != self.n_features_in_:
            raise ValueError(
                f"new examples have {embeddings.shape[1]} features, the index has "
                f"{self.n_features_in_}; embed them with the same embedder")
        labels = self._labels(y, len(embeddings))
        self._set_index(np.concatenate([self.index_embeddings_, embeddings]),
                        np.concatenate([self.index_labels_, labels]))
        return self

    def remove_class(self, label):
        """Drop every example of ``label`` from the index; returns self.

        >>> CbRClassifier().fit(np.eye(3), [1, 2, 3]).remove_class(2).classes_.tolist()
        [1, 3]
        """
        self._check_fitted()
        keep = self.index_labels_ != label
        if keep.all():
            raise ValueError(
                f"class {label!r} is not in the index; classes are {self.classes_.tolist()}")
        if keep.sum() < 2:
            raise ValueError(
                f"removing class {label!r} would leave {int(keep.sum())} index item(s); "
                "an index needs at least 2 — add examples first")
        self._set_index(self.index_embeddings_[keep], self.index_labels_[keep])
        return self

    # -- scoring ------------------------------------------------------------
    def decision_function(self, X):
        """Class scores ``(n, n_classes)``, columns aligned with ``classes_``.

        With ``aggregation="max"`` a score is the cosine similarity to the
        class's nearest indexed example.
        """
        self._check_fitted()
        queries = self._embed(X, what="predict", min_rows=1)
        if queries.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {queries.shape[1]} features, but this CbRClassifier was fitted "
                f"with {self.n_features_in_}; use the embedder the index was built with")
        model = self._keras_model()
        batches = [model(queries[i:i + self.batch_size], training=False)
                   for i in range(0, len(queries), self.batch_size)]
        return np.concatenate([keras.ops.convert_to_numpy(b) for b in batches]).astype(np.float32)

    def predict(self, X):
        """The best-scoring class for each row of ``X``."""
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        """``softmax(scores / temperature)``, columns aligned with ``classes_``."""
        scores = self.decision_function(X).astype(np.float64)
        return softmax(scores / self.temperature)

    def to_keras(self):
        """The classifier as a Keras model (image in when there is an embedder).

        >>> CbRClassifier().fit(np.eye(2), ["a", "b"]).to_keras().output_shape
        (None, 2)
        """
        self._check_fitted()
        return build_cbr_model(self.index_embeddings_, self.index_labels_,
                               embedder=self.embedder_, aggregation=self.aggregation,
                               k=self.k)

    # -- persistence --------------------------------------------------------
    def save(self, path, overwrite=False):
        """Write the index and settings to one ``.npz`` file (atomically).

        The embedder is saved by its spec string and reloaded with
        ``load_embedder``. Labels must be strings, numbers or booleans.
        """
        self._check_fitted()
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        labels = [label.item() if hasattr(label, "item") else label
                  for label in self.index_labels_]
        if not all(isinstance(label, (str, int, float, bool)) for label in labels):
            raise TypeError("only str, int, float or bool labels can be saved")
        settings = {"format": _FORMAT, "aggregation": self.aggregation, "k": self.k,
                    "temperature": self.temperature, "batch_size": self.batch_size,
                    "embedder": _embedder_spec(self.embedder_), "labels": labels}
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as f:
            np.savez(f, embeddings=self.index_embeddings_,
                     settings=np.array(json.dumps(settings)))
        return path

    @classmethod
    def load(cls, path):
        """Read a classifier written by ``save``.

        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "clf.npz")
        >>> _ = CbRClassifier().fit(np.eye(2), ["a", "b"]).save(p)
        >>> CbRClassifier.load(p).classes_.tolist()
        ['a', 'b']
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                settings = json.loads(str(data["settings"]))
                embeddings = data["embeddings"]
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"{path} is not a saved CbRClassifier ({error})") from error
        if settings.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a saved CbRClassifier (format {settings.get('format')!r})")
        clf = cls(embedder=settings["embedder"], aggregation=settings["aggregation"],
                  k=settings["k"], temperature=settings["temperature"],
                  batch_size=settings["batch_size"])
        clf.embedder_ = clf._resolve_embedder()
        clf._set_index(embeddings, np.asarray(settings["labels"]))
        return clf

    # -- helpers ------------------------------------------------------------
    def _resolve_embedder(self):
        if self.embedder is None or not isinstance(self.embedder, str):
            return self.embedder
        from .embedders import load_embedder
        return load_embedder(self.embedder)

    def _embed(self, X, what, min_rows=0):
        if self.embedder_ is not None:
            X = self.embedder_.embed(X)
        X = np.asarray(X)
        if X.ndim == 1 and what == "predict" and self.embedder_ is None:
            raise ValueError(
                f"X must be 2-D (n_samples, {getattr(self, 'n_features_in_', 'dim')}); "
                "wrap a single vector as [vector]")
        if X.ndim != 2:
            raise ValueError(f"{what}: expected a 2-D array of embeddings, got shape {X.shape}")
        if len(X) < min_rows:
            raise ValueError(f"{what}: got no rows")
        if not np.issubdtype(X.dtype, np.number):
            raise ValueError(f"{what}: embeddings must be numbers, got dtype {X.dtype}")
        X = X.astype(np.float32)
        if not np.all(np.isfinite(X)):
            rows = np.flatnonzero(~np.all(np.isfinite(X), axis=1))
            raise ValueError(f"{what}: X contains NaN or inf in rows {rows[:5].tolist()}")
        return X

    @staticmethod
    def _labels(y, n):
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per row), got shape {y.shape}")
        if len(y) != n:
            raise ValueError(f"got {n} rows but {len(y)} labels; give one label per row")
        return y

    def _set_index(self, embeddings, labels):
        embeddings, classes, _ = check_index(embeddings, labels)
        self.index_embeddings_ = l2_normalize(embeddings).astype(np.float32)
        self.index_labels_ = np.asarray(labels)
        self.classes_ = classes
        self.n_features_in_ = embeddings.shape[1]
        self._model = None

    def _keras_model(self):
        if getattr(self, "_model", None) is None:
            self._model = build_cbr_model(self.index_embeddings_, self.index_labels_,
                                          aggregation=self.aggregation, k=self.k)
        return self._model

    def _check_fitted(self):
        if not hasattr(self, "index_embeddings_"):
            raise NotFittedError(
                "this CbRClassifier is not fitted yet: call fit(X, y) with at least 2 "
                "examples first")


def _embedder_spec(embedder):
    if embedder is None:
        return None
    spec = getattr(embedder, "spec", None)
    if not isinstance(spec, str):
        raise TypeError("this embedder has no spec string, so it cannot be saved; "
                        "load it with cbr_edu.load_embedder(spec)")
    return spec
