"""On-disk cache of embeddings, so re-running a notebook does not re-embed.

An entry is keyed by ``(embedder id, preprocessing, content hash)``:

* *embedder id* — ``embedder.id`` (a stable string such as
  ``"efficientnet_lite0"``); a different model never reuses an entry;
* *preprocessing* — ``embedder.preprocessing`` if the embedder has it (a
  string, or anything JSON-serialisable), else ``""``;
* *content hash* — sha256 of the file's bytes for a path, or of
  ``dtype + shape + bytes`` for an in-memory array. Renaming a file keeps its
  entry; editing one pixel makes a new one.

Storage: one small file per entry, ``<dir>/<2 hex>/<64 hex>.emb``, holding a
magic line, a JSON header (key, dtype, shape), the float32 vector and a
sha256 of all that. Entries are written to a temporary file and renamed into
place (``os.replace``), so two notebooks sharing the cache never see half a
file. A cache that cannot be written (read-only, another user's folder) is still
read; misses are then computed without being stored, and one line says so. A truncated, corrupt, mismatched or wrong-shaped entry is ignored,
recomputed and overwritten — never trusted.

Where: ``embeddings/`` below :func:`cbr_edu._paths.cache_root`
(``$CBR_EDU_CACHE_DIR`` if that variable is set, otherwise the user cache folder).

Example
-------
>>> import numpy as np, tempfile
>>> class Mean:                       # any object with .id and .embed()
...     id = "mean-colour"
...     def embed(self, images):
...         return np.stack([im.reshape(-1, 3).mean(0) for im in images]).astype("float32")
>>> cache = EmbeddingCache(tempfile.mkdtemp())
>>> imgs = [np.full((4, 4, 3), v, np.uint8) for v in (0, 255)]
>>> cache.get_or_compute(Mean(), imgs).tolist()
[[0.0, 0.0, 0.0], [255.0, 255.0, 255.0]]
>>> _ = cache.get_or_compute(Mean(), imgs); (cache.last_hits, cache.last_misses)
(2, 0)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile  # noqa: F401  (the embed_images example uses it)
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ._hashing import update_array, update_file
from ._paths import cache_dir, store_in_cache

__all__ = ["EmbeddingCache", "CacheInfo", "content_hash"]

_MAGIC = b"CBR-EDU-EMB 1\n"
_SUFFIX = ".emb"


def _is_temporary(name):
    """A half-written entry left by an interrupted atomic write."""
    return name.startswith(".") and name.endswith(".tmp") and (_SUFFIX + ".") in name


def content_hash(item) -> str:
    """sha256 hex digest of an image's content: file bytes or array bytes+shape+dtype.

    Example
    -------
    >>> a = np.zeros((2, 2, 3), np.uint8)
    >>> content_hash(a) == content_hash(a.copy()) != content_hash(a.reshape(4, 3))
    True
    """
    h = hashlib.sha256()
    if isinstance(item, (str, os.PathLike)):
        h.update(b"file\0")
        update_file(h, item)
    else:
        h.update(b"array\0")
        update_array(h, item)
    return h.hexdigest()


@dataclass(frozen=True)
class CacheInfo:
    """Size of a cache: number of entries and bytes on disk."""

    directory: Path
    entries: int
    bytes: int

    def __str__(self) -> str:
        return f"{self.entries} embeddings, {self.bytes / 1e6:.1f} MB in {self.directory}"


def _preprocessing_of(embedder) -> str:
    p = getattr(embedder, "preprocessing", "")
    if p is None:
        return ""
    if isinstance(p, str):
        return p
    return json.dumps(p, sort_keys=True, default=str)


class EmbeddingCache:
    """Disk cache of embeddings keyed by embedder, preprocessing and content.

    Parameters
    ----------
    directory : str or PathLike, optional
        Where entries live. Default: ``embeddings/`` in the cbr-edu cache folder.

    Attributes
    ----------
    hits, misses : int
        Totals since creation. ``last_hits`` / ``last_misses``: the last call.

    Example
    -------
    >>> import tempfile
    >>> cache = EmbeddingCache(tempfile.mkdtemp())
    >>> cache.info().entries
    0
    """

    def __init__(self, directory=None):
        self.directory = (Path(directory) if directory is not None
                          else cache_dir("embeddings", create=False))
        self.hits = self.misses = 0
        self.last_hits = self.last_misses = 0
        self.recomputed_corrupt = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.directory)!r})"

    # ------------------------------------------------------------------ keys
    def key(self, embedder, item, *, _hash: str | None = None) -> str:
        """The entry key (64 hex) for one image (path or array) and an embedder.

        Example
        -------
        >>> class E: id = "a"
        >>> class F: id = "b"
        >>> c, img = EmbeddingCache("/tmp/x"), np.zeros((2, 2, 3), np.uint8)
        >>> c.key(E(), img) != c.key(F(), img)
        True
        """
        eid = getattr(embedder, "id", None)
        if not isinstance(eid, str) or not eid:
            raise TypeError(
                f"The embedder {embedder!r} needs a non-empty string attribute 'id' to be "
                f"cached (e.g. 'efficientnet_lite0').")
        digest = _hash or content_hash(item)
        payload = json.dumps([eid, _preprocessing_of(embedder), digest])
        return hashlib.sha256(payload.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / (key + _SUFFIX)

    # --------------------------------------------------------------- storage
    def _read(self, key: str, dim: int | None) -> np.ndarray | None:
        """The stored vector, or None if missing or not trustworthy."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError:
            return None
        try:
            if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 32 + 2:
                raise ValueError("bad magic")
            body, digest = data[:-32], data[-32:]
            if hashlib.sha256(body).digest() != digest:
                raise ValueError("checksum mismatch")
            header_end = body.index(b"\n", len(_MAGIC))
            header = json.loads(body[len(_MAGIC):header_end])
            if header.get("key") != key or header.get("dtype") != "<f4":
                raise ValueError("wrong key or dtype")
            shape = tuple(header["shape"])
            vec = np.frombuffer(body[header_end + 1:], dtype="<f4")
            if len(shape) != 1 or vec.shape != shape or (dim is not None and shape[0] != dim):
                raise ValueError("wrong shape")
            if not np.all(np.isfinite(vec)):
                raise ValueError("non-finite values")
            return vec.astype(np.float32)
        except (ValueError, KeyError, TypeError):
            with self._lock:
                self.recomputed_corrupt += 1
            return None

    def _write(self, key: str, vec: np.ndarray) -> None:
        vec = np.ascontiguousarray(vec, dtype="<f4").reshape(-1)
        header = json.dumps({"key": key, "dtype": "<f4", "shape": list(vec.shape)}).encode()
        body = _MAGIC + header + b"\n" + vec.tobytes()
        data = body + hashlib.sha256(body).digest()
        # A read-only or foreign cache, a full disk, a file another process holds
        # (Windows): the entry is simply recomputed next time.
        store_in_cache(self._path(key), data, folder=self.directory, fsync=False)

    # ------------------------------------------------------------------ API
    def get_or_compute(self, embedder, images: Sequence, *, batch_size: int = 32,
                       read_options: dict | None = None) -> np.ndarray:
        """Embeddings of ``images`` (arrays or file paths), computing only the misses.

        Misses are embedded with ``embedder.embed(list_of_arrays)`` in chunks
        of ``batch_size`` and stored after each chunk, so an interrupted run
        keeps its progress. File paths are read with
        :func:`cbr_edu.images.read_image` (``read_options`` are passed on and
        become part of the key).

        Returns
        -------
        ndarray, shape (len(images), dim), float32

        Example
        -------
        >>> import tempfile
        >>> class Sum:
        ...     id = "sum"
        ...     def embed(self, ims): return np.array([[im.sum()] for im in ims], "float32")
        >>> c = EmbeddingCache(tempfile.mkdtemp())
        >>> c.get_or_compute(Sum(), [np.ones((2, 2, 3), np.uint8)]).shape
        (1, 1)
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        images = list(images)
        read_options = dict(read_options or {})
        dim = getattr(embedder, "dim", None)
        dim = int(dim) if isinstance(dim, (int, np.integer)) else None
        keys = [self._item_key(embedder, item, read_options) for item in images]
        out = [self._read(k, dim) for k in keys]
        misses = [i for i, v in enumerate(out) if v is None]
        found = self._compute(embedder, images, misses, keys, out, read_options, batch_size)
        dim = dim or found
        if dim is not None:
            # Hits read before the dimension was known: distrust any that disagree.
            bad = [i for i, v in enumerate(out) if v.shape[0] != dim]
            if bad:
                with self._lock:
                    self.recomputed_corrupt += len(bad)
                self._compute(embedder, images, bad, keys, out, read_options, batch_size)
                misses += bad
        elif len({v.shape[0] for v in out}) > 1:  # all hits, inconsistent: recompute all
            for k in keys:
                self._path(k).unlink(missing_ok=True)
            return self.get_or_compute(embedder, images, batch_size=batch_size,
                                       read_options=read_options)
        with self._lock:
            self.last_hits, self.last_misses = len(images) - len(misses), len(misses)
            self.hits += self.last_hits
            self.misses += self.last_misses
        if not out:
            return np.zeros((0, dim or 0), np.float32)
        return np.stack(out).astype(np.float32, copy=False)

    def _item_key(self, embedder, item, read_options) -> str:
        """The key of one image; a file's key includes how it is read."""
        digest = content_hash(item)
        if isinstance(item, (str, os.PathLike)) and read_options:
            digest += json.dumps(read_options, sort_keys=True)
        return self.key(embedder, item, _hash=digest)

    def _compute(self, embedder, images, indices, keys, out, read_options, batch_size):
        """Embed ``images[indices]`` chunk by chunk into ``out``, storing each chunk as
        it comes (an interrupted run keeps its progress); returns the dimension."""
        dim = None
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            emb = np.asarray(embedder.embed([self._load(images[i], read_options)
                                             for i in chunk]))
            if emb.ndim != 2 or emb.shape[0] != len(chunk):
                raise ValueError(
                    f"embedder {embedder.id!r} returned shape {emb.shape} for {len(chunk)} "
                    f"images; expected ({len(chunk)}, dim).")
            dim = dim or emb.shape[1]
            for i, vec in zip(chunk, emb.astype(np.float32, copy=False)):
                out[i] = vec
                self._write(keys[i], vec)
        return dim

    @staticmethod
    def _load(item, read_options):
        if isinstance(item, (str, os.PathLike)):
            from .images import read_image
            return read_image(item, **read_options)
        return np.asarray(item)

    def info(self) -> CacheInfo:
        """Number of entries and bytes on disk.

        Example
        -------
        >>> import tempfile
        >>> EmbeddingCache(tempfile.mkdtemp()).info().bytes
        0
        """
        n = size = 0
        for p in self._entry_files():
            try:
                size += p.stat().st_size
                n += 1
            except OSError:
                pass
        return CacheInfo(self.directory, n, size)

    def __len__(self) -> int:
        return self.info().entries

    def clear(self) -> int:
        """Delete this cache's entries (only files it created); return how many.

        Example
        -------
        >>> import tempfile
        >>> EmbeddingCache(tempfile.mkdtemp()).clear()
        0
        """
        removed = 0
        for p in self._entry_files(include_temporary=True):
            try:
                p.unlink()
                removed += not _is_temporary(p.name)
            except OSError:
                pass
        for shard in self._shards():
            try:
                shard.rmdir()  # only if empty
            except OSError:
                pass
        return removed

    def _shards(self):
        if not self.directory.is_dir():
            return []
        return [d for d in self.directory.iterdir()
                if d.is_dir() and len(d.name) == 2 and all(c in "0123456789abcdef" for c in d.name)]

    def _entry_files(self, include_temporary: bool = False):
        """Files this cache created: ``<2 hex>/<64 hex>.emb`` (+ temporaries)."""
        out = []
        for shard in self._shards():
            for p in shard.iterdir():
                if _is_temporary(p.name):
                    if include_temporary:
                        out.append(p)
                    continue
                if not p.name.endswith(_SUFFIX):
                    continue
                stem = p.name[: -len(_SUFFIX)]
                if len(stem) == 64 and stem.startswith(shard.name) and all(
                        c in "0123456789abcdef" for c in stem):
                    out.append(p)
        return out


def embed_images(images, embedder="efficientnet_lite0", *, cache=None, progress=None,
                 chunk=64):
    """Embeddings of ``images`` through the on-disk cache (each image embedded once).

    ``embedder``: a spec or an Embedder. ``cache``: an :class:`EmbeddingCache`
    (default: the user cache); ``cache=False`` embeds without caching. ``progress``:
    tqdm bar (None: only when there are misses and more than ``chunk`` images).
    Returns ``(embeddings, embedder)``.

    Example
    -------
    >>> images = [np.full((8, 8, 3), v, np.uint8) for v in (0, 255)]
    >>> cache = EmbeddingCache(tempfile.mkdtemp())
    >>> X, embedder = embed_images(images, "pixels:2", cache=cache)
    >>> X.shape, embed_images(images, embedder, cache=cache)[0].shape, cache.hits
    ((2, 4), (2, 4), 2)
    """
    from .embedders import load_embedder
    embedder = load_embedder(embedder)
    images = list(images)
    if cache is False:
        return embedder.embed(images, progress=progress), embedder
    cache = cache if cache is not None else EmbeddingCache()
    first = cache.get_or_compute(embedder, images[:chunk])
    out = [first]
    rest = range(chunk, len(images), chunk)
    bar = None
    if len(images) > chunk and (progress or (progress is None and cache.last_misses)):
        from tqdm.auto import tqdm
        bar = tqdm(total=len(images), initial=min(chunk, len(images)), unit="img",
                   desc=f"embedding ({embedder.spec or embedder.id}, cached after)")
    for start in rest:
        out.append(cache.get_or_compute(embedder, images[start:start + chunk]))
        if bar is not None:
            bar.update(len(out[-1]))
    if bar is not None:
        bar.close()
    return np.concatenate(out).astype(np.float32), embedder
