"""sha256 of files and arrays: the one place that hashes content.

Cache keys (embeddings, converted weights, TFLite stems) and download checks all
use these, so "the same content" means one thing everywhere.

Example
-------
>>> import hashlib, numpy as np
>>> h = hashlib.sha256(); update_array(h, np.zeros(2, np.uint8))
>>> len(h.hexdigest())
64
"""

import hashlib

import numpy as np

__all__ = ["file_sha256", "update_file", "update_array"]

_BLOCK = 1 << 20


def update_file(h, path):
    """Feed the bytes of the file at ``path`` to the hash object ``h`` (in 1 MB blocks).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x"); open(p, "wb").write(b"abc")
    3
    >>> h = hashlib.sha256(); update_file(h, p); h.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    True
    """
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)


def file_sha256(path) -> str:
    """Hex sha256 of a file's bytes.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x"); open(p, "wb").write(b"")
    0
    >>> file_sha256(p)[:12]
    'e3b0c44298fc'
    """
    h = hashlib.sha256()
    update_file(h, path)
    return h.hexdigest()


def update_array(h, array):
    """Feed an array's dtype, shape and bytes to ``h``: equal arrays hash equal.

    >>> a, b = hashlib.sha256(), hashlib.sha256()
    >>> update_array(a, np.zeros((2, 2))); update_array(b, np.zeros(4))
    >>> a.hexdigest() == b.hexdigest()
    False
    """
    a = np.ascontiguousarray(np.asarray(array))
    if a.dtype == object:
        raise TypeError("cannot hash an object array; pass numeric arrays")
    h.update(a.dtype.str.encode())
    h.update(repr(a.shape).encode())
    h.update(a.tobytes())
