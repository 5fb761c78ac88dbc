"""Write files atomically: a temporary file beside the target, then a rename.

Whoever reads the target (another notebook, a phone sync, the next run) sees the
old file or the new one, never half of one; a failure leaves the target as it
was and removes the temporary file.

Example
-------
>>> import pathlib, tempfile
>>> target = pathlib.Path(tempfile.mkdtemp()) / "hello.txt"
>>> with atomic_output(target) as f:
...     _ = f.write(b"hi")
>>> target.read_bytes()
b'hi'
"""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_output", "atomic_write_bytes"]


@contextmanager
def atomic_output(path, mode="wb", *, fsync=True):
    """Open a temporary file for writing; on success it replaces ``path``.

    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "n.txt"
    >>> with atomic_output(target, "w") as f:
    ...     _ = f.write("42")
    >>> target.read_text()
    '42'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data, *, fsync=True):
    """Write ``data`` to ``path`` atomically.

    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "b.bin"
    >>> atomic_write_bytes(target, b"abc"); target.read_bytes()
    b'abc'
    """
    with atomic_output(path, "wb", fsync=fsync) as f:
        f.write(data)
