"""Exercises for notebook 03 — the retrieval layer: brute force, Dense weights, the model.

>>> from cbr_edu.exercises.nb03_retrieval_layer import q1
>>> q1.check(lambda queries, index: [0] * len(queries))   # doctest: +ELLIPSIS
Incorrect: ...
"""

import numpy as np

from ..similarity import l2_normalize as _unit
from ._core import Question, Wrong

__all__ = ["q1", "q2", "q3"]


def _data(seed, n_queries=5, n_index=7, dim=6):
    rng = np.random.default_rng(seed)
    index = rng.normal(size=(n_index, dim)) * rng.uniform(0.2, 5.0, size=(n_index, 1))
    queries = rng.normal(size=(n_queries, dim)) * rng.uniform(0.2, 5.0, size=(n_queries, 1))
    return queries.astype(np.float32), index.astype(np.float32)


class BruteForce(Question):
    _var = "brute_force_nearest"
    _title = "Brute-force nearest-neighbour search"
    _hints = [
        "Normalise queries and index rows to length 1, compute the L2 distance from every "
        "query to every index row, and take the position of the **smallest** per query.",
        "For each query `q`: `np.linalg.norm(index_unit - q, axis=1)` is its distance to "
        "every index row. `cbr_edu.similarity.l2(A, B)` gives the whole table at once.",
        "`np.argmin(l2(l2_normalize(queries), l2_normalize(index)), axis=1)`",
    ]
    _solution = ("Loop-free brute force: the full distance table, then the smallest "
                 "distance in every row.")
    solution_code = """\
import numpy as np
from cbr_edu.similarity import l2, l2_normalize

def brute_force_nearest(queries, index):
    distances = l2(l2_normalize(queries), l2_normalize(index))   # (n_queries, n_index)
    return np.argmin(distances, axis=1)
"""

    def _check(self, fn):
        rng_seed = self.seed
        for attempt in range(30):
            queries, index = _data(rng_seed + attempt)
            qn, xn = _unit(queries.astype(float)), _unit(index.astype(float))
            dist = np.linalg.norm(qn[:, None, :] - xn[None, :, :], axis=2)
            want = dist.argmin(axis=1)
            raw = np.linalg.norm(queries[:, None, :] - index[None, :, :], axis=2).argmin(axis=1)
            if not np.array_equal(raw, want):  # inputs where forgetting to normalise shows
                break
        what = "brute_force_nearest(queries, index)"
        got = self.as_array(self.call(fn, queries, index, what=what), what).ravel()
        if got.size != len(queries):
            raise Wrong(f"return one index position per query ({len(queries)}), "
                        f"got {got.size} values.")
        if not np.all(got == np.round(got)):
            raise Wrong("return positions (whole numbers), not distances.")
        got = got.astype(int)
        if np.array_equal(got, dist.argmax(axis=1)):
            raise Wrong("those are the *farthest* rows; with distances take the smallest "
                        "(argmin).")
        if np.array_equal(got, raw) and not np.array_equal(got, want):
            raise Wrong("without normalising, long index vectors are far from everything; "
                        "normalise queries and index rows to length 1 first.")
        if not np.array_equal(got, want):
            raise Wrong(f"expected {want.tolist()}, got {got.tolist()}.")


class RetrievalWeights(Question):
    _var = "retrieval_kernel"
    _title = "The Dense kernel of the retrieval layer"
    _hints = [
        "A Dense layer computes `x @ kernel` with `kernel` of shape `(input_dim, units)`: "
        "here `(dim, n_index)`, one **column** per index image.",
        "Normalise each index row to length 1, then transpose.",
        "`return l2_normalize(index).T`",
    ]
    _solution = ("Rows of the index → columns of the kernel, each of length 1. On a "
                 "normalised query, output `j` is then the cosine similarity to index image `j`.")
    solution_code = """\
from cbr_edu.similarity import l2_normalize

def retrieval_kernel(index):
    return l2_normalize(index).T          # (dim, n_index)
"""

    def _check(self, fn):
        _, index = _data(self.seed)
        what = "retrieval_kernel(index)"
        got = self.as_array(self.call(fn, index, what=what), what)
        n, d = index.shape
        if got.shape == (n, d):
            raise Wrong(f"shape {got.shape} is (n_index, dim): a Dense kernel is "
                        f"(input_dim, units) = {(d, n)}; transpose it (`.T`).")
        if got.shape != (d, n):
            raise Wrong(f"the kernel for {n} index vectors of dimension {d} has shape "
                        f"{(d, n)}; got {got.shape}.")
        want = _unit(index.astype(float)).T
        if np.allclose(got, index.T):
            raise Wrong("right shape, but the columns are not unit length: normalise each "
                        "index row first.")
        if np.allclose(got, index.T / np.linalg.norm(index.T, axis=1, keepdims=True)):
            raise Wrong("you normalised along the wrong axis: each *index vector* (a column "
                        "of the kernel) must have length 1.")
        self.assert_close(got, want, what)


class RetrievalModel(Question):
    _var = "make_retrieval_model"
    _title = "Nearest-neighbour search as a Keras model"
    _hints = [
        "Two layers: normalise the query (`keras.layers.UnitNormalization()`), then a "
        "`keras.layers.Dense(n_index, use_bias=False)` whose kernel is the normalised, "
        "transposed index.",
        "Build it first (`keras.Input(shape=(dim,))`), then set the weights: "
        "`dense.set_weights([l2_normalize(index).T])`.",
    ]
    _solution = ("Normalise → Dense with the normalised index as kernel. Without the "
                 "query normalisation the ranking would still be right, but the outputs "
                 "would be scaled by each query's length instead of being cosines.")
    solution_code = """\
import keras
from cbr_edu.similarity import l2_normalize

def make_retrieval_model(index):
    n_index, dim = index.shape
    inputs = keras.Input(shape=(dim,))
    unit = keras.layers.UnitNormalization()(inputs)
    dense = keras.layers.Dense(n_index, use_bias=False)
    outputs = dense(unit)
    dense.set_weights([l2_normalize(index).T])
    return keras.Model(inputs, outputs)
"""

    def _check(self, fn):
        queries, index = _data(self.seed)
        what = "make_retrieval_model(index)"
        model = self.call(fn, index, what=what)
        if not callable(model):
            raise Wrong(f"{what} should return a Keras model (callable on a batch), got "
                        f"{type(model).__name__}.")
        try:
            out = model(queries)
        except Exception as exc:
            raise Wrong(f"calling your model on a batch of shape {queries.shape} raised "
                        f"{type(exc).__name__}: {exc}") from None
        got = self.as_array(out, "model(queries)")
        want = _unit(queries.astype(float)) @ _unit(index.astype(float)).T
        if got.shape == want.T.shape and got.shape != want.shape:
            raise Wrong(f"outputs have shape {got.shape}; expected (batch, n_index) = "
                        f"{want.shape}. Check the kernel orientation.")
        if got.shape != want.shape:
            raise Wrong(f"outputs have shape {got.shape}; expected (batch, n_index) = "
                        f"{want.shape}.")
        if np.allclose(got, queries @ _unit(index.astype(float)).T, rtol=1e-3, atol=1e-4):
            raise Wrong("the ranking is right but the values are scaled by each query's "
                        "length: normalise the query first (`keras.layers.UnitNormalization`).")
        if np.allclose(got, _unit(queries.astype(float)) @ index.T, rtol=1e-3, atol=1e-4):
            raise Wrong("the kernel is not normalised: use `l2_normalize(index).T`.")
        if np.allclose(np.abs(got), 0):
            raise Wrong("all outputs are zero: did you set the Dense weights "
                        "(`dense.set_weights([...])`) after building the layer?")
        if not np.allclose(got, want, rtol=1e-3, atol=1e-4):
            raise Wrong("the outputs are not the cosine similarities of the queries to the "
                        "index. Check that the Dense kernel is set to `l2_normalize(index).T` "
                        "(`dense.set_weights([...])` after the layer is built) and that the "
                        "queries are normalised first.")
        if not np.array_equal(got.argmax(axis=1), want.argmax(axis=1)):
            raise Wrong("the largest output is not the nearest neighbour for every query.")


q1 = BruteForce()
q2 = RetrievalWeights()
q3 = RetrievalModel()
