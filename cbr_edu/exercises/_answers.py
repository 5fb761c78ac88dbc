"""What a check does with a learner's answer: private copies of inputs, comparison, description.

Example
-------
>>> import numpy as np
>>> a = np.zeros(2); b = private_copy(a); b += 1
>>> same(a, np.zeros(2)), describe(float("nan"))
(True, 'nan (not a finite number)')
"""

import numpy as np

__all__ = ["private_copy", "same", "describe"]


def private_copy(value):
    """A copy of arrays and of the lists, tuples and dicts that hold them (the rest shared)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [private_copy(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(private_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: private_copy(v) for k, v in value.items()}
    return value


def same(a, b) -> bool:
    """Equal content (arrays by value, NaN equal to NaN), through lists, tuples and dicts."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a is b or a == b


def describe(value) -> str:
    """A short description of an answer: type, shape, a glimpse, NaN / inf."""
    if isinstance(value, np.ndarray) or hasattr(value, "shape"):
        arr = np.asarray(value)
        text = f"an array of shape {arr.shape} ({arr.dtype})"
        if arr.dtype.kind in "fc" and arr.size and not np.all(np.isfinite(arr)):
            text += " with NaN or infinite values"
        return text
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, float) and not np.isfinite(value):
        return f"{text} (not a finite number)"
    return f"{type(value).__name__} {text}"
