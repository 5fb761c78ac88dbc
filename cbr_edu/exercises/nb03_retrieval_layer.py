"""Exercises for notebook 03 — the retrieval layer: brute force, Dense weights, the model.

``p1`` is a *predict, then run* question: how many weights the retrieval layer of the
notebook's index has, guessed before the model summary shows it.

>>> from cbr_edu.exercises.nb03_retrieval_layer import q1
>>> q1.check(lambda queries, index: [0] * len(queries))   # doctest: +ELLIPSIS
Incorrect: ...
"""

import numpy as np

from ..similarity import l2_normalize as _unit
from ._core import Question, Wrong
from ._mistakes import close, draw_telling_apart, name_mistake
from ._models import require_model, run_model
from ._predict import NumberPrediction

__all__ = ["q1", "q2", "q3", "p1"]


def _data(rng, n_queries=5, n_index=7, dim=6):
    index = rng.normal(size=(n_index, dim)) * rng.uniform(0.2, 5.0, size=(n_index, 1))
    queries = rng.normal(size=(n_queries, dim)) * rng.uniform(0.2, 5.0, size=(n_queries, 1))
    return queries.astype(np.float32), index.astype(np.float32)


def _distances(queries, index):
    return np.linalg.norm(queries[:, None, :] - index[None, :, :], axis=2)


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

    @staticmethod
    def _answers(queries, index):
        """The right positions, then what each mistake gives."""
        qn, xn = _unit(queries.astype(float)), _unit(index.astype(float))
        dist = _distances(qn, xn)
        raw = "without normalising, length counts: normalise queries and index rows to " \
              "length 1 first."
        return [
            (dist.argmin(axis=1), None),
            (dist.argmax(axis=1), "those are the *farthest* rows; with distances take the "
                                  "smallest (argmin)."),
            (_distances(queries, index).argmin(axis=1), raw),
            ((queries @ index.T).argmax(axis=1), "those have the largest raw *dot products*, "
                                                 "which favour long vectors; " + raw),
            (_distances(qn, index).argmin(axis=1),
             "you normalised the queries but not the index rows: long index vectors are "
             "then far from everything. Normalise both."),
            (dist.argmin(axis=1) + 1, "off by one: positions count from 0, as numpy indexes."),
        ]

    def _check(self, fn):
        rng = np.random.default_rng(self.seed)
        queries, index = draw_telling_apart(
            lambda: _data(rng), lambda qi: [v for v, _ in self._answers(*qi)])
        what = "brute_force_nearest(queries, index)"
        got = self.as_array(self.call(fn, queries, index, what=what), what).ravel()
        if got.size != len(queries):
            raise Wrong(f"return one index position per query ({len(queries)}), "
                        f"got {got.size} values.")
        if not np.all(got == np.round(got)):
            raise Wrong("return positions (whole numbers), not distances.")
        answers = self._answers(queries, index)
        if np.array_equal(got, answers[0][0]):
            return None
        name_mistake(got.astype(int), answers[1:])
        raise Wrong(f"{got.astype(int).tolist()} are not the nearest index rows of the queries.")


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

    @staticmethod
    def _mistakes(index):
        n, d = index.shape
        return [
            (index.T, "right shape, but the columns are not unit length: normalise each "
                      "index row first."),
            (index.T / np.linalg.norm(index.T, axis=1, keepdims=True),
             "you normalised along the wrong axis: each *index vector* (a column of the "
             "kernel) must have length 1."),
            (_unit(index.astype(float)).reshape(d, n),
             "right shape, wrong numbers: `reshape` does not transpose — it re-cuts the "
             "numbers in memory order. Use `.T`."),
            (index.T / np.linalg.norm(index), "you divided by the norm of the whole matrix; "
                                              "normalise each index vector on its own."),
        ]

    def _check(self, fn):
        _, index = _data(np.random.default_rng(self.seed))
        what = "retrieval_kernel(index)"
        got = self.as_array(self.call(fn, index, what=what), what)
        n, d = index.shape
        if got.shape == (n, d):
            raise Wrong(f"shape {got.shape} is (n_index, dim): a Dense kernel is "
                        f"(input_dim, units) = {(d, n)}; transpose it (`.T`).")
        if got.shape != (d, n):
            raise Wrong(f"the kernel for {n} index vectors of dimension {d} has shape "
                        f"{(d, n)}; got {got.shape}.")
        name_mistake(got, self._mistakes(index), rtol=1e-4, atol=1e-6)
        self.assert_close(got, _unit(index.astype(float)).T, what)


_RECIPE = "keras.Input → keras.layers.UnitNormalization → keras.layers.Dense"


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
        queries, index = _data(np.random.default_rng(self.seed))
        what = "make_retrieval_model(index)"
        model = require_model(self.call(fn, index, what=what), what, _RECIPE)
        _check_dense(model, index)
        got = run_model(model, queries)
        want = _unit(queries.astype(float)) @ _unit(index.astype(float)).T
        if got.shape != want.shape:
            raise Wrong(f"outputs have shape {got.shape}; expected (batch, n_index) = "
                        f"{want.shape}.")
        if close(got, queries @ _unit(index.astype(float)).T, rtol=1e-3, atol=1e-4):
            raise Wrong("the ranking is right but the values are scaled by each query's "
                        "length: normalise the query first (`keras.layers.UnitNormalization`).")
        if not close(got, want, rtol=1e-3, atol=1e-4):
            raise Wrong("the outputs are not the cosine similarities of the queries to the "
                        "index: normalise the queries first, then the Dense layer.")


def _check_dense(model, index):
    """The model's Dense layer is the retrieval layer: no bias, kernel = unit(index).T."""
    import keras

    from ..model import layers_of

    n, d = index.shape
    dense = [layer for layer in layers_of(model) if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise Wrong("your model has no `keras.layers.Dense` layer. The lesson is to write "
                    "the search as one Dense layer (the package's RetrievalLayer is what you "
                    f"are building here): {_RECIPE}.")
    layer = next((x for x in dense if x.units == n), dense[0])
    if layer.bias is not None:
        raise Wrong("the Dense layer has a bias: a retrieval layer is "
                    "`Dense(n_index, use_bias=False)`, so each output is a cosine and nothing "
                    "else.")
    kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), dtype=np.float64)
    if kernel.shape != (d, n):
        raise Wrong(f"the Dense kernel has shape {kernel.shape}; for {n} index vectors of "
                    f"dimension {d} it is (dim, n_index) = {(d, n)}.")
    name_mistake(kernel, [
        (index.T, "the kernel is not normalised: use `l2_normalize(index).T`."),
        (_unit(index.astype(float)).reshape(d, n), "the kernel is the normalised index "
                                                   "*reshaped*; reshape is not a transpose "
                                                   "— use `.T`."),
    ], rtol=1e-4, atol=1e-5)
    if not close(kernel, _unit(index.astype(float)).T, rtol=1e-4, atol=1e-5):
        raise Wrong("the Dense kernel is not the normalised index: did you set its weights "
                    "(`dense.set_weights([l2_normalize(index).T])`) after building the layer?")


class PredictWeights(NumberPrediction):
    _var = "predicted_weights"
    needs_notebook = True  # the answer is computed from the notebook's `index`
    _title = "Predict, then run: how many weights has the retrieval layer?"
    _hints = [
        "The Dense layer's kernel has shape `(dim, n_index)`; `use_bias=False` means no "
        "bias; `UnitNormalization` has no weights at all.",
        "`index.shape` is `(n_index, dim)`: multiply the two.",
    ]
    _solution = ("One weight per (dimension, index image) pair: `n_index × dim`. The index "
                 "*is* the layer's weights — nothing else is stored.")
    solution_code = "predicted_weights = index.shape[0] * index.shape[1]\n"
    _mistake_rtol = 0.0   # a count is exact

    def _shape(self):
        index = np.asarray(self.lookup("index"))
        return index.shape

    def answer(self):
        n, d = self._shape()
        return n * d

    def mistakes(self):
        n, d = self._shape()
        return [
            (n * d + n, "that counts a bias; the retrieval layer is built with "
                        "`use_bias=False`."),
            (n, "one weight per index image? Each index image brings a whole embedding: one "
                "weight per dimension."),
            (d, "one weight per dimension? Every index image has its own column of weights."),
            (4 * n * d, "that is the number of *bytes* in float32 (4 per weight); the "
                        "question asks for the number of weights."),
            (n + d, "you added the two sizes; the kernel is a table with one row per "
                    "dimension and one column per index image."),
        ]
    _otherwise = "not quite: count the entries of the kernel, whose shape is `(dim, n_index)`."


q1 = BruteForce()
q2 = RetrievalWeights()
q3 = RetrievalModel()
p1 = PredictWeights()
