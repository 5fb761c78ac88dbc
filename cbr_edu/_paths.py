"""Where cbr-edu keeps what it computes: one cache root, one folder per kind.

``$CBR_EDU_CACHE_DIR`` if set (e.g. a shared classroom folder), else the
platform's user cache folder (``~/.cache/cbr-edu`` on Linux). Below it:
``embeddings/``, ``embedders/`` (converted weights), ``tflite_stems/``,
``datasets/`` (downloads).

A cache that cannot be written (a read-only copy, a shared folder owned by
someone else, a full disk) is still read; :func:`store_in_cache` then says once,
in one line, that results are not cached, and the work goes on.

Example
-------
>>> import os
>>> cache_root().is_absolute() or CACHE_ENV in os.environ
True
"""

import os
import sys
from pathlib import Path

from ._atomic import atomic_write_bytes

__all__ = ["CACHE_ENV", "cache_root", "cache_dir", "store_in_cache"]

CACHE_ENV = "CBR_EDU_CACHE_DIR"

_TOLD = set()  # cache roots already reported as not writable in this process


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


def store_in_cache(path, data: bytes, *, folder=None, fsync=True) -> bool:
    """Write ``data`` to the cache file ``path`` atomically; False when it cannot be.

    The folder is created as needed. When the cache cannot be written, one line
    on stderr (once per cache ``folder`` and process; default: the cache root
    or the file's folder) says results are not cached.

    >>> import tempfile
    >>> store_in_cache(Path(tempfile.mkdtemp()) / "kind" / "entry.bin", b"x")
    True
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data, fsync=fsync)
        return True
    except OSError as error:
        _tell_not_cached(folder or _cache_folder_of(path), error)
        return False


def _cache_folder_of(path):
    root = cache_root()
    return root if root in path.parents else path.parent


def _tell_not_cached(folder, error):
    folder = Path(folder)
    if folder in _TOLD:
        return
    _TOLD.add(folder)
    reason = error.strerror or type(error).__name__
    print(f"note: cannot write to the cbr-edu cache {folder} ({reason}); results are not "
          f"cached. Set {CACHE_ENV} to a folder you can write to keep them.", file=sys.stderr)
