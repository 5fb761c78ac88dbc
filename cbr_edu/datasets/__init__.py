"""Data sets for the lessons: a validated registry (``datasets.yaml``) and one ``load``.

Offline entries are built from data that installed packages ship (scikit-learn,
scikit-image, matplotlib) and load with no network, deterministically. Online
entries download once into the cache (``<cache>/datasets``), are checked
against their sha256, and then load offline too. Offline and not yet
downloaded, they fail within about two seconds with a message saying what is
needed, where it would be cached, and which offline data sets to use instead.

The rooms: :mod:`.registry` (the ``datasets.yaml`` schema and look-ups),
:mod:`.offline` (builders, with :mod:`._views` for the photo views and
:mod:`._patches` for the photo patches),
:mod:`.online` (pooch downloads and TensorFlow Datasets), :mod:`._pixels`
(images to the requested size through :mod:`cbr_edu.images`), :mod:`.records`
(the types they share).

Example
-------
>>> from cbr_edu import datasets
>>> "digits" in datasets.names(offline_only=True)
True
>>> ds = datasets.load("lfw_subset")
>>> len(ds), ds.class_names, ds.images[0].shape, ds.labels[:3].tolist()
(200, ['face', 'not_face'], (25, 25, 3), [0, 0, 0])
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import _pixels, offline, online
from .online import NETWORK_TIMEOUT, download_dir
from .records import Dataset, DatasetInfo, DatasetUnavailableError, RegistryError
from .registry import info, names, read_registry, registry_path

__all__ = [
    "Dataset", "DatasetInfo", "RegistryError", "DatasetUnavailableError", "NETWORK_TIMEOUT",
    "names", "info", "load", "registry_path", "read_registry", "download_dir",
]

#: Online images are read at most this large unless asked otherwise (memory: thousands of
#: full-size photos do not fit a laptop).
_ONLINE_MAX_SIDE = 512


def _select_per_class(labels: np.ndarray, max_per_class, seed: int) -> np.ndarray:
    """Indices keeping at most ``max_per_class`` per class (random but seeded), sorted."""
    if max_per_class is None:
        return np.arange(len(labels))
    if max_per_class < 1:
        raise ValueError(f"max_per_class must be >= 1 or None, got {max_per_class}")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) > max_per_class:
            idx = np.sort(rng.choice(idx, size=max_per_class, replace=False))
        keep.append(idx)
    return np.sort(np.concatenate(keep)) if keep else np.arange(0)


def _only_splits(ds: Dataset, split) -> Dataset:
    """The images of the wanted split(s); ``class_names`` keeps the classes they contain."""
    if split is None:
        return ds
    if ds.split is None:
        raise ValueError(f"Data set '{ds.info.name}' has no splits.")
    wanted = [split] if isinstance(split, str) else list(split)
    known = sorted(set(ds.split.tolist()))
    if not set(wanted) <= set(known):
        raise ValueError(f"Data set '{ds.info.name}' has splits {known}; got {sorted(wanted)}.")
    ds = ds.subset(np.isin(ds.split, wanted))
    present = np.unique(ds.labels)
    return dataclasses.replace(ds, labels=np.searchsorted(present, ds.labels).astype(np.int64),
                               class_names=[ds.class_names[i] for i in present])


def _check_options(entry: DatasetInfo, options: dict) -> None:
    allowed = offline.options(entry.source["builder"]) if entry.offline else ("max_side",)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"load({entry.name!r}) got an unknown option {unknown[0]!r}; "
                        f"{entry.name} takes {', '.join(allowed) or 'no options'}.")


def load(name: str, *, max_per_class: int | None = None, seed: int = 0,
         image_size=None, split=None, registry=None, **options) -> Dataset:
    """Load a registered data set.

    Parameters
    ----------
    name : str
        See :func:`names`.
    max_per_class : int, optional
        Keep at most this many images per class (a seeded random choice,
        original order kept) — handy for quick workshop runs.
    seed : int
        Seed for ``max_per_class`` (and the photo views and patches).
    image_size : int or (h, w), optional
        Resize every image to this size (whole image, no crop; the one pixel
        policy, :func:`cbr_edu.images.resize`). ``digits`` defaults to 32 (each
        pixel an exact block), the others keep their size.
    split : str or list of str, optional
        Only these splits (``class_names`` then lists the classes they contain).
    registry : path, optional
        Another registry file.
    **options
        Builder options: ``views_per_class`` and ``max_side`` for
        ``photo_views``, ``patches_per_class`` for ``photo_patches``,
        ``patch_size`` for ``textures``; ``max_side``
        (default 512, downsize while reading) for online sets.

    Raises
    ------
    KeyError
        Unknown name.
    TypeError
        An option the data set does not take.
    DatasetUnavailableError
        An online data set that is neither cached nor reachable (fails in
        about two seconds, with what to do and the offline alternatives).

    Example
    -------
    >>> ds = load("digits", max_per_class=5)
    >>> len(ds), ds.images[0].shape, ds.images[0].dtype
    (50, (32, 32, 3), dtype('uint8'))
    """
    entry = info(name, registry=registry)
    _check_options(entry, options)
    max_side = None
    if entry.offline:
        ds = offline.build(entry, seed=seed, image_size=image_size, **options)
    else:
        max_side = options.get("max_side", _ONLINE_MAX_SIDE if image_size is None else None)
        ds = (online.url_source(entry) if entry.kind == "url"
              else online.tfds_source(entry, split=split))
    ds = _only_splits(ds, split)
    ds = ds.subset(_select_per_class(ds.labels, max_per_class, seed))
    return _pixels.read(ds, image_size=image_size, max_side=max_side)
