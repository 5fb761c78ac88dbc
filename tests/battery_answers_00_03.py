"""Wrong answers learners really write for notebooks 00–03 (see ``battery.py``).

``BATTERY[question id]`` lists the named mistakes, ``RIGHT[question id]`` right answers
written other ways (``None`` = the question's own solution), ``CONTEXTS`` the notebook
names a check reads, ``DETERMINISTIC`` the questions that draw no random inputs.
"""

from __future__ import annotations

import keras
import numpy as np

from battery import mistake as m
from cbr_edu import CbRClassifier
from cbr_edu.layers import RetrievalLayer
from cbr_edu.similarity import cosine

CONTEXTS = {"nb03 index": lambda tmp: {"index": np.zeros((14, 1280), np.float32)}}
DETERMINISTIC: set[str] = set()


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def norm(x):
    return np.linalg.norm(x)


# ------------------------------------------------------------------ 00 welcome

NB00 = {
    "nb00_welcome.q1": [
        m("one epoch to learn the index", "single epoch", 1),
        m("a fine-tuning schedule", "without training", 10),
        m("the answer in words", "number itself", "zero"),
        m("a fraction of an epoch", "whole passes", 0.5),
        m("a negative count", "0 or more", -1),
    ],
    "nb00_welcome.q2": [
        m("layers swapped", "swapped", 5, 15),
        m("photos per class as the retrieval size", "indexed image", 3, 5),
        m("added instead of multiplied", "multiply", 8, 5),
        m("aggregation keeps one score per image", "per class", 15, 15),
        m("aggregation picks the single winner", "every class a score", 15, 1),
        m("photos per class as the aggregation size", "per class", 15, 3),
    ],
}

# ------------------------------------------------------------------ 01 similarity

NB01 = {
    "nb01_similarity.q1": [
        m("plain dot product", "plain dot product", lambda a, b: np.dot(a, b)),
        m("divided by one length", "only one", lambda a, b: a @ b / norm(a)),
        m("operator precedence", "precedence", lambda a, b: a @ b / norm(a) * norm(b)),
        m("squared lengths", "squared", lambda a, b: a @ b / ((a @ a) * (b @ b))),
        m("the angle", "angle", lambda a, b: np.arccos(a @ b / (norm(a) * norm(b)))),
        m("cosine distance", "distance", lambda a, b: 1 - a @ b / (norm(a) * norm(b))),
        m("element-wise product", "one number", lambda a, b: a * b / (norm(a) * norm(b))),
    ],
    "nb01_similarity.q2": [
        m("squared distance", "squared", lambda a, b: np.sum((a - b) ** 2)),
        m("L1 distance", "L1", lambda a, b: np.sum(np.abs(a - b))),
        m("mean instead of sum", "mean", lambda a, b: np.sqrt(np.mean((a - b) ** 2))),
        m("difference of lengths", "difference of the two lengths",
          lambda a, b: norm(a) - norm(b)),
        m("sum instead of difference", "added", lambda a, b: norm(a + b)),
        m("largest difference", "chebyshev", lambda a, b: np.max(np.abs(a - b))),
        m("element-wise distances", "one number", lambda a, b: np.abs(a - b)),
    ],
    "nb01_similarity.q3": [
        m("table transposed", "transpose", lambda A, B: unit(B) @ unit(A).T),
        m("no normalisation", "plain dot products", lambda A, B: A @ B.T),
        m("only A normalised", "only one", lambda A, B: unit(A) @ B.T),
        m("whole-matrix norm", "whole matrix", lambda A, B: A @ B.T / (norm(A) * norm(B))),
        m("wrong axis", "axis=1",
          lambda A, B: A / np.linalg.norm(A, axis=0) @ (B / np.linalg.norm(B, axis=0)).T),
        m("distance instead of similarity", "distances",
          lambda A, B: np.linalg.norm(unit(A)[:, None] - unit(B)[None], axis=2)),
    ],
    "nb01_similarity.q4": [
        m("argmin instead of argmax", "least", lambda q, X: int(np.argmin(unit(X) @ unit(q)))),
        m("largest dot product", "dot product", lambda q, X: int(np.argmax(X @ q))),
        m("raw L2 distance", "raw", lambda q, X: int(np.argmin(np.linalg.norm(X - q, axis=1)))),
        m("rows counted from 1", "off by one", lambda q, X: int(np.argmax(unit(X) @ unit(q))) + 1),
        m("the score instead of the row", "row number",
          lambda q, X: float(np.max(unit(X) @ unit(q)))),
        m("all the similarities", "one row number", lambda q, X: unit(X) @ unit(q)),
    ],
    "nb01_similarity.p1": [
        m("the dot product a·10b", "dot product", 240),
        m("the dot product a·b", "dot product", 24),
        m("forgot 10b is longer", "10 times longer", 9.6),
        m("mixed the vectors", "same", 0.096),
        m("same direction means 1", "direction", 1),
        m("the angle in degrees", "degrees", 16.26),
        m("the guess as text", "number", "0.96"),
    ],
}

# ------------------------------------------------------------------ 02 embeddings


def _cos_table(A, B):
    return unit(A) @ unit(B).T


def _one_nn(choose):
    def accuracy(train_x, train_y, test_x, test_y):
        return float(np.mean(train_y[choose(train_x, test_x)] == test_y))
    return accuracy


NB02 = {
    "nb02_embeddings.q1": [
        m("ascending sort", "least similar", lambda q, G, k: np.argsort(_cos_table(G, q))[:k]),
        m("right set, ascending order", "order", lambda q, G, k: np.argsort(_cos_table(G, q))[-k:]),
        m("dot products", "dot products", lambda q, G, k: np.argsort(-(G @ q))[:k]),
        m("raw L2 distance", "raw", lambda q, G, k: np.argsort(np.linalg.norm(G - q, axis=1))[:k]),
        m("k + 1 positions", "4 positions", lambda q, G, k: np.argsort(-_cos_table(G, q))[:k + 1]),
        m("positions from 1", "off by one", lambda q, G, k: np.argsort(-_cos_table(G, q))[:k] + 1),
        m("similarities instead of positions", "positions",
          lambda q, G, k: np.sort(_cos_table(G, q))[::-1][:k]),
    ],
    "nb02_embeddings.q2": [
        m("percentage", "percentage",
          lambda *a: 100 * _one_nn(lambda tr, te: _cos_table(te, tr).argmax(1))(*a)),
        m("error rate", "error rate",
          lambda *a: 1 - _one_nn(lambda tr, te: _cos_table(te, tr).argmax(1))(*a)),
        m("least similar neighbour", "least similar",
          _one_nn(lambda tr, te: _cos_table(te, tr).argmin(1))),
        m("count instead of fraction", "count",
          lambda trx, tr_y, tex, te_y: int(np.sum(tr_y[_cos_table(tex, trx).argmax(1)] == te_y))),
        m("dot products", "dot product", _one_nn(lambda tr, te: (te @ tr.T).argmax(1))),
        m("raw L2 distance", "raw",
          _one_nn(lambda tr, te: np.linalg.norm(te[:, None] - tr[None], axis=2).argmin(1))),
        m("a boolean array", "one number", lambda trx, tr_y, tex, te_y:
          tr_y[_cos_table(tex, trx).argmax(1)] == te_y),
    ],
    "nb02_embeddings.q3": [
        m("centred on X's own mean", "mean of x", lambda X, R: unit(X - X.mean(0))),
        m("normalised first", "normalised first", lambda X, R: unit(X) - unit(R).mean(0)),
        m("not normalised", "not normalised", lambda X, R: X - R.mean(0)),
        m("not centred", "not centred", lambda X, R: unit(X)),
        m("mean over the wrong axis", "axis=0", lambda X, R: unit(X - X.mean(axis=1, keepdims=True))),
        m("one scalar mean", "axis=0", lambda X, R: unit(X - R.mean())),
        m("whole-matrix norm", "whole matrix",
          lambda X, R: (X - R.mean(0)) / np.linalg.norm(X - R.mean(0))),
    ],
    "nb02_embeddings.p1": [
        m("bigger training set wins", "imagenet", "a"),
        m("more dimensions win", "more numbers", "b"),
        m("pixels, but only just", "the size", "c"),
        m("too few examples", "chance", "e"),
        m("the option's text", "one of the options", "raw pixels"),
        m("a number", "one letter", 4),
    ],
}

# ------------------------------------------------------------------ 03 the retrieval layer


def _dist(Q, X):
    return np.linalg.norm(Q[:, None] - X[None], axis=2)


def _keras_retrieval(index, *, normalise_query=True, kernel=None, set_weights=True,
                     use_bias=False):
    n, d = index.shape
    inputs = keras.Input(shape=(d,))
    x = keras.layers.UnitNormalization()(inputs) if normalise_query else inputs
    dense = keras.layers.Dense(n, use_bias=use_bias)
    outputs = dense(x)
    if set_weights:
        k = unit(index).T if kernel is None else kernel
        dense.set_weights([k] + ([np.full(n, 0.1)] if use_bias else []))
    return keras.Model(inputs, outputs)


def _lambda_model(index):
    kernel = keras.ops.convert_to_tensor(unit(index).T)
    inputs = keras.Input(shape=(index.shape[1],))
    outputs = keras.layers.Lambda(lambda x: keras.ops.matmul(
        x / keras.ops.norm(x, axis=1, keepdims=True), kernel))(inputs)
    return keras.Model(inputs, outputs)


NB03 = {
    "nb03_retrieval_layer.q1": [
        m("largest distance", "farthest", lambda Q, X: _dist(unit(Q), unit(X)).argmax(1)),
        m("no normalisation", "normalis", lambda Q, X: _dist(Q, X).argmin(1)),
        m("raw dot products", "dot products", lambda Q, X: (Q @ X.T).argmax(1)),
        m("only the queries normalised", "normalise both", lambda Q, X: _dist(unit(Q), X).argmin(1)),
        m("positions from 1", "off by one", lambda Q, X: _dist(unit(Q), unit(X)).argmin(1) + 1),
        m("distances instead of positions", "whole numbers",
          lambda Q, X: _dist(unit(Q), unit(X)).min(1)),
        m("wrong axis", "one index position per query",
          lambda Q, X: _dist(unit(Q), unit(X)).argmin(0)),
    ],
    "nb03_retrieval_layer.q2": [
        m("not transposed", "transpose", lambda X: unit(X)),
        m("not normalised", "unit length", lambda X: X.T),
        m("wrong axis", "wrong axis", lambda X: unit(X.T)),
        m("reshape instead of transpose", "reshape", lambda X: unit(X).reshape(X.shape[::-1])),
        m("whole-matrix norm", "whole matrix", lambda X: X.T / np.linalg.norm(X)),
        m("a column dropped", "shape", lambda X: unit(X).T[:, :-1]),
    ],
    "nb03_retrieval_layer.q3": [
        m("a numpy function", "plain python function",
          lambda X: (lambda Q: unit(Q) @ unit(X).T)),
        m("a numpy array", "keras.model", lambda X: unit(X).T),
        m("a layer, not a model", "returned a layer", lambda X: RetrievalLayer(X)),
        m("no query normalisation", "normalise the query",
          lambda X: _keras_retrieval(X, normalise_query=False)),
        m("kernel not normalised", "not normalised", lambda X: _keras_retrieval(X, kernel=X.T)),
        m("weights never set", "set_weights", lambda X: _keras_retrieval(X, set_weights=False)),
        m("reshape instead of transpose", "reshape",
          lambda X: _keras_retrieval(X, kernel=unit(X).reshape(X.shape[::-1]))),
        m("bias left on", "use_bias=false", lambda X: _keras_retrieval(X, use_bias=True)),
        m("no Dense layer", "dense", _lambda_model),
    ],
    "nb03_retrieval_layer.p1": [
        m("a bias counted", "bias", 14 * 1280 + 14, context="nb03 index"),
        m("one weight per image", "per index image", 14, context="nb03 index"),
        m("one weight per dimension", "per dimension", 1280, context="nb03 index"),
        m("bytes instead of weights", "bytes", 4 * 14 * 1280, context="nb03 index"),
        m("sizes added", "added", 14 + 1280, context="nb03 index"),
    ],
}

BATTERY = {**NB00, **NB01, **NB02, **NB03}


def _l2_on_unit_vectors(q, X):
    return int(np.argmin(np.linalg.norm(unit(X) - unit(q), axis=1)))


def _dense_with(kernel):
    dense = keras.layers.Dense(kernel.shape[1], use_bias=False)
    dense.build((None, kernel.shape[0]))
    dense.set_weights([kernel])
    return dense


def _sequential(index):
    return keras.Sequential([keras.Input(shape=(index.shape[1],)),
                             keras.layers.UnitNormalization(), _dense_with(unit(index).T)])


RIGHT = {qid: [("solution", None, None)] for qid in BATTERY}
RIGHT["nb03_retrieval_layer.p1"] = [("solution", "nb03 index", None),
                                    ("the number", "nb03 index", (17920,))]
RIGHT["nb01_similarity.q1"].append(("normalise first", None, (
    lambda a, b: float(np.sum(unit(a) * unit(b))),)))
RIGHT["nb01_similarity.q3"].append(("the package's cosine", None, (cosine,)))
RIGHT["nb01_similarity.q4"].append(("L2 on unit vectors", None, (_l2_on_unit_vectors,)))
RIGHT["nb01_similarity.p1"].append(("24/25", None, (24 / 25,)))
RIGHT["nb02_embeddings.q1"].append(("L2 on unit vectors", None, (
    lambda q, G, k: np.argsort(np.linalg.norm(unit(G) - unit(q), axis=1))[:k],)))
RIGHT["nb02_embeddings.q2"].append(("CbRClassifier.score", None, (
    lambda trx, tr_y, tex, te_y: CbRClassifier().fit(trx, tr_y).score(tex, te_y),)))
RIGHT["nb02_embeddings.p1"].append(("capital letter", None, ("D",)))
RIGHT["nb03_retrieval_layer.q1"].append(("cosine argmax", None, (
    lambda Q, X: (unit(Q) @ unit(X).T).argmax(1),)))
RIGHT["nb03_retrieval_layer.q3"].append(("Sequential", None, (_sequential,)))
