"""Naming a learner's mistake: compare the answer with what each typical mistake gives.

A check computes, on its fresh inputs, the right result and the result of every mistake
it knows; :func:`name_mistake` raises :class:`~._core.Wrong` with the message of the
mistake the answer matches. :func:`draw_telling_apart` draws inputs until the right
result and every mistake's result all differ, so no known mistake passes by luck.

Example
-------
>>> import numpy as np
>>> a, b = np.array([3.0, 4.0]), np.array([1.0, 0.0])
>>> mistakes = [(a @ b, "that is the plain dot product")]
>>> name_mistake(3.0, mistakes)
Traceback (most recent call last):
...
cbr_edu.exercises._core.Wrong: that is the plain dot product
>>> telling_apart([0.6, a @ b])
True
"""

from __future__ import annotations

import numpy as np

from ._core import Wrong

__all__ = ["close", "name_mistake", "telling_apart", "draw_telling_apart"]


def close(got, value, *, rtol=1e-5, atol=1e-8) -> bool:
    """True when ``got`` equals ``value``: same shape and close (numbers) or equal (text)."""
    got, value = np.asarray(got), np.asarray(value)
    if got.shape != value.shape:
        return False
    numeric = "biuf"
    if got.dtype.kind in numeric and value.dtype.kind in numeric:
        with np.errstate(invalid="ignore"):
            return bool(np.allclose(got.astype(float), value.astype(float), rtol=rtol, atol=atol))
    return bool(np.array_equal(got, value))


def name_mistake(got, mistakes, *, rtol=1e-5, atol=1e-8):
    """Raise Wrong with the message of the first ``(value, message)`` that ``got`` matches."""
    for value, message in mistakes:
        if close(got, value, rtol=rtol, atol=atol):
            raise Wrong(message)


def telling_apart(results, *, rtol=1e-4, atol=1e-6) -> bool:
    """True when no two of ``results`` are close: every mistake gives something else."""
    results = list(results)
    return not any(close(results[i], results[j], rtol=rtol, atol=atol)
                   for i in range(len(results)) for j in range(i))


def draw_telling_apart(draw, results, *, tries=200):
    """Call ``draw()`` until ``results(inputs)`` tell each other apart; return the inputs.

    ``results`` maps the drawn inputs to the right result followed by what each known
    mistake gives. After ``tries`` draws the last inputs are returned as they are.
    """
    inputs = draw()
    for _ in range(tries - 1):
        if telling_apart(results(inputs)):
            break
        inputs = draw()
    return inputs
