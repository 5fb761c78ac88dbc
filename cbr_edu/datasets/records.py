"""What the data set rooms hand each other: a registry entry, a loaded data set, two errors.

Example
-------
>>> import numpy as np
>>> entry = DatasetInfo(name="toy", description="two dots", source={"kind": "sklearn"},
...                     classes=2, images=2, licence="CC0", citation="none", offline=True)
>>> ds = Dataset(images=[np.zeros((2, 2, 3), np.uint8)] * 2, labels=np.array([0, 1]),
...              class_names=["a", "b"], info=entry)
>>> ds, ds.label_names
(Dataset('toy', 2 images, 2 classes), ['a', 'b'])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["Dataset", "DatasetInfo", "RegistryError", "DatasetUnavailableError"]


class RegistryError(ValueError):
    """``datasets.yaml`` is broken; the message names the entry and the field.

    Example
    -------
    >>> str(RegistryError("datasets.yaml: entry 'x': field 'licence' is missing"))
    "datasets.yaml: entry 'x': field 'licence' is missing"
    """


class DatasetUnavailableError(ConnectionError):
    """An online data set cannot be loaded now (offline, missing package, download failed).

    Example
    -------
    >>> issubclass(DatasetUnavailableError, OSError)
    True
    """


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry (see ``datasets.yaml``).

    Example
    -------
    >>> from cbr_edu.datasets import info
    >>> info("digits").classes, info("digits").offline, info("digits").kind
    (10, True, 'sklearn')
    """

    name: str
    description: str
    source: dict
    classes: int
    images: int
    licence: str
    citation: str
    offline: bool
    homepage: str | None = None
    lessons: tuple = ()
    notes: str | None = None

    @property
    def kind(self) -> str:
        """The source kind: sklearn, skimage, bundled-photos, url or tfds."""
        return self.source["kind"]

    @property
    def download_bytes(self) -> int | None:
        """Total download size for url entries (None if unknown / not applicable)."""
        files = self.source.get("files") or []
        sizes = [f.get("bytes") for f in files]
        return sum(sizes) if files and all(isinstance(s, int) for s in sizes) else None

    def to_dict(self) -> dict:
        """The entry as a plain dict."""
        d = asdict(self)
        d["lessons"] = list(self.lessons)
        return d


@dataclass
class Dataset:
    """Images with integer labels.

    Attributes
    ----------
    images : list of ndarray
        ``(H, W, 3)`` uint8 RGB arrays (sizes may differ between images).
    labels : ndarray of int
        Index into ``class_names`` for each image.
    class_names : list of str
    info : DatasetInfo
    split : ndarray of str or None
        Per-image split or role, e.g. ``"index"`` / ``"query"`` for
        ``photo_views``, ``"train"`` / ``"validation"`` for imagenette.
    paths : list or None
        Source files, for data sets read from files.
    extras : dict
        Per-data-set extras, e.g. ``extras["views"]`` describes each view of ``photo_views``.
        A list with one value per image follows the images through :meth:`subset`.

    Example
    -------
    >>> from cbr_edu.datasets import load
    >>> ds = load("photo_views")
    >>> index = ds.subset(ds.split == "index")
    >>> len(index) == len(ds.class_names)
    True
    """

    images: list
    labels: np.ndarray
    class_names: list
    info: DatasetInfo
    split: np.ndarray | None = None
    paths: list | None = None
    extras: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        splits = "" if self.split is None else f", splits={sorted(set(self.split.tolist()))}"
        return (f"Dataset({self.info.name!r}, {len(self)} images, "
                f"{len(self.class_names)} classes{splits})")

    @property
    def label_names(self) -> list:
        """The class name of every image."""
        return [self.class_names[i] for i in self.labels]

    def subset(self, which) -> "Dataset":
        """A new Dataset with the images selected by a boolean mask or index list.

        Class names (and label numbers) are kept as they are.
        """
        which = np.asarray(which)
        idx = np.flatnonzero(which) if which.dtype == bool else which.astype(int)
        extras = {k: [v[i] for i in idx] if isinstance(v, list) and len(v) == len(self) else v
                  for k, v in self.extras.items()}
        return Dataset(
            images=[self.images[i] for i in idx], labels=np.asarray(self.labels)[idx],
            class_names=list(self.class_names), info=self.info,
            split=None if self.split is None else self.split[idx],
            paths=None if self.paths is None else [self.paths[i] for i in idx],
            extras=extras)
