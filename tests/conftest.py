"""Shared test set-up: quiet TensorFlow, a private cache dir, no network; and the helpers
the bad-input tests share (a snapshot of the user's files, acting as another user)."""

import functools
import hashlib
import importlib
import os
import shutil
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

OTHER_USER = 65534  # "nobody"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep every cache the package writes inside the test run unless one is given."""
    if "CBR_EDU_CACHE_DIR" not in os.environ:
        os.environ["CBR_EDU_CACHE_DIR"] = str(tmp_path_factory.mktemp("cbr-edu-cache"))
    yield


def snapshot(root):
    """{relative path: (kind, content sha256 or link target, mode, mtime_ns)} of a tree."""
    root = Path(root)
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                content = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                content = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                content = ""
            out[str(p.relative_to(root))] = (stat.S_IFMT(st.st_mode), content,
                                             stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return out


@pytest.fixture
def shared_dir():
    """A folder every user can enter and read (pytest's own are private to their owner)."""
    path = Path(tempfile.mkdtemp(prefix="cbr-edu-shared-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@functools.cache
def _import_the_package():
    """Import every module of cbr_edu (its functions import some only when first called),
    except command-line entry points and modules whose optional extra is not installed."""
    import pkgutil

    import cbr_edu
    for module in pkgutil.walk_packages(cbr_edu.__path__, "cbr_edu."):
        if module.name.rsplit(".", 1)[-1] == "__main__" or module.name in sys.modules:
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:
            pass


@contextmanager
def read_only_for_us(folder):
    """Run the block as someone who may read ``folder`` but not write it.

    As root (as in CI) the block runs as another user ("nobody"), for whom the
    root-owned folder is a foreign, read-only one; otherwise the folder's write
    bits are removed for the block.
    """
    folder = Path(folder)
    if os.geteuid() == 0:
        # Python's own files and the checkout may be private to root (a clone in a folder
        # only root may enter): load what the block may import lazily
        for name in ("encodings.cp437", "traceback", "zipfile"):
            importlib.import_module(name)
        _import_the_package()
        os.setegid(OTHER_USER)
        os.seteuid(OTHER_USER)
        try:
            yield
        finally:
            os.seteuid(0)
            os.setegid(0)
        return
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.rglob("*")]}
    for p, mode in modes.items():
        p.chmod(mode & ~0o222)
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
