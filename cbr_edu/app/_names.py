"""What a class may be called: one line of ordinary text, unique (ignoring case), not "unknown".

Class names end up as the labels inside an exported ``.tflite`` (one per line of
its label file) and on a phone's screen, so they are checked when they are made.

Example
-------
>>> check_class_name("  cat ", ["dog"])
'cat'
>>> check_class_name("Dog", ["dog"])
Traceback (most recent call last):
...
ValueError: there is already a class 'dog'; choose another name
"""

from __future__ import annotations

from .check import UNKNOWN

__all__ = ["check_class_name", "MAX_NAME"]

MAX_NAME = 64


def check_class_name(name, existing, *, renaming=None) -> str:
    """``name`` stripped, or a ValueError that says what is wrong with it.

    ``existing`` are the project's class names; ``renaming`` is the class
    being renamed (its own name does not count as taken).
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a class needs a name: type one (e.g. 'cat')")
    name = name.strip()
    if any(not ch.isprintable() for ch in name):
        raise ValueError(f"class name {name!r} has a line break or control character; "
                         "use one line of ordinary text")
    if len(name) > MAX_NAME:
        raise ValueError(f"class name {name[:20]!r}… is {len(name)} characters long; "
                         f"keep it to {MAX_NAME}")
    if name.lower() == UNKNOWN:
        raise ValueError(f"{name!r} is the answer for images below the threshold; "
                         "choose another class name")
    taken = [c for c in existing if c.lower() == name.lower() and c != renaming]
    if taken:
        raise ValueError(f"there is already a class {taken[0]!r}; choose another name")
    return name
