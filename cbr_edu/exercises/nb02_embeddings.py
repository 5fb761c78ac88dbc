"""Exercises for notebook 02 — embeddings: k nearest neighbours, 1-NN accuracy, centring.

>>> from cbr_edu.exercises.nb02_embeddings import q1
>>> q1.check(lambda query, gallery, k: [0] * k)   # doctest: +ELLIPSIS
Incorrect: ...
"""

import numpy as np

from ..similarity import l2_normalize as _unit
from ._core import Question, Wrong

__all__ = ["q1", "q2", "q3"]


def _int_array(self, value, what):
    arr = self.as_array(value, what)
    if arr.size and not np.all(arr == np.round(arr)):
        raise Wrong(f"{what} should hold row numbers (whole numbers), got {arr.ravel()[:4]}…; "
                    "did you return similarities instead of their positions?")
    return arr.astype(int)


class KNearest(Question):
    _var = "k_nearest"
    _title = "The k nearest neighbours"
    _hints = [
        "Compute the cosine similarity of the query to every gallery embedding, then "
        "sort the positions by similarity, **largest first**, and keep `k`.",
        "`np.argsort(x)` sorts ascending; `np.argsort(-x)` (or `np.argsort(x)[::-1]`) "
        "puts the largest first.",
        "`sims = cosine(gallery, query)` then `return np.argsort(-sims)[:k]`.",
    ]
    _solution = "Sort by cosine similarity, largest first, and keep the first `k` positions."
    solution_code = """\
import numpy as np
from cbr_edu.similarity import cosine

def k_nearest(query, gallery, k):
    sims = cosine(gallery, query)
    return np.argsort(-sims)[:k]
"""

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        k = 4
        for _ in range(50):  # inputs on which ranking by dot product gives other neighbours
            gallery = rng.normal(size=(12, 6)) * rng.uniform(0.2, 5.0, size=(12, 1))
            query = rng.normal(size=6) * 3
            sims = _unit(gallery) @ _unit(query)
            want = np.argsort(-sims, kind="stable")[:k]
            if not np.array_equal(np.argsort(-(gallery @ query), kind="stable")[:k], want):
                break
        what = f"k_nearest(query, gallery, k={k})"
        got = _int_array(self, self.call(fn, query, gallery, k, what=what), what).ravel()
        if got.size != k:
            raise Wrong(f"{what} should return {k} positions, got {got.size}.")
        if np.array_equal(got, want):
            return None
        if np.array_equal(got, np.argsort(sims, kind="stable")[:k]):
            raise Wrong("those are the *least* similar images; sort largest first "
                        "(`np.argsort(-sims)`).")
        if np.array_equal(got, np.argsort(-sims, kind="stable")[:k][::-1]) or np.array_equal(
                got, np.argsort(sims, kind="stable")[-k:]):
            raise Wrong("right neighbours, wrong order: put the most similar first.")
        if np.array_equal(got, np.argsort(-(gallery @ query), kind="stable")[:k]) and \
                not np.array_equal(got, want):
            raise Wrong("those have the largest *dot products*, which favour long vectors; "
                        "rank by cosine similarity.")
        if set(got.tolist()) == set(want.tolist()):
            raise Wrong("right neighbours, wrong order: put the most similar first.")
        if not np.array_equal(got, want):
            raise Wrong(f"expected positions {want.tolist()}, got {got.tolist()}.")


class OneNNAccuracy(Question):
    _var = "one_nn_accuracy"
    _title = "1-nearest-neighbour accuracy"
    _hints = [
        "For each test embedding find the most similar (cosine) train embedding and "
        "predict its label. Accuracy is the *fraction* of test items predicted right.",
        "`cosine(test_x, train_x)` is a `(n_test, n_train)` table; `argmax(axis=1)` picks "
        "each test item's neighbour.",
        "`pred = train_y[cosine(test_x, train_x).argmax(axis=1)]`, then "
        "`np.mean(pred == test_y)`.",
    ]
    _solution = "Predict the label of each test item's nearest train item; average the hits."
    solution_code = """\
import numpy as np
from cbr_edu.similarity import cosine

def one_nn_accuracy(train_x, train_y, test_x, test_y):
    nearest = cosine(test_x, train_x).argmax(axis=1)
    return float(np.mean(train_y[nearest] == test_y))
"""

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        n_classes, dim = 4, 8
        train_y = np.repeat(np.arange(n_classes), 3)
        while True:  # a case where each typical mistake gives a different number
            centres = rng.normal(size=(n_classes, dim)) * 1.2
            test_y = rng.integers(0, n_classes, size=30)
            train_x = (centres[train_y] + rng.normal(size=(len(train_y), dim))) * \
                rng.uniform(0.3, 4, size=(len(train_y), 1))
            test_x = (centres[test_y] + rng.normal(size=(len(test_y), dim))) * \
                rng.uniform(0.3, 4, size=(len(test_y), 1))
            sims = _unit(test_x) @ _unit(train_x).T
            want = float(np.mean(train_y[sims.argmax(axis=1)] == test_y))
            least = float(np.mean(train_y[sims.argmin(axis=1)] == test_y))
            if len({round(v, 6) for v in (want, 1 - want, least, 100 * want)}) == 4:
                break
        what = "one_nn_accuracy(train_x, train_y, test_x, test_y)"
        got = self.as_array(self.call(fn, train_x, train_y, test_x, test_y, what=what), what)
        if got.size != 1:
            raise Wrong(f"return one number (the fraction correct), got shape {got.shape}.")
        got = float(got.reshape(()))
        if np.isclose(got, 100 * want) and not np.isclose(want, 0):
            raise Wrong("that looks like a percentage; return a fraction between 0 and 1.")
        if np.isclose(got, 1 - want) and not np.isclose(want, 0.5):
            raise Wrong("that is the error rate; return the fraction predicted *correctly*.")
        if np.isclose(got, least):
            raise Wrong("you used the *least* similar train item; use the most similar "
                        "(argmax of cosine).")
        if got > 1.0 or got < 0.0:
            raise Wrong(f"an accuracy lies between 0 and 1, got {got:.3g}.")
        self.assert_close(got, want, what)


class CentreAndNormalise(Question):
    _var = "centre_and_normalise"
    _title = "Centring + L2 normalisation (SimpleShot's CL2N)"
    _hints = [
        "Two steps, in this order: subtract the mean embedding of `reference` from every "
        "row of `X`, then scale each row to length 1.",
        "`mean = reference.mean(axis=0)` is one vector of length `dim`; "
        "`np.linalg.norm(Y, axis=1, keepdims=True)` gives row lengths.",
    ]
    _solution = ("Centre with the mean of the *reference* (index) embeddings, then "
                 "normalise. Order matters: normalising first and then centring leaves "
                 "vectors that are not unit length.")
    solution_code = """\
import numpy as np

def centre_and_normalise(X, reference):
    Y = X - reference.mean(axis=0)
    return Y / np.linalg.norm(Y, axis=1, keepdims=True)
"""

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        reference = rng.normal(loc=2.0, size=(10, 5))
        X = rng.normal(loc=2.0, size=(6, 5))
        what = "centre_and_normalise(X, reference)"
        got = self.as_array(self.call(fn, X, reference, what=what), what)
        if got.shape != X.shape:
            raise Wrong(f"{what} should keep the shape of X {X.shape}, got {got.shape}.")
        Y = X - reference.mean(axis=0)
        want = Y / np.linalg.norm(Y, axis=1, keepdims=True)
        Yx = X - X.mean(axis=0)
        if np.allclose(got, Yx / np.linalg.norm(Yx, axis=1, keepdims=True)):
            raise Wrong("you centred with the mean of X; use the mean of `reference` (the "
                        "index), so a query is centred the same way whatever else is queried.")
        if np.allclose(got, _unit(X) - _unit(reference).mean(axis=0)) or np.allclose(
                got, _unit(X) - _unit(X).mean(axis=0)):
            raise Wrong("you normalised first and centred after; centre first, then "
                        "normalise so the rows end up with length 1.")
        if np.allclose(got, Y):
            raise Wrong("centred, but not normalised: scale each row to length 1.")
        if np.allclose(got, _unit(X)):
            raise Wrong("normalised, but not centred: subtract `reference.mean(axis=0)` first.")
        if np.allclose(got, X - X.mean(axis=1, keepdims=True)) or np.allclose(
                got, _unit(X - reference.mean(axis=1).mean())):
            raise Wrong("take the mean over the rows (`axis=0`): one mean vector of length dim.")
        self.assert_close(got, want, what)


q1 = KNearest()
q2 = OneNNAccuracy()
q3 = CentreAndNormalise()
