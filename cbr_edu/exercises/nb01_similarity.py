"""Exercises for notebook 01 — similarity: cosine, L2, the pairwise table, nearest neighbour.

``p1`` is a *predict, then run* question: the cosine of ``a`` and ``10 b``, guessed before
the cell that prints it.

>>> from cbr_edu.exercises.nb01_similarity import q1
>>> q1.check(lambda a, b: 0.0)          # doctest: +ELLIPSIS
Incorrect: ...
"""

import numpy as np

from ._core import Question, Wrong, random_vectors
from ._mistakes import draw_telling_apart, name_mistake
from ._predict import NumberPrediction

__all__ = ["q1", "q2", "q3", "q4", "p1"]


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _one_number(self, value, what, advice):
    got = self.as_array(value, what)
    if got.size != 1:
        raise Wrong(f"{what} of two vectors should be one number, got an array of shape "
                    f"{got.shape}. {advice}")
    return float(got.reshape(()))


class CosineSimilarity(Question):
    _var = "cosine_similarity"
    _title = "Cosine similarity of two vectors"
    _hints = [
        "Cosine similarity is the dot product of the two vectors **after** scaling each "
        "to length 1: $\\cos(a, b) = \\frac{a \\cdot b}{\\|a\\|\\,\\|b\\|}$.",
        "`np.dot(a, b)` is the dot product and `np.linalg.norm(a)` the length of `a`.",
        "`return np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))`",
    ]
    _solution = ("Divide the dot product by both lengths. The result does not change when "
                 "you scale either vector: only the *direction* matters.")
    solution_code = """\
import numpy as np

def cosine_similarity(a, b):
    return np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
"""
    _correct_message = "scaling a vector leaves its cosine unchanged — only direction counts."

    @staticmethod
    def _mistakes(a, b):
        dot, na, nb = a @ b, np.linalg.norm(a), np.linalg.norm(b)
        angle = np.arccos(np.clip(dot / (na * nb), -1, 1))
        one = "you divided by the length of only one vector; divide by both."
        order = ("operator precedence: `x / n_a * n_b` divides by the length of a and then "
                 "*multiplies* by the length of b. Put the product in parentheses: "
                 "`x / (n_a * n_b)`.")
        return [
            (dot, "that is the plain dot product; divide it by the lengths of both "
                  "vectors (`np.linalg.norm`)."),
            (dot / na, one), (dot / nb, one),
            (dot / na * nb, order), (dot / nb * na, order),
            (dot / (na * nb) ** 2, "you divided by the *squared* lengths (`a @ a`); the "
                                   "length is the square root: `np.linalg.norm(a)`."),
            (angle, "that is the angle (arccos, in radians); return the cosine itself."),
            (np.degrees(angle), "that is the angle in degrees; return the cosine itself."),
            (1 - dot / (na * nb), "that is the cosine *distance* (1 − cos); return the "
                                  "similarity itself."),
        ]

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)

        def draw():
            a, b = rng.normal(size=(2, 7))
            return a * 3.0, b  # lengths far from 1 and from each other

        a, b = draw_telling_apart(
            draw, lambda ab: [_cos(*ab)] + [v for v, _ in self._mistakes(*ab)])
        what = "cosine_similarity(a, b)"
        got = _one_number(self, self.call(fn, a, b, what=what), what,
                          "Did you multiply element-wise instead of taking the dot product?")
        name_mistake(got, self._mistakes(a, b))
        self.assert_close(got, _cos(a, b), f"{what} with a={np.round(a, 2)}")
        same = self.as_array(self.call(fn, a, 2.5 * a), "cosine_similarity(a, 2.5 * a)")
        self.assert_close(same.reshape(()), 1.0, "cosine_similarity(a, 2.5 * a)")


class EuclideanDistance(Question):
    _var = "euclidean_distance"
    _title = "Euclidean (L2) distance"
    _hints = [
        "The L2 distance is the length of the difference vector: $\\|a - b\\|$.",
        "Square the differences, sum them, take the square root — or `np.linalg.norm(a - b)`.",
    ]
    _solution = "The length of `a - b`."
    solution_code = """\
import numpy as np

def euclidean_distance(a, b):
    return np.sqrt(np.sum((a - b) ** 2))
"""

    @staticmethod
    def _mistakes(a, b):
        d = a - b
        lengths = ("that is the difference of the two lengths; the distance is the length of "
                   "the difference vector `a - b`.")
        return [
            (np.sum(d ** 2), "that is the *squared* distance; take the square root "
                             "(`np.sqrt`). It ranks neighbours the same, but it is not the "
                             "length."),
            (np.abs(d).sum(), "that is the L1 (Manhattan) distance; square the differences, "
                              "sum, then take the square root."),
            (np.sqrt(np.mean(d ** 2)), "you took the *mean* of the squared differences "
                                       "(that is the RMS); the distance uses their sum."),
            (np.linalg.norm(a) - np.linalg.norm(b), lengths),
            (np.linalg.norm(b) - np.linalg.norm(a), lengths),
            (np.linalg.norm(a + b), "you added the vectors; the distance is the length of "
                                    "`a - b`."),
            (np.abs(d).max(), "that is the largest single difference (Chebyshev distance); "
                              "square all the differences, sum, then take the square root."),
        ]

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        a, b = draw_telling_apart(
            lambda: rng.normal(size=(2, 6)) * 2.0,
            lambda ab: [np.linalg.norm(ab[0] - ab[1])] + [v for v, _ in self._mistakes(*ab)])
        what = "euclidean_distance(a, b)"
        got = _one_number(self, self.call(fn, a, b, what=what), what,
                          "Sum the squared differences.")
        name_mistake(got, self._mistakes(a, b))
        self.assert_close(got, float(np.linalg.norm(a - b)), what)
        self.assert_close(self.as_array(self.call(fn, a, a)).reshape(()), 0.0,
                          "euclidean_distance(a, a)")


class PairwiseCosine(Question):
    _var = "cosine_table"
    _title = "All cosine similarities at once"
    _hints = [
        "Normalise every row of `A` and every row of `B` to length 1 first.",
        "`np.linalg.norm(A, axis=1, keepdims=True)` gives the row lengths as an "
        "`(n, 1)` column, ready to divide by.",
        "After normalising, one matrix product gives all the dot products: "
        "`A_unit @ B_unit.T` has shape `(n, m)`.",
    ]
    _solution = ("Normalise the rows, then one matrix product. Entry `[i, j]` compares "
                 "`A[i]` with `B[j]`. This matrix product is exactly what the retrieval "
                 "layer of notebook 03 computes.")
    solution_code = """\
import numpy as np

def cosine_table(A, B):
    A_unit = A / np.linalg.norm(A, axis=1, keepdims=True)
    B_unit = B / np.linalg.norm(B, axis=1, keepdims=True)
    return A_unit @ B_unit.T
"""

    @staticmethod
    def _mistakes(A, B):
        An, Bn = _unit(A), _unit(B)
        one = "only one of the two matrices is normalised; normalise both."
        columns = A / np.linalg.norm(A, axis=0) @ (B / np.linalg.norm(B, axis=0)).T
        distances = np.linalg.norm(An[:, None, :] - Bn[None, :, :], axis=2)
        return [
            (A @ B.T, "those are plain dot products; normalise the rows of A and B first."),
            (An @ B.T, one), (A @ Bn.T, one),
            (A @ B.T / (np.linalg.norm(A) * np.linalg.norm(B)),
             "you divided by the norm of the whole matrix; divide each *row* by its own "
             "length (`axis=1, keepdims=True`)."),
            (columns, "you normalised the columns (`axis=0`); each *row* is a vector, so "
                      "normalise along `axis=1`."),
            (distances, "those are distances between the unit vectors (small = alike); "
                        "the table should hold similarities (large = alike)."),
        ]

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        A = rng.normal(size=(4, 5)) * rng.uniform(0.5, 4, size=(4, 1))
        B = rng.normal(size=(3, 5)) * rng.uniform(0.5, 4, size=(3, 1))
        got = self.as_array(self.call(fn, A, B, what="cosine_table(A, B)"), "cosine_table(A, B)")
        want = _unit(A) @ _unit(B).T
        if got.shape == (3, 4):
            raise Wrong("your table has shape (m, n) = (3, 4); rows should be the rows of A "
                        "and columns the rows of B: shape (n, m) = (4, 3). Swap the operands "
                        "or transpose.")
        if got.shape != want.shape:
            raise Wrong(f"with A of shape {A.shape} and B of shape {B.shape} the table "
                        f"should have shape {want.shape}; got {got.shape}.")
        name_mistake(got, self._mistakes(A, B))
        self.assert_close(got, want, "cosine_table(A, B)")


class NearestNeighbour(Question):
    _var = "nearest_neighbour"
    _title = "The most similar index vector"
    _hints = [
        "Compute the cosine similarity of `query` to every row of `index`, then find the "
        "position of the **largest** one.",
        "`cbr_edu.similarity.cosine(index, query)` gives one similarity per row; "
        "`np.argmax` gives the position of the largest.",
    ]
    _solution = ("Highest cosine = nearest neighbour. (With distances you would take the "
                 "*smallest*: `argmin` — of the distances between *normalised* vectors.)")
    solution_code = """\
import numpy as np
from cbr_edu.similarity import cosine

def nearest_neighbour(query, index):
    return int(np.argmax(cosine(index, query)))
"""

    @staticmethod
    def _candidates(query, index):
        """The right row, then the row each mistake picks."""
        sims = _unit(index) @ _unit(query)
        want = int(np.argmax(sims))
        return [
            (want, None),
            (int(np.argmin(sims)), "that is the *least* similar row; the nearest neighbour "
                                   "has the largest cosine (argmax)."),
            (int(np.argmax(index @ query)), "that row has the largest *dot product*, which "
                                            "favours long vectors; use cosine similarity "
                                            "(normalise first)."),
            (int(np.argmin(np.linalg.norm(index - query, axis=1))),
             "that row is the nearest by L2 distance on the *raw* vectors, where length "
             "counts; normalise query and rows first (section 4) or use cosine."),
            (want + 1, "off by one: Python counts rows from 0, so the first row is row 0."),
        ]

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)

        def draw():
            index = rng.normal(size=(8, 4)) * rng.uniform(0.2, 5.0, size=(8, 1))
            return rng.normal(size=4) * rng.uniform(0.3, 3.0), index

        query, index = draw_telling_apart(
            draw, lambda qi: [row for row, _ in self._candidates(*qi)])
        what = "nearest_neighbour(query, index)"
        arr = self.as_array(self.call(fn, query, index, what=what), what)
        if arr.size != 1:
            raise Wrong(f"return one row number (an int), got an array of shape {arr.shape}.")
        got = arr.reshape(()).item()
        if got != int(got):
            raise Wrong(f"return the row number of the neighbour (an int), not its score "
                        f"({got:.3g}).")
        candidates = self._candidates(query, index)
        if int(got) == candidates[0][0]:
            return None
        name_mistake(int(got), candidates[1:])
        raise Wrong(f"row {int(got)} is not the row with the largest cosine similarity.")


class PredictCosine(NumberPrediction):
    _var = "predicted_cosine"
    _title = "Predict, then run: cos(a, 10·b)"
    _hints = [
        "Cosine is the dot product divided by **both** lengths: "
        "$\\frac{a \\cdot (10b)}{\\|a\\|\\,\\|10b\\|}$.",
        "The factor 10 appears once on top and once below. So the answer is the same as "
        "cos(a, b) = (3·4 + 4·3) / (5 · 5).",
    ]
    _solution = ("cos(a, 10b) = 240 / (5 · 50) = 0.96 = cos(a, b): scaling a vector does not "
                 "change its direction, so it does not change the cosine.")
    solution_code = "predicted_cosine = 0.96\n"
    _answer = 0.96
    _tolerance = 0.005
    _mistakes = (
        (240.0, "240 is the dot product a·(10b); the cosine divides it by both lengths."),
        (24.0, "24 is the dot product a·b; the cosine divides it by both lengths."),
        (9.6, "you divided by |a|·|b|, but the second vector is 10b, which is 10 times "
              "longer than b."),
        (0.096, "you divided a·b by |a|·|10b|: take the dot product and the lengths of the "
                "*same* two vectors."),
        (1.0, "a and b do not point the same way (a = (3, 4), b = (4, 3)); 1 would need the "
              "same direction."),
        (np.degrees(np.arccos(0.96)), "that is an angle in degrees; the question asks for "
                                      "the cosine."),
        (float(np.arccos(0.96)), "that is an angle in radians; the question asks for the "
                                 "cosine."),
    )
    _otherwise = ("not quite: work it out on paper — the dot product a·(10b) divided by the "
                  "lengths |a| and |10b|.")


q1 = CosineSimilarity()
q2 = EuclideanDistance()
q3 = PairwiseCosine()
q4 = NearestNeighbour()
p1 = PredictCosine()
