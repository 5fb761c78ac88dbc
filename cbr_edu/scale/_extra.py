"""The optional ``scale`` extra (Apache Beam, FAISS, pyarrow): is it installed?

The core install stays lean; the pipeline and the large-index path need
``pip install "cbr-edu[scale]"`` (or ``pip install -r requirements-scale.txt``
in a checkout). :func:`require` says so in one line when something is missing.

Example
-------
>>> sorted(PACKAGES)
['apache_beam', 'faiss', 'pyarrow']
>>> missing(["json"])   # a module that is there
''
"""

from __future__ import annotations

import importlib.util

__all__ = ["PACKAGES", "INSTALL", "MissingExtraError", "missing", "require"]

#: importable module -> the PyPI distribution that provides it
PACKAGES = {"apache_beam": "apache-beam", "faiss": "faiss-cpu", "pyarrow": "pyarrow"}

#: how to install the extra (in a checkout, the requirements file says the same)
INSTALL = 'pip install "cbr-edu[scale]"  (in a checkout: pip install -r requirements-scale.txt)'


class MissingExtraError(ImportError):
    """A part of the ``scale`` extra is not installed; the message says how to install it."""


def missing(modules=None, *, what="cbr_edu.scale") -> str:
    """One line saying what is not installed and how to install it, or ``""``.

    ``modules``: which of :data:`PACKAGES` are needed (default: all of them);
    ``what``: the feature that needs them, named in the line.
    """
    needed = list(PACKAGES) if modules is None else list(modules)
    absent = [m for m in needed if importlib.util.find_spec(m) is None]
    if not absent:
        return ""
    names = ", ".join(PACKAGES.get(m, m) for m in absent)
    return (f"{what} needs the optional 'scale' extra ({names} not installed); "
            f"install it with: {INSTALL}")


def require(modules=None, *, what="cbr_edu.scale") -> None:
    """Raise :class:`MissingExtraError` (one line) when a needed package is missing.

    >>> require(["json"])   # nothing happens when it is installed
    """
    message = missing(modules, what=what)
    if message:
        raise MissingExtraError(message)
