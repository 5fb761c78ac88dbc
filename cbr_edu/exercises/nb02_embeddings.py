"""Exercises for notebook 02 — embeddings: k nearest neighbours, 1-NN accuracy, centring.

``p1`` is a *predict, then run* question: on handwritten digits, do raw pixels or the
ImageNet embedder find better neighbours? It is checked before the cell that measures it.

>>> from cbr_edu.exercises.nb02_embeddings import q1
>>> q1.check(lambda query, gallery, k: [0] * k)   # doctest: +ELLIPSIS
Incorrect: ...
"""

import numpy as np

from ..similarity import l2_normalize as _unit
from ._core import Question, Wrong
from ._mistakes import draw_telling_apart, name_mistake
from ._predict import Choice

__all__ = ["q1", "q2", "q3", "p1"]


def _int_array(self, value, what):
    arr = self.as_array(value, what)
    if arr.size and not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
        raise Wrong(f"{what} should hold row numbers (whole numbers), got {arr.ravel()[:4]}…; "
                    "did you return similarities instead of their positions?")
    return arr.astype(int)


def _top(values, k):
    return np.argsort(-values, kind="stable")[:k]


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
    k = 4

    def _mistakes(self, query, gallery):
        sims = _unit(gallery) @ _unit(query)
        order = "right neighbours, wrong order: put the most similar first."
        return [
            (_top(-sims, self.k), "those are the *least* similar images; sort largest first "
                                  "(`np.argsort(-sims)`)."),
            (_top(sims, self.k)[::-1], order),
            (_top(gallery @ query, self.k), "those have the largest *dot products*, which "
                                            "favour long vectors; rank by cosine similarity."),
            (_top(-np.linalg.norm(gallery - query, axis=1), self.k),
             "those are the nearest by L2 distance on the *raw* vectors, where length counts; "
             "rank by cosine (or by distance between normalised vectors)."),
            (_top(sims, self.k) + 1, "off by one: positions count from 0, as numpy indexes."),
        ]

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)

        def draw():
            gallery = rng.normal(size=(12, 6)) * rng.uniform(0.2, 5.0, size=(12, 1))
            return rng.normal(size=6) * 3, gallery

        query, gallery = draw_telling_apart(
            draw, lambda qg: [_top(_unit(qg[1]) @ _unit(qg[0]), self.k)] +
            [v for v, _ in self._mistakes(*qg)])
        want = _top(_unit(gallery) @ _unit(query), self.k)
        what = f"k_nearest(query, gallery, k={self.k})"
        got = _int_array(self, self.call(fn, query, gallery, self.k, what=what), what).ravel()
        if got.size != self.k:
            raise Wrong(f"{what} should return {self.k} positions, got {got.size}.")
        if np.array_equal(got, want):
            return None
        name_mistake(got, self._mistakes(query, gallery))
        if set(got.tolist()) == set(want.tolist()):
            raise Wrong("right neighbours, wrong order: put the most similar first.")
        raise Wrong(f"positions {got.tolist()} are not the {self.k} most cosine-similar rows, "
                    "most similar first.")


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

    @staticmethod
    def _accuracies(train_x, train_y, test_x, test_y):
        """The right accuracy, then what each mistake gives."""
        sims = _unit(test_x) @ _unit(train_x).T
        want = float(np.mean(train_y[sims.argmax(axis=1)] == test_y))
        raw = np.linalg.norm(test_x[:, None, :] - train_x[None, :, :], axis=2)
        return [
            (want, None),
            (100 * want, "that looks like a percentage; return a fraction between 0 and 1."),
            (1 - want, "that is the error rate; return the fraction predicted *correctly*."),
            (float(np.mean(train_y[sims.argmin(axis=1)] == test_y)),
             "you used the *least* similar train item; use the most similar (argmax of "
             "cosine)."),
            (float(np.sum(train_y[sims.argmax(axis=1)] == test_y)),
             "that is the *count* of right predictions; divide by the number of test items "
             "(`np.mean`)."),
            (float(np.mean(train_y[(test_x @ train_x.T).argmax(axis=1)] == test_y)),
             "you matched by the largest *dot product*, which favours long vectors; use "
             "cosine similarity."),
            (float(np.mean(train_y[raw.argmin(axis=1)] == test_y)),
             "you matched by L2 distance on the *raw* vectors, where length counts; use "
             "cosine similarity."),
        ]

    @staticmethod
    def _draw(rng):
        n_classes, dim = 4, 8
        train_y = np.repeat(np.arange(n_classes), 3)
        centres = rng.normal(size=(n_classes, dim)) * 1.2
        test_y = rng.integers(0, n_classes, size=30)
        train_x = (centres[train_y] + rng.normal(size=(len(train_y), dim))) * \
            rng.uniform(0.3, 4, size=(len(train_y), 1))
        test_x = (centres[test_y] + rng.normal(size=(len(test_y), dim))) * \
            rng.uniform(0.3, 4, size=(len(test_y), 1))
        return train_x, train_y, test_x, test_y

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        case = draw_telling_apart(lambda: self._draw(rng),
                                  lambda c: [v for v, _ in self._accuracies(*c)])
        what = "one_nn_accuracy(train_x, train_y, test_x, test_y)"
        got = self.as_array(self.call(fn, *case, what=what), what)
        if got.size != 1:
            raise Wrong(f"return one number (the fraction correct), got shape {got.shape}.")
        got = float(got.reshape(()))
        accuracies = self._accuracies(*case)
        name_mistake(got, accuracies[1:])
        if got > 1.0 or got < 0.0:
            raise Wrong(f"an accuracy lies between 0 and 1, got {got:.3g}.")
        self.assert_close(got, accuracies[0][0], what)


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

    @staticmethod
    def _mistakes(X, reference):
        Y = X - reference.mean(axis=0)
        first = ("you normalised first and centred after; centre first, then normalise so "
                 "the rows end up with length 1.")
        axis = "take the mean over the rows (`axis=0`): one mean vector of length dim."
        return [
            (_unit(X - X.mean(axis=0)), "you centred with the mean of X; use the mean of "
                                        "`reference` (the index), so a query is centred the "
                                        "same way whatever else is queried."),
            (_unit(X) - _unit(reference).mean(axis=0), first),
            (_unit(X) - _unit(X).mean(axis=0), first),
            (Y, "centred, but not normalised: scale each row to length 1."),
            (_unit(X), "normalised, but not centred: subtract `reference.mean(axis=0)` first."),
            (X - X.mean(axis=1, keepdims=True), axis),
            (_unit(X - X.mean(axis=1, keepdims=True)), axis),
            (_unit(X - reference.mean()), axis),
            (Y / np.linalg.norm(Y), "you divided by the norm of the whole matrix; scale each "
                                    "*row* to length 1 (`axis=1, keepdims=True`)."),
        ]

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        reference = rng.normal(loc=2.0, size=(10, 5))
        X = rng.normal(loc=2.0, size=(6, 5))
        what = "centre_and_normalise(X, reference)"
        got = self.as_array(self.call(fn, X, reference, what=what), what)
        if got.shape != X.shape:
            raise Wrong(f"{what} should keep the shape of X {X.shape}, got {got.shape}.")
        name_mistake(got, self._mistakes(X, reference))
        self.assert_close(got, _unit(X - reference.mean(axis=0)), what)


class PredictDigits(Choice):
    """Options (the notebook lists them): the ImageNet embedder wins by (a) more than 10
    points, (b) 10 points or fewer; raw pixels win by (c) 10 points or fewer, (d) more
    than 10 points; (e) neither beats chance."""

    _var = "predicted_winner"
    _title = "Predict, then run: which vectors find the right digit?"
    _hints = [
        "An ImageNet embedder describes what it learnt from photos: textures, object "
        "parts, shapes of things. What does an 8×8 black-and-white digit have of those?",
        "Two handwritten 3s share most of their dark pixels. Which vectors keep exactly "
        "that information — and how much better could that be?",
    ]
    _solution = ("(d) raw pixels, by far (about 85 % against 45 % offline). The ImageNet "
                 "features describe photos; tiny, centred digits are far from them, while "
                 "pixel positions already separate the classes. Choose the embedder for "
                 "your images.")
    solution_code = 'predicted_winner = "d"\n'
    _answer = "d"
    _misses = {
        "a": "more training photos help only when they look like your images: ImageNet holds "
             "photos of objects, not 8×8 digits. Think about what its features describe.",
        "b": "more numbers are not more information: the embedder's numbers describe "
             "textures and object parts seen in photos. Do digits have those?",
        "c": "you have the direction; now think about the size. ImageNet's features say "
             "little about an 8×8 digit, while two 3s share most of their pixels.",
        "e": "nearest neighbour does far better than chance here: two 3s look alike. The "
             "question is which vectors see that, and by how much.",
    }


q1 = KNearest()
q2 = OneNNAccuracy()
q3 = CentreAndNormalise()
p1 = PredictDigits()
