"""Errors about a user's input, worded for every interface.

A problem with a file or folder reaches people through the Python API and the
command line. :class:`InputError` keeps the two parts apart: ``message`` (what is
wrong and what to do with the files, true everywhere) and ``python_hint`` (the
keyword argument that changes the outcome, e.g. ``max_pixels=``). ``str(error)``
is both; the command line prints ``message`` alone, or its own flag.

Example
-------
>>> error = InputError("Cannot read 'a.png': too large.", python_hint="Pass max_pixels=.")
>>> str(error), error.message
("Cannot read 'a.png': too large. Pass max_pixels=.", "Cannot read 'a.png': too large.")
"""

__all__ = ["InputError"]


class InputError(ValueError):
    """A problem with the user's input: ``message`` for everyone, ``python_hint`` for Python."""

    def __init__(self, message: str, *, python_hint: str = ""):
        self.message = message
        self.python_hint = python_hint
        super().__init__(f"{message} {python_hint}".strip())
