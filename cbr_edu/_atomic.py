"""Write files atomically: a temporary file beside the target, then a rename.

Whoever reads the target (another notebook, a phone sync, the next run) sees the
old file or the new one, never half of one; a failure leaves the target as it
was and removes the temporary file.

The new file gets the permissions a plain ``open(path, "w")`` would give it: an
existing target keeps its mode, a new one gets ``0o666`` less the umask (so a
classroom's shared cache folder stays readable by everyone).

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
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_output", "atomic_write_bytes"]

_NEW_FILE_MODE = 0o666  # the kernel takes the umask off, as for open(path, "w")


def _temporary_beside(path):
    """``(fd, name)`` of a new empty file next to ``path``, created with the umask applied."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, _NEW_FILE_MODE), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file next to {path}")


def _keep_mode(tmp, path):
    """Give the new file the mode of the file it replaces, as an in-place write would."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    try:
        os.chmod(tmp, mode)
    except OSError:  # not ours to change (e.g. a file owned by someone else)
        pass


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
    fd, tmp = _temporary_beside(path)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        _keep_mode(tmp, path)
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
