"""Exercises for notebook 01 — similarity: cosine, L2, the pairwise table, nearest neighbour.

>>> from cbr_edu.exercises.nb01_similarity import q1
>>> q1.check(lambda a, b: 0.0)          # doctest: +ELLIPSIS
Incorrect: ...
"""

import numpy as np

from ._core import Question, Wrong, random_vectors

__all__ = ["q1", "q2", "q3", "q4"]


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


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

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        a, b = rng.normal(size=(2, 7))
        a *= 3.0  # lengths far from 1 expose a missing normalisation
        got = self.as_array(self.call(fn, a, b, what="cosine_similarity(a, b)"),
                            "cosine_similarity(a, b)")
        if got.size != 1:
            raise Wrong(f"cosine_similarity(a, b) of two vectors should be one number, "
                        f"got an array of shape {got.shape}. Did you multiply instead of "
                        "taking the dot product?")
        got = float(got.reshape(()))
        want = _cos(a, b)
        if np.isclose(got, a @ b) and not np.isclose(got, want):
            raise Wrong("that is the plain dot product; divide it by the lengths of both "
                        "vectors (`np.linalg.norm`).")
        if np.isclose(got, a @ b / np.linalg.norm(a)) or np.isclose(got, a @ b / np.linalg.norm(b)):
            raise Wrong("you divided by the length of only one vector; divide by both.")
        if np.isclose(got, np.arccos(np.clip(want, -1, 1))):
            raise Wrong("that is the angle (arccos); return the cosine itself.")
        self.assert_close(got, want, f"cosine_similarity(a, b) with a={np.round(a, 2)}")
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

    def _check(self, fn):
        a, b = random_vectors(2, 6, seed=self.seed) * 2.0
        got = self.as_array(self.call(fn, a, b, what="euclidean_distance(a, b)"),
                            "euclidean_distance(a, b)")
        if got.size != 1:
            raise Wrong(f"the distance between two vectors is one number; got shape {got.shape}. "
                        "Sum the squared differences.")
        got = float(got.reshape(()))
        want = float(np.linalg.norm(a - b))
        if np.isclose(got, want ** 2):
            raise Wrong("that is the *squared* distance; take the square root "
                        "(`np.sqrt`). It ranks neighbours the same, but it is not the length.")
        if np.isclose(got, np.abs(a - b).sum()):
            raise Wrong("that is the L1 (Manhattan) distance; square the differences, "
                        "sum, then take the square root.")
        self.assert_close(got, want, "euclidean_distance(a, b)")
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

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        A = rng.normal(size=(4, 5)) * rng.uniform(0.5, 4, size=(4, 1))
        B = rng.normal(size=(3, 5)) * rng.uniform(0.5, 4, size=(3, 1))
        got = self.as_array(self.call(fn, A, B, what="cosine_table(A, B)"), "cosine_table(A, B)")
        An = A / np.linalg.norm(A, axis=1, keepdims=True)
        Bn = B / np.linalg.norm(B, axis=1, keepdims=True)
        want = An @ Bn.T
        if got.shape == (3, 4):
            raise Wrong("your table has shape (m, n) = (3, 4); rows should be the rows of A "
                        "and columns the rows of B: shape (n, m) = (4, 3). Swap the operands "
                        "or transpose.")
        if got.shape != want.shape:
            raise Wrong(f"with A of shape {A.shape} and B of shape {B.shape} the table "
                        f"should have shape {want.shape}; got {got.shape}.")
        if np.allclose(got, A @ B.T):
            raise Wrong("those are plain dot products; normalise the rows of A and B first.")
        if np.allclose(got, An @ B.T) or np.allclose(got, A @ Bn.T):
            raise Wrong("only one of the two matrices is normalised; normalise both.")
        if np.allclose(got, A @ B.T / (np.linalg.norm(A) * np.linalg.norm(B))):
            raise Wrong("you divided by the norm of the whole matrix; divide each *row* by "
                        "its own length (`axis=1, keepdims=True`).")
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
                 "*smallest*: `argmin`.)")
    solution_code = """\
import numpy as np
from cbr_edu.similarity import cosine

def nearest_neighbour(query, index):
    return int(np.argmax(cosine(index, query)))
"""

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        for trial in range(20):
            index = rng.normal(size=(6, 4))
            # lengths vary a lot, so the biggest dot product is usually not the nearest
            index *= rng.uniform(0.2, 5.0, size=(6, 1))
            query = rng.normal(size=4)
            sims = (index / np.linalg.norm(index, axis=1, keepdims=True)) @ (
                query / np.linalg.norm(query))
            if np.argmax(index @ query) != np.argmax(sims) or trial == 19:
                break
        got = self.call(fn, query, index, what="nearest_neighbour(query, index)")
        arr = self.as_array(got, "nearest_neighbour(query, index)")
        if arr.size != 1:
            raise Wrong(f"return one row number (an int), got an array of shape {arr.shape}.")
        got = arr.reshape(()).item()
        if got != int(got):
            raise Wrong(f"return the row number of the neighbour (an int), not its score "
                        f"({got:.3g}).")
        got = int(got)
        if got == int(np.argmin(sims)):
            raise Wrong("that is the *least* similar row; the nearest neighbour has the "
                        "largest cosine (argmax).")
        if got == int(np.argmax(index @ query)) and got != int(np.argmax(sims)):
            raise Wrong("that row has the largest *dot product*, which favours long vectors; "
                        "use cosine similarity (normalise first).")
        if got != int(np.argmax(sims)):
            raise Wrong(f"expected row {int(np.argmax(sims))}, got {got}.")


q1 = CosineSimilarity()
q2 = EuclideanDistance()
q3 = PairwiseCosine()
q4 = NearestNeighbour()
