"""Similarity between vectors: dot product, cosine, (squared) L2 distance.

Everything here is plain numpy and works on single vectors (shape ``(d,)``) or
on matrices of row vectors (shape ``(n, d)``). Two matrices give the full
pairwise table, ``(n, m)``.

The identity the whole of Classification-by-Retrieval rests on: for unit
vectors ``a`` and ``b``, ``||a - b||**2 == 2 - 2 * cos(a, b)``, so the most
similar (largest cosine) index vector is also the nearest (smallest L2).

Example
-------
>>> import numpy as np
>>> a, b = np.array([3.0, 4.0]), np.array([4.0, 3.0])
>>> round(float(cosine(a, b)), 2)
0.96
>>> ua, ub = l2_normalize(a), l2_normalize(b)
>>> bool(np.isclose(squared_l2(ua, ub), 2 - 2 * cosine(ua, ub)))
True
"""

import numpy as np

__all__ = ["dot", "cosine", "l2", "squared_l2", "l2_normalize"]


def _as_float(x):
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(f"expected a vector (d,) or a matrix (n, d), got shape {x.shape}")
    return x


def _check_same_dim(a, b):
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"vectors must have the same length: got {a.shape[-1]} and {b.shape[-1]}")


def l2_normalize(x):
    """Scale each row to unit length; zero rows stay zero (no NaN).

    Rows are first divided by their largest absolute value, so vectors whose
    squares would underflow (or overflow) still come out with length 1.

    >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    >>> round(float(np.linalg.norm(l2_normalize(np.full(5, 1e-162)))), 12)
    1.0
    """
    x = _as_float(x)
    largest = np.max(np.abs(x), axis=-1, keepdims=True) if x.size else np.ones(x.shape[:-1] + (1,))
    x = np.divide(x, largest, out=np.zeros_like(x), where=largest > 0)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def dot(a, b):
    """Dot products: a scalar for two vectors, a table for two matrices.

    >>> dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.float64(11.0)
    """
    a, b = _as_float(a), _as_float(b)
    _check_same_dim(a, b)
    return a @ b.T


def cosine(a, b):
    """Cosine similarity in [-1, 1]; a zero vector has similarity 0 to everything.

    >>> float(cosine(np.array([1.0, 0.0]), np.array([0.0, 2.0])))
    0.0
    """
    return dot(l2_normalize(a), l2_normalize(b))


def squared_l2(a, b):
    """Squared Euclidean distance ``||a - b||**2`` (pairwise for matrices).

    >>> float(squared_l2(np.array([0.0, 0.0]), np.array([3.0, 4.0])))
    25.0
    """
    a, b = _as_float(a), _as_float(b)
    _check_same_dim(a, b)
    if a.ndim == 1 and b.ndim == 1:
        return np.sum((a - b) ** 2)
    a2 = np.atleast_2d(a)
    b2 = np.atleast_2d(b)
    d = (np.sum(a2 ** 2, axis=1)[:, None] + np.sum(b2 ** 2, axis=1)[None, :]
         - 2.0 * a2 @ b2.T)
    d = np.maximum(d, 0.0)  # rounding can dip a hair below zero
    if a.ndim == 1:
        return d[0]
    if b.ndim == 1:
        return d[:, 0]
    return d


def l2(a, b):
    """Euclidean distance ``||a - b||`` (pairwise for matrices).

    >>> float(l2(np.array([0.0, 0.0]), np.array([3.0, 4.0])))
    5.0
    """
    return np.sqrt(squared_l2(a, b))
