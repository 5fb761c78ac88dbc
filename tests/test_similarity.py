import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from cbr_edu.similarity import cosine, dot, l2, l2_normalize, squared_l2

finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)


def vectors(n=None, d=5):
    shape = (d,) if n is None else (n, d)
    return arrays(np.float64, shape, elements=finite)


@given(vectors(), vectors())
def test_unit_vector_identity(a, b):
    a, b = l2_normalize(a), l2_normalize(b)
    if np.linalg.norm(a) == 0 or np.linalg.norm(b) == 0:
        return  # the identity is about unit vectors
    assert squared_l2(a, b) == pytest.approx(2 - 2 * cosine(a, b), abs=1e-9)


@given(vectors(4), vectors(3))
def test_pairwise_tables_match_loops(A, B):
    D = squared_l2(A, B)
    C = cosine(A, B)
    assert D.shape == C.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            assert D[i, j] == pytest.approx(np.sum((A[i] - B[j]) ** 2), rel=1e-6, abs=1e-6)
            assert l2(A[i], B[j]) == pytest.approx(np.linalg.norm(A[i] - B[j]), rel=1e-6, abs=1e-6)
            assert dot(A[i], B[j]) == pytest.approx(float(A[i] @ B[j]), rel=1e-9, abs=1e-9)


def test_cosine_known_values():
    assert cosine([1.0, 0.0], [0.0, 3.0]) == pytest.approx(0.0)
    assert cosine([1.0, 1.0], [2.0, 2.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [-5.0, 0.0]) == pytest.approx(-1.0)
    assert np.all(np.abs(cosine(np.random.default_rng(0).normal(size=(6, 3)),
                                np.random.default_rng(1).normal(size=(2, 3)))) <= 1 + 1e-12)


def test_normalize_handles_zero_rows_without_nan():
    x = np.array([[0.0, 0.0, 0.0], [0.0, 3.0, 4.0]])
    n = l2_normalize(x)
    assert not np.isnan(n).any()
    assert np.allclose(n[0], 0) and np.allclose(n[1], [0, 0.6, 0.8])
    assert cosine(x[0], x[1]) == 0.0


def test_vector_and_matrix_shapes():
    a, B = np.ones(3), np.ones((4, 3))
    assert np.shape(squared_l2(a, B)) == (4,)
    assert np.shape(squared_l2(B, a)) == (4,)
    assert np.shape(dot(a, B)) == (4,)
    assert np.ndim(l2(a, a)) == 0


def test_dimension_mismatch_is_clear():
    with pytest.raises(ValueError, match="same length"):
        cosine(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="vector"):
        dot(np.ones((2, 2, 2)), np.ones(2))
