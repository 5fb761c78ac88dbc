"""What ``embed`` reads: an album tree, or a file list (paths on any file system Beam reads).

An **album tree** is a local folder ``root/<class>/<images…>``, listed by the
project's one album scanner (:func:`cbr_edu.images.scan_album`: the same
hidden-file, extension and symbolic-link rules as ``build``). A **file list**
is a text file with one image per line, ``PATH`` or ``PATH<TAB>LABEL``; without
a label the image's parent folder names its class (``gs://bucket/album/cat/1.jpg``
is a ``cat``). Blank lines and lines starting with ``#`` are ignored; a relative
path is relative to the list's folder. The list itself and its paths may be on
any file system Beam reads (``gs://``, ``s3://``, ``hdfs://`` with the matching
Beam extra), so a bucket of photos is embedded with::

    gsutil ls 'gs://my-bucket/album/**' > photos.txt   # or the provider's own listing

Example
-------
>>> parse_line("cat/1.jpg", base="/data")
('/data/cat/1.jpg', 'cat')
>>> parse_line("gs://b/x.png\\tdog", base="/data")
('gs://b/x.png', 'dog')
>>> parse_line("# a comment", base="/data") is None
True
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

__all__ = ["Source", "open_source", "parse_line", "is_remote", "write_album"]


def is_remote(path: str) -> bool:
    """True for a path with a scheme (``gs://``, ``s3://``…), read through Beam.

    >>> is_remote("gs://bucket/a.jpg"), is_remote("/home/a.jpg")
    (True, False)
    """
    return "://" in str(path)


def _join(base: str, path: str) -> str:
    if is_remote(path) or os.path.isabs(path) or not base:
        return path
    if is_remote(base):
        return posixpath.join(base, path)
    return os.path.normpath(os.path.join(base, path))


def _parent_name(path: str) -> str:
    paths = posixpath if is_remote(path) else os.path
    return paths.basename(paths.dirname(path))


def parse_line(line: str, *, base: str = ""):
    """One line of a file list -> ``(path, label)``, or None for a blank or ``#`` line."""
    text = line.rstrip("\r\n")
    if not text.strip() or text.lstrip().startswith("#"):
        return None
    path, _, label = text.partition("\t")
    path = _join(base, path.strip())
    return path, (label.strip() or _parent_name(path))


@dataclass
class Source:
    """A resolved SOURCE: ``items`` (album) or ``list_path`` (file list, read by the pipeline).

    ``skipped``: ``(path, reason)`` for what the album scan left out.
    """

    kind: str               # "album" or "file list"
    location: str
    items: list = field(default_factory=list)
    list_path: str | None = None
    skipped: list = field(default_factory=list)

    @property
    def base(self) -> str:
        """The folder relative paths of a file list are read from."""
        if self.list_path is None:
            return self.location
        if is_remote(self.list_path):
            return posixpath.dirname(self.list_path)
        return os.path.dirname(os.path.abspath(self.list_path))


def _album(root: str) -> Source:
    from ..images import AlbumError, scan_album
    try:
        scan = scan_album(root)
    except AlbumError as error:
        raise ValueError(str(error)) from None
    if not scan.candidates:
        raise ValueError(f"album '{root}' holds no image files; expected <folder>/<class>/<images>")
    items = [(str(path), label) for path, label in scan.candidates]
    skipped = [(str(path), reason) for path, reason in scan.skipped]
    return Source("album", root, items=items, skipped=skipped)


def open_source(source) -> Source:
    """SOURCE -> :class:`Source`; ValueError with what to do when it cannot be used.

    >>> open_source("no/such/place")
    Traceback (most recent call last):
    ...
    ValueError: SOURCE 'no/such/place' does not exist: give an album folder (one sub-folder per class) or a file list (one image path per line)
    """
    source = os.fspath(source)
    if is_remote(source):
        from apache_beam.io.filesystems import FileSystems
        if not FileSystems.exists(source):
            raise ValueError(f"SOURCE '{source}' does not exist (a remote SOURCE must be a file "
                             "list; list a bucket's images into one first)")
        return Source("file list", source, list_path=source)
    if os.path.isdir(source):
        return _album(source)
    if os.path.isfile(source):
        return Source("file list", source, list_path=source)
    raise ValueError(f"SOURCE '{source}' does not exist: give an album folder (one sub-folder "
                     "per class) or a file list (one image path per line)")


def write_album(dataset, folder) -> list:
    """Write a :class:`cbr_edu.datasets.Dataset` as an album tree of PNG files (lossless).

    ``folder/<class name>/<number>.png``; returns the paths in the data set's order,
    so row ``i`` of an in-process embedding matches ``paths[i]``. The folder must
    not exist yet (nothing is overwritten).

    >>> import tempfile, os
    >>> from cbr_edu import datasets
    >>> ds = datasets.load("lfw_subset", max_per_class=2)
    >>> paths = write_album(ds, os.path.join(tempfile.mkdtemp(), "faces"))
    >>> [os.path.relpath(p, os.path.dirname(os.path.dirname(p))) for p in paths[:3]]
    ['face/0000.png', 'face/0001.png', 'not_face/0002.png']
    """
    from pathlib import Path
    from PIL import Image
    from ..images import to_rgb
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=False)
    paths = []
    for i, (image, label) in enumerate(zip(dataset.images, dataset.label_names)):
        (root / label).mkdir(exist_ok=True)
        path = root / label / f"{i:04d}.png"
        Image.fromarray(to_rgb(image)).save(path)
        paths.append(str(path))
    return paths
