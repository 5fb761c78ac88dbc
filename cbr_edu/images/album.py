"""Albums: a folder ``root/<class>/<images…>`` becomes labelled images.

:func:`load_folder` reads an album in three steps, each its own function:
**scan** the class folders (:func:`scan_album`: candidate files, and every
skipped file or folder with its reason), **filter** by extension, then **read**
or header-check each candidate (:func:`read_album`). Nothing under ``root`` is
ever written, moved or deleted.

Example
-------
>>> [is_hidden(name) for name in ("cat.jpg", ".DS_Store", "__MACOSX")]
[False, True, True]
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .._errors import InputError
from .read import (DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, RAW_EXTENSIONS, ImageReadError,
                   check_header, read_image)

__all__ = ["Album", "AlbumError", "load_folder", "is_hidden"]

#: Names that are never user content (besides anything starting with ".").
_JUNK_NAMES = frozenset({"__macosx", "thumbs.db", "desktop.ini", "@eadir",
                         "$recycle.bin", "ehthumbs.db"})



class AlbumError(InputError):
    """An album folder cannot become a data set; the message says why and what to do.

    ``message`` leaves out the Python keyword that would change the outcome
    (``python_hint``), for interfaces that have no such keyword.

    Example
    -------
    >>> try:
    ...     load_folder("no/such/album")
    ... except AlbumError as e:
    ...     print(str(e).split(":")[0])
    Album folder 'no/such/album' does not exist
    """


def is_hidden(name: str) -> bool:
    """True for dot-files and OS clutter (``__MACOSX``, ``Thumbs.db``, …).

    Example
    -------
    >>> [is_hidden(n) for n in (".DS_Store", "__MACOSX", "cat.jpg")]
    [True, True, False]
    """
    return name.startswith(".") or name.lower() in _JUNK_NAMES


@dataclass
class Album:
    """What :func:`load_folder` found.

    Attributes
    ----------
    images : list of ndarray
        ``(H, W, 3)`` uint8 RGB arrays (empty in lazy mode — use :meth:`read`
        or :meth:`iter_images`).
    labels : list of str
        The class name of each image.
    paths : list of Path
        The file of each image.
    class_names : list of str
        Sorted class names that have at least one image.
    skipped : list of (Path, str)
        Every file or folder that was *not* used, with the reason.
    root : Path
    empty_classes : list of str
        Class folders without readable images (only with ``allow_empty_classes``).

    Example
    -------
    >>> a = Album(images=[], labels=["b", "a"], paths=[], class_names=["a", "b"])
    >>> a.y.tolist()
    [1, 0]
    """

    images: list
    labels: list
    paths: list
    class_names: list
    skipped: list = field(default_factory=list)
    root: Path | None = None
    empty_classes: list = field(default_factory=list)
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    max_side: int | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def y(self) -> np.ndarray:
        """Integer labels (index into :attr:`class_names`)."""
        index = {c: i for i, c in enumerate(self.class_names)}
        return np.array([index[c] for c in self.labels], dtype=np.int64)

    @property
    def lazy(self) -> bool:
        """True when pixels were not loaded (``load_images=False``)."""
        return len(self.images) != len(self.labels)

    def read(self, i: int) -> np.ndarray:
        """Pixels of image ``i`` (reads the file in lazy mode)."""
        if not self.lazy:
            return self.images[i]
        return read_image(self.paths[i], max_pixels=self.max_pixels, max_side=self.max_side)

    def iter_images(self) -> Iterator[np.ndarray]:
        """Yield the images one by one (memory-friendly in lazy mode)."""
        for i in range(len(self)):
            yield self.read(i)

    def counts(self) -> dict:
        """Number of images per class."""
        c = Counter(self.labels)
        return {name: c[name] for name in self.class_names}

    def summary(self) -> str:
        """A short human-readable report, including the skip reasons."""
        lines = [f"{len(self)} images in {len(self.class_names)} classes from {self.root}"]
        for name, n in self.counts().items():
            lines.append(f"  {name}: {n}")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            for p, why in self.skipped:
                lines.append(f"  {p}: {why}")
        return "\n".join(lines)


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def _walk_class(class_dir: Path, visited: set, skipped: list) -> list:
    """All candidate files under ``class_dir`` (sorted, hidden ones skipped).

    ``visited`` holds the real paths of folders already walked for this class;
    a folder seen again (symlink loop, or two links to one folder) is skipped.
    """
    files: list = []
    stack = [class_dir]
    while stack:
        d = stack.pop()
        try:
            real = os.path.realpath(d)
        except OSError as e:  # pragma: no cover - exotic
            skipped.append((d, f"cannot resolve folder ({e})"))
            continue
        if real in visited:
            skipped.append((d, "folder already visited (symbolic-link loop or duplicate link)"))
            continue
        visited.add(real)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            skipped.append((d, f"cannot list folder ({e.strerror or e})"))
            continue
        subdirs = []
        for entry in entries:
            p = Path(entry.path)
            if is_hidden(entry.name):
                skipped.append((p, "hidden or system file/folder"))
                continue
            try:
                st = os.stat(entry.path)  # follows symlinks
            except FileNotFoundError:
                skipped.append((p, "broken symbolic link"))
                continue
            except OSError as e:  # e.g. ELOOP for a link pointing to itself
                skipped.append((p, f"cannot access ({e.strerror or e})"))
                continue
            if stat.S_ISDIR(st.st_mode):
                subdirs.append(p)
            elif stat.S_ISREG(st.st_mode):
                files.append(p)
            else:
                skipped.append((p, "not a regular file"))
        stack.extend(reversed(subdirs))  # a folder's files, then its sub-folders, alphabetical
    return files


def load_folder(root, *, min_classes: int = 2, allow_empty_classes: bool = False,
                load_images: bool = True, max_side: int | None = 1024,
                max_pixels: int | None = DEFAULT_MAX_PIXELS,
                extensions: Sequence[str] = IMAGE_EXTENSIONS,
                progress: bool = False) -> Album:
    """Load an album laid out as ``root/<class>/<images…>``.

    Every immediate sub-folder of ``root`` is a class; images may sit in
    nested folders inside a class folder (they belong to that class). Files
    are visited in sorted order, so the result is deterministic. Class names
    are the folder names in Unicode NFC form. Nothing under ``root`` is ever
    written, moved or deleted.

    Skipped, each recorded in :attr:`Album.skipped` with its reason: hidden
    files and folders (dot-files, ``__MACOSX``, ``Thumbs.db``), files with a
    non-image extension, empty/truncated/corrupt files, images above
    ``max_pixels``, broken symbolic links, folders reached twice (symlink
    loops), and loose files directly in ``root``.

    Parameters
    ----------
    root : str or PathLike
    min_classes : int
        Fewer classes (with images) than this is an error; 2 for a classifier.
    allow_empty_classes : bool
        A class folder without readable images is an error naming it unless
        this is True; then it is dropped and listed in ``empty_classes``.
    load_images : bool
        False = lazy mode: only headers are checked and ``images`` stays
        empty; read pixels later with :meth:`Album.read` / :meth:`Album.iter_images`.
    max_side : int or None
        Downsize larger images on read to save memory (default 1024; the
        embedders resize to ~224 anyway). None keeps full size.
    max_pixels : int or None
        Decompression-bomb limit, see :func:`read_image`.
    extensions : collection of str
        File extensions to try, lower case with the dot.
    progress : bool
        Show a tqdm progress bar while reading.

    Raises
    ------
    AlbumError
        Missing folder, a file instead of a folder, no class folders, fewer
        than ``min_classes`` classes, a class without readable images, or no
        readable images at all.

    Example
    -------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp()
    >>> for cls in ("cat", "dog"):
    ...     os.mkdir(os.path.join(root, cls))
    ...     Image.new("RGB", (8, 8)).save(os.path.join(root, cls, "1.png"))
    >>> album = load_folder(root)
    >>> album.class_names, album.labels, album.images[0].shape
    (['cat', 'dog'], ['cat', 'dog'], (8, 8, 3))
    """
    scan = scan_album(root, extensions=extensions)
    images, labels, paths = read_album(scan.candidates, scan.skipped, load_images=load_images,
                                       max_pixels=max_pixels, max_side=max_side,
                                       progress=progress)
    class_names, empty = _check_classes(root, scan, labels, min_classes, allow_empty_classes)
    return Album(images=images, labels=labels, paths=paths, class_names=class_names,
                 skipped=scan.skipped, root=Path(root), empty_classes=empty,
                 max_pixels=max_pixels, max_side=max_side)


_LAYOUT = ("Expected layout: <folder>/<class name>/<images>, e.g. album/cat/1.jpg, "
           "album/dog/1.jpg.")


@dataclass
class AlbumScan:
    """What :func:`scan_album` found: candidate files and what it skipped.

    ``candidates`` — ``(path, class name)`` pairs with an image extension, in
    sorted order; ``class_folders`` — class name → its folder; ``skipped`` —
    ``(path, reason)`` for every file or folder that will not be used.
    """

    candidates: list
    class_folders: dict
    skipped: list


def _class_folders(root, skipped) -> list:
    """The immediate sub-folders of an album root; everything else goes to ``skipped``."""
    path = Path(root)
    if not path.exists():
        if path.is_symlink():
            raise AlbumError(f"Album folder '{root}' is a broken symbolic link.")
        raise AlbumError(f"Album folder '{root}' does not exist: check the path. {_LAYOUT}")
    if not path.is_dir():
        hint = (" It looks like an archive: extract it first."
                if path.suffix.lower() in (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar") else "")
        raise AlbumError(f"'{root}' is a file, not a folder.{hint} {_LAYOUT}")
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as e:
        raise AlbumError(f"Cannot list album folder '{root}': {e.strerror or e}.") from None
    folders = []
    for entry in entries:
        p = Path(entry.path)
        if is_hidden(entry.name):
            skipped.append((p, "hidden or system file/folder"))
            continue
        try:
            st = os.stat(entry.path)
        except FileNotFoundError:
            skipped.append((p, "broken symbolic link"))
            continue
        except OSError as e:
            skipped.append((p, f"cannot access ({e.strerror or e})"))
            continue
        if stat.S_ISDIR(st.st_mode):
            folders.append(p)
        else:
            skipped.append((p, "not inside a class folder (move it into <folder>/<class>/)"))
    if not folders:
        loose = sum(1 for _, why in skipped if why.startswith("not inside"))
        extra = f" It holds {loose} loose file(s) but no class sub-folders." if loose else ""
        raise AlbumError(f"Album folder '{root}' has no class sub-folders.{extra} {_LAYOUT}")
    return folders


def scan_album(root, *, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> AlbumScan:
    """Step 1 and 2 of :func:`load_folder`: list the class folders and their image files.

    Example
    -------
    >>> import tempfile
    >>> root = tempfile.mkdtemp(); os.makedirs(os.path.join(root, "cat"))
    >>> open(os.path.join(root, "cat", "notes.txt"), "w").close()
    >>> scan = scan_album(root)
    >>> scan.candidates, [why for _, why in scan.skipped]
    ([], ["not an image file (extension '.txt')"])
    """
    exts = {e.lower() for e in extensions}
    skipped: list = []
    folders = _class_folders(root, skipped)
    root_real = os.path.realpath(root)
    candidates: list = []
    by_name: dict = {}
    for folder in folders:
        name = _nfc(folder.name)
        if name in by_name:  # NFC/NFD twins on some file systems
            raise AlbumError(
                f"Class folders '{by_name[name]}' and '{folder}' have the same name after "
                f"Unicode normalisation; rename one of them.")
        by_name[name] = folder
        for f in _walk_class(folder, {root_real}, skipped):
            ext = f.suffix.lower()
            if ext in exts:
                candidates.append((f, name))
            elif ext in RAW_EXTENSIONS:
                skipped.append((f, "camera RAW files are not read; convert to JPEG or PNG"))
            else:
                skipped.append((f, f"not an image file (extension '{ext or 'none'}')"))
    return AlbumScan(candidates, by_name, skipped)


def read_album(candidates, skipped, *, load_images=True, max_pixels=DEFAULT_MAX_PIXELS,
               max_side=None, progress=False):
    """Step 3 of :func:`load_folder`: read (or header-check) each candidate file.

    Files that fail are appended to ``skipped`` with the reason. Returns
    ``(images, labels, paths)``; ``images`` stays empty when ``load_images`` is False.
    """
    iterator = candidates
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(candidates, desc="reading images", unit="img")
    images, labels, paths = [], [], []
    for f, name in iterator:
        try:
            if load_images:
                images.append(read_image(f, max_pixels=max_pixels, max_side=max_side))
            else:
                check_header(f, max_pixels)
        except ImageReadError as e:
            skipped.append((f, e.reason))
            continue
        except OSError as e:  # pragma: no cover - race with the file system
            skipped.append((f, f"cannot access ({e.strerror or e})"))
            continue
        labels.append(name)
        paths.append(f)
    return images, labels, paths


def _skip_summary(skipped) -> str:
    if not skipped:
        return ""
    c = Counter(why for _, why in skipped)
    top = "; ".join(f"{n}× {why}" for why, n in c.most_common(4))
    return f" Skipped {len(skipped)} file(s): {top}."


def _check_classes(root, scan, labels, min_classes, allow_empty_classes):
    """``(class names, empty classes)``, or AlbumError when the album cannot be used."""
    if not labels:
        raise AlbumError(f"No readable images under '{root}'.{_skip_summary(scan.skipped)} "
                         f"{_LAYOUT}")
    present = set(labels)
    all_classes = sorted(scan.class_folders)
    empty = [c for c in all_classes if c not in present]
    if empty and not allow_empty_classes:
        raise AlbumError(
            f"Class folder(s) without readable images: {', '.join(repr(c) for c in empty)} "
            f"in '{root}'. Add images to them or remove the folder(s)."
            f"{_skip_summary(scan.skipped)}",
            python_hint="Or pass allow_empty_classes=True to drop them.")
    for c in empty:
        scan.skipped.append((scan.class_folders[c],
                             "class folder has no readable images (class dropped)"))
    class_names = [c for c in all_classes if c in present]
    if len(class_names) < min_classes:
        raise AlbumError(
            f"Album '{root}' has {len(class_names)} class(es) with images "
            f"({', '.join(class_names)}); at least {min_classes} are needed to build a "
            f"classifier. Add another sub-folder of images.",
            python_hint="Or pass min_classes=1." if min_classes > 1 else "")
    return class_names, empty
