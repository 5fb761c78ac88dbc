"""Where cbr-edu keeps what it computes: one cache root, one folder per kind.

``$CBR_EDU_CACHE_DIR`` if set (e.g. a shared classroom folder), else the
platform's user cache folder (``~/.cache/cbr-edu`` on Linux). Below it:
``embeddings/``, ``embedders/`` (converted weights), ``tflite_stems/``,
``datasets/`` (downloads).

Example
-------
>>> import os
>>> cache_root().is_absolute() or CACHE_ENV in os.environ
True
"""

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_root", "cache_dir"]

CACHE_ENV = "CBR_EDU_CACHE_DIR"


def cache_root() -> Path:
    """The cbr-edu cache folder: ``$CBR_EDU_CACHE_DIR`` or the user cache folder."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs
    return Path(platformdirs.user_cache_dir("cbr-edu"))


def cache_dir(*parts, create=True) -> Path:
    """A folder below :func:`cache_root` (created unless ``create=False``).

    >>> cache_dir("embeddings", create=False).name
    'embeddings'
    """
    path = cache_root().joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
