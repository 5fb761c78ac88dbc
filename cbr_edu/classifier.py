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

import math
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import tensorflow as tf
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.extmath import softmax
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._classifier_file import read_classifier_file, write_classifier_file
from ._labels import check_kind, label_kind
from .layers import AGGREGATIONS
from .model import build_cbr_model, cbr_layers, write_index
from .similarity import l2_normalize

__all__ = ["CbRClassifier"]

_NOT_FITTED = ("this %(name)s is not fitted yet: call fit(X, y) with at least 2 examples "
               "first")
# Scores are computed in float64 so that a query's scores do not depend on which
# other queries share its batch (float32 matrix products differ in the last bit).
_SCORE_DTYPE = "float64"


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
        ``predict_proba`` is ``softmax(class_scores / temperature)``: a readable
        confidence, not a calibrated probability.
    batch_size : int
        Queries scored per batch.
    index : str
        ``"exact"`` (default): every query is scored against every example, one
        matrix product in a compiled Keras model. ``"faiss:<factory>"`` (e.g.
        ``"faiss:IVF4096,PQ64"``, optional ``;neighbors=N;nprobe=N``): for
        indexes too big for that, FAISS retrieves the top neighbours and the
        classes are scored over them alone (``max`` or ``topk_mean``; what that
        costs is stated in :mod:`cbr_edu.scale.faiss_index`). Needs the
        ``scale`` extra; ``to_keras`` still gives the exact model.

    Attributes
    ----------
    classes_ : ndarray — the class labels, sorted; columns of ``class_scores``.
    index_embeddings_ : ndarray (n, dim) — L2-normalised index.
    index_labels_ : ndarray (n,) — label of each index row.
    n_features_in_ : int — embedding dimension (the number of columns of ``X``
        when there is no embedder).

    With an embedder, ``X`` is a list of images, not a matrix: scikit-learn's
    input checks then apply to the embeddings, so ``n_features_in_`` is the
    embedding dimension either way.

    ``fit`` builds a compiled Keras model of the index; fitting again with an
    index of the same dimension and number of classes that fits in it writes
    the new index into that model (no rebuild, no retrace). ``add_examples``
    grows the model's room by doubling, so adding one example at a time
    rarely rebuilds it.

    Example
    -------
    >>> clf = CbRClassifier(aggregation="mean").fit(np.eye(3), [0, 1, 1])
    >>> clf.class_scores(np.array([[0.0, 1.0, 1.0]])).round(3)
    array([[0.   , 0.707]])
    >>> clf.decision_function(np.array([[0.0, 1.0, 1.0]])).round(3)  # binary: 1-D
    array([0.707])
    """

    def __init__(self, embedder=None, *, aggregation="max", k=3, temperature=0.05,
                 batch_size=256, index="exact"):
        self.embedder = embedder
        self.aggregation = aggregation
        self.k = k
        self.temperature = temperature
        self.batch_size = batch_size
        self.index = index

    # -- building the index -------------------------------------------------
    def fit(self, X, y):
        """Index ``X`` (embeddings or images) with labels ``y``; returns self."""
        self._check_parameters()
        self.embedder_ = self._resolve_embedder()
        embeddings, y = self._examples(X, y, reset=True)
        self._set_index(embeddings, y, edit=False)
        return self

    def add_examples(self, X, y):
        """Add examples (of new or existing classes) to the index; returns self.

        >>> clf = CbRClassifier().fit(np.eye(2), ["a", "b"])
        >>> clf.add_examples([[1.0, 1.0]], ["c"]).classes_.tolist()
        ['a', 'b', 'c']
        """
        if not hasattr(self, "index_embeddings_"):
            return self.fit(X, y)
        check_kind(self.index_labels_, y)
        embeddings, labels = self._examples(X, y, reset=False)
        self._set_index(np.concatenate([self.index_embeddings_, embeddings]),
                        np.concatenate([self.index_labels_, labels]), edit=True)
        return self

    def remove_class(self, label):
        """Drop every example of ``label`` from the index; returns self.

        >>> CbRClassifier().fit(np.eye(3), [1, 2, 3]).remove_class(2).classes_.tolist()
        [1, 3]
        """
        check_is_fitted(self, msg=_NOT_FITTED)
        keep = self.index_labels_ != label
        if keep.all():
            raise ValueError(
                f"class {label!r} is not in the index; classes are {self.classes_.tolist()}")
        if keep.sum() < 2:
            raise ValueError(
                f"removing class {label!r} would leave {int(keep.sum())} index item(s); "
                "an index needs at least 2 — add examples first")
        self._set_index(self.index_embeddings_[keep], self.index_labels_[keep], edit=True)
        return self

    # -- scoring ------------------------------------------------------------
    def class_scores(self, X):
        """Class scores ``(n, n_classes)``, columns aligned with ``classes_``.

        One column per class for any number of classes. With
        ``aggregation="max"`` a score is the cosine similarity to the class's
        nearest indexed example.

        >>> clf = CbRClassifier().fit([[1.0, 0.0], [0.0, 1.0]], ["a", "b"])
        >>> clf.class_scores([[3.0, 4.0]]).round(2)
        array([[0.6, 0.8]])
        """
        queries = self._queries(X)
        if getattr(self, "_search", None) is not None:
            return self._search.class_scores(queries, aggregation=self.aggregation, k=self.k)
        batches = [self._scores_fn(queries[i:i + self.batch_size]).numpy()
                   for i in range(0, len(queries), self.batch_size)]
        return np.concatenate(batches)

    def decision_function(self, X):
        """Scikit-learn's decision values: 1-D for two classes, else ``class_scores``.

        With two classes, the score of ``classes_[1]`` minus that of ``classes_[0]``
        (positive means ``classes_[1]``), as scikit-learn defines it. For one
        column per class whatever their number, use ``class_scores``.

        >>> clf = CbRClassifier().fit([[1.0, 0.0], [0.0, 1.0]], ["a", "b"])
        >>> clf.decision_function([[3.0, 4.0]]).round(2)
        array([0.2])
        """
        scores = self.class_scores(X)
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X):
        """The best-scoring class for each row of ``X``."""
        scores = self.class_scores(X)  # first: it checks that the classifier is fitted
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        """``softmax(class_scores / temperature)``, columns aligned with ``classes_``."""
        self._check_parameters()
        return softmax(self.class_scores(X) / self.temperature)

    def to_keras(self):
        """The classifier as a Keras model (image in when there is an embedder).

        >>> CbRClassifier().fit(np.eye(2), ["a", "b"]).to_keras().output_shape
        (None, 2)
        """
        check_is_fitted(self, msg=_NOT_FITTED)
        return build_cbr_model(self.index_embeddings_, self.index_labels_,
                               embedder=self.embedder_, aggregation=self.aggregation,
                               k=self.k)

    # -- persistence --------------------------------------------------------
    def save(self, path, *, overwrite=False):
        """Write the index and settings to one ``.npz`` file (atomically).

        The embedder is saved by its spec string and reloaded with
        ``load_embedder``. Labels must be strings, numbers or booleans.
        """
        check_is_fitted(self, msg=_NOT_FITTED)
        labels = [label.item() if hasattr(label, "item") else label
                  for label in self.index_labels_]
        if not all(isinstance(label, (str, int, float, bool)) for label in labels):
            raise TypeError("only str, int, float or bool labels can be saved")
        settings = {"index": self.index, "aggregation": self.aggregation, "k": self.k,
                    "temperature": self.temperature, "batch_size": self.batch_size,
                    "embedder": _embedder_spec(self.embedder_), "labels": labels}
        write_classifier_file(path, self.index_embeddings_, settings, overwrite=overwrite)
        return Path(path)

    @classmethod
    def load(cls, path):
        """Read a classifier written by ``save``.

        A file that is not what ``save`` wrote (truncated, edited, another kind
        of file) raises ValueError saying what is wrong with it; nothing in it is
        ever unpickled.

        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "clf.npz")
        >>> _ = CbRClassifier().fit(np.eye(2), ["a", "b"]).save(p)
        >>> CbRClassifier.load(p).classes_.tolist()
        ['a', 'b']
        """
        settings, embeddings = read_classifier_file(path)
        clf = cls(embedder=settings["embedder"], aggregation=settings["aggregation"],
                  k=settings["k"], temperature=settings["temperature"],
                  batch_size=settings["batch_size"], index=settings.get("index", "exact"))
        try:
            clf._check_parameters()
        except ValueError as error:
            raise ValueError(f"{path} is damaged or was edited by hand ({error}); save the "
                             "classifier again") from None
        try:
            clf.embedder_ = clf._resolve_embedder()
        except (ValueError, OSError, ImportError) as error:
            raise ValueError(f"{path} was saved with the embedder {clf.embedder!r}, which "
                             f"cannot be loaded here: {error}") from None
        clf.n_features_in_ = embeddings.shape[1]
        clf._set_index(embeddings, np.asarray(settings["labels"]), edit=False)
        return clf

    @classmethod
    def from_index(cls, embeddings, labels, *, embedder=None, **params):
        """A fitted classifier over embeddings computed already, with no embedding step.

        ``embedder`` (a spec or an Embedder) is the one that made ``embeddings``;
        queries are then images, as after ``fit``. Other keywords are the
        constructor's parameters.

        >>> clf = CbRClassifier.from_index(np.eye(2), ["a", "b"], aggregation="mean")
        >>> clf.predict([[0.2, 0.9]]).tolist(), clf.aggregation
        (['b'], 'mean')
        """
        clf = cls(embedder=embedder, **params)
        clf._check_parameters()
        clf.embedder_ = None   # the index is validated as it is: embeddings, not images
        embeddings, labels = clf._examples(embeddings, labels, reset=True)
        clf.embedder_ = clf._resolve_embedder()
        clf._set_index(embeddings, labels, edit=False)
        return clf

    # The compiled model is rebuilt from the index, not pickled.
    def __getstate__(self):
        state = super().__getstate__()
        return {key: value for key, value in state.items()
                if key not in ("_model", "_scores_fn", "_search")}

    def __setstate__(self, state):
        super().__setstate__(state)
        if hasattr(self, "index_embeddings_"):
            self._write_model(edit=False)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "index_embeddings_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.embedder is not None:  # X is images (arrays) or image file paths
            tags.input_tags.two_d_array = False
            tags.input_tags.string = True
        return tags

    # -- helpers ------------------------------------------------------------
    def _check_parameters(self):
        """Refuse settings that cannot work, with what to give instead."""
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"unknown aggregation {self.aggregation!r}; choose one of {AGGREGATIONS}")
        if (not isinstance(self.temperature, Real) or isinstance(self.temperature, bool)
                or not math.isfinite(self.temperature) or self.temperature <= 0):
            raise ValueError(f"temperature must be a positive number such as 0.05 (smaller "
                             f"means more confident probabilities), got {self.temperature!r}")
        for name in ("k", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        self._search_recipe()  # a malformed index spec, or 'mean' with FAISS

    def _search_recipe(self):
        """The FAISS recipe of ``index``, or None for the exact index."""
        if self.index == "exact":
            return None
        from .scale import require
        from .scale.faiss_index import FaissIndex
        recipe = FaissIndex.parse(self.index)  # a ValueError for a malformed spec
        require(["faiss"], what=f"CbRClassifier(index={self.index!r})")
        if self.aggregation == "mean":
            raise ValueError("aggregation='mean' needs every example of every class, which a "
                             "FAISS index does not return; use 'max' or 'topk_mean', or "
                             "index='exact'")
        return recipe

    def _resolve_embedder(self):
        if self.embedder is None or not isinstance(self.embedder, str):
            return self.embedder
        from .embedders import load_embedder
        return load_embedder(self.embedder)

    def _examples(self, X, y, *, reset):
        """Index examples: ``X`` embedded (when there is an embedder) and validated
        as float32 features, ``y`` as classification targets."""
        if y is not None:
            label_kind(y)  # no None labels, no mixture of types
        X, y = self._validate(self._embed(X), y, reset=reset, dtype=np.float32,
                              ensure_min_samples=2 if reset else 1)
        check_classification_targets(y)
        return X, y

    def _queries(self, X):
        """Queries embedded (when there is an embedder) and validated as float64."""
        check_is_fitted(self, msg=_NOT_FITTED)
        self._check_parameters()
        return self._validate(self._embed(X), reset=False, dtype=_SCORE_DTYPE)

    def _embed(self, X):
        return X if self.embedder_ is None else self.embedder_.embed(X)

    def _validate(self, *args, **kwargs):
        """scikit-learn's ``validate_data``, with what to do when the width is wrong."""
        try:
            return validate_data(self, *args, **kwargs)
        except ValueError as error:
            if "features, but" not in str(error):  # its n_features_in_ message
                raise
            raise ValueError(f"{error} Embed them with the embedder the index was built "
                             "with.") from None

    def _set_index(self, embeddings, labels, *, edit):
        self.index_embeddings_ = l2_normalize(embeddings).astype(np.float32)
        self.index_labels_ = np.asarray(labels)
        self.classes_ = np.unique(self.index_labels_)
        self._write_model(edit=edit)

    def _write_model(self, *, edit):
        """Write the index into the compiled model; build one only when it does not fit.

        ``edit``: the index was edited (``add_examples``, ``remove_class``); a
        rebuilt model then keeps the old one's room, doubled when the index has
        outgrown it. Otherwise a new model holds exactly the index.
        """
        recipe = self._search_recipe()
        if recipe is not None:  # the FAISS path: no Keras model
            self._model = None
            self._search = recipe.build(self.index_embeddings_,
                                        np.searchsorted(self.classes_, self.index_labels_),
                                        len(self.classes_))
            return
        self._search = None
        size = len(self.index_embeddings_)
        model = getattr(self, "_model", None)
        room = 0
        if model is not None:
            retrieval, aggregator = cbr_layers(model)
            room = retrieval.num_instances
            if (size <= room and retrieval.dim == self.n_features_in_
                    and aggregator.num_classes == len(self.classes_)
                    and (aggregator.aggregation, aggregator.k) == (self.aggregation, self.k)):
                write_index(model, self.index_embeddings_, self.index_labels_)
                return
        if not edit:
            capacity = size
        else:
            capacity = room if size <= room else max(size, 2 * room)
        self._model = build_cbr_model(self.index_embeddings_, self.index_labels_,
                                      aggregation=self.aggregation, k=self.k,
                                      capacity=capacity, dtype=_SCORE_DTYPE)
        model = self._model
        self._scores_fn = tf.function(
            lambda queries: model(queries, training=False),
            input_signature=[tf.TensorSpec((None, self.n_features_in_), _SCORE_DTYPE)])


def _embedder_spec(embedder):
    if embedder is None:
        return None
    spec = getattr(embedder, "spec", None)
    if not isinstance(spec, str):
        raise TypeError("this embedder has no spec string, so it cannot be saved; "
                        "load it with cbr_edu.load_embedder(spec)")
    return spec
