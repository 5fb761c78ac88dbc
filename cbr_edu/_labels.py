"""One type of label per index: text, whole numbers, numbers or booleans, never mixed.

numpy turns ``[1, "kiwi"]`` into the strings ``["1", "kiwi"]`` without a word, so a
classifier fitted on integers and given one text label would silently answer with
strings (and score 0 against the original labels). :func:`label_kind` names the
one type of a set of labels, refusing ``None`` and mixtures; :func:`check_kind`
refuses new labels of another type than the index has.

Example
-------
>>> label_kind(["cat", "dog"]), label_kind(np.array([0, 1])), label_kind([0, 1.5])
('text', 'integer', 'number')
>>> label_kind([1, "kiwi"])
Traceback (most recent call last):
ValueError: the labels mix whole numbers and text (e.g. 1 and 'kiwi'); use one type for every label
"""

from numbers import Integral, Real

import numpy as np

__all__ = ["label_kind", "check_kind"]

_WORDS = {"text": "text", "integer": "whole numbers", "number": "numbers",
          "boolean": "True/False"}
_DTYPE_KINDS = {"U": "text", "S": "text", "i": "integer", "u": "integer", "f": "number",
                "b": "boolean"}


def _kind_of(value):
    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        return "text"
    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, Integral):
        return "integer"
    if isinstance(value, Real):
        return "number"
    return type(value).__name__


def label_kind(labels):
    """``"text"``, ``"integer"``, ``"number"`` or ``"boolean"``: the one type of ``labels``.

    Whole numbers and other numbers together are ``"number"``. Raises ValueError for
    ``None`` labels and for a mixture of types; None when ``labels`` is not a flat
    sequence (scikit-learn's own checks then say what is wrong).

    >>> label_kind([True, False])
    'boolean'
    """
    if isinstance(labels, np.ndarray) and labels.dtype.kind in _DTYPE_KINDS:
        return _DTYPE_KINDS[labels.dtype.kind]
    try:
        values = np.asarray(labels, dtype=object)
    except ValueError:
        return None
    if values.ndim != 1:
        return None
    seen = {}
    for position, value in enumerate(values):
        if value is None:
            raise ValueError(f"label {position} is None; every example needs a label")
        seen.setdefault(_kind_of(value), value)
    if set(seen) == {"integer", "number"}:
        return "number"
    if len(seen) > 1:
        (a, first), (b, second) = list(seen.items())[:2]
        raise ValueError(f"the labels mix {_WORDS.get(a, a)} and {_WORDS.get(b, b)} (e.g. "
                         f"{first!r} and {second!r}); use one type for every label")
    return next(iter(seen), None)


def check_kind(index_labels, new_labels):
    """Refuse ``new_labels`` whose type differs from the index's (whole numbers may
    join number labels).

    >>> check_kind(np.array([0, 1]), ["kiwi"])
    Traceback (most recent call last):
    ValueError: this index's labels are whole numbers (e.g. 0) but the new labels are text (e.g. 'kiwi'); add labels of the same type, or fit again with one type of label for every class
    """
    have = label_kind(np.asarray(index_labels))
    new = label_kind(new_labels)
    if new is None or new == have or (have == "number" and new == "integer"):
        return
    example = np.asarray(index_labels)[0]
    example = example.item() if hasattr(example, "item") else example
    raise ValueError(
        f"this index's labels are {_WORDS[have]} (e.g. {example!r}) but the new labels are "
        f"{_WORDS.get(new, new)} (e.g. {np.asarray(new_labels, dtype=object)[0]!r}); add "
        "labels of the same type, or fit again with one type of label for every class")
