"""Data sets for the lessons: a validated registry (``datasets.yaml``) and loaders.

Offline entries are built from data that installed packages ship (scikit-learn,
scikit-image, matplotlib) and load with no network, deterministically. Online
entries download once into the cache (``cache_root()/datasets``), are checked
against their sha256, and then load offline too. Offline and not yet
downloaded, they fail within about two seconds with a message saying what is
needed, where it would be cached, and which offline data sets to use instead.

Where the registry lives: the canonical file is ``datasets.yaml`` at the
repository root. The package reads ``cbr_edu/datasets.yaml`` — a symbolic link
to it in the repository, a real copy in a wheel (it is package data) — and
falls back to the repository root if that link is missing or was checked out
as a plain text file (Windows without symlink support). Pass ``registry=`` to
use another file.

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

import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from ._network import can_connect

__all__ = [
    "Dataset", "DatasetInfo", "RegistryError", "DatasetUnavailableError",
    "names", "info", "load", "registry_path", "read_registry", "download_dir",
]

_SOURCE_KINDS_OFFLINE = {"sklearn", "skimage", "bundled-photos"}
_SOURCE_KINDS_ONLINE = {"url", "tfds"}
_LAYOUTS = {"class_folders", "filename_prefix"}
_REQUIRED = ("name", "description", "source", "classes", "images", "licence", "citation",
             "offline")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


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
    >>> info("digits").classes, info("digits").offline
    (10, True)
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
        ``bundled_landmarks``, ``"train"`` / ``"validation"`` for imagenette.
    paths : list or None
        Source files, for data sets read from files.
    extras : dict
        Per-data-set extras, e.g. ``extras["views"]`` describes each landmark view.

    Example
    -------
    >>> ds = load("bundled_landmarks")
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
        idx = np.arange(len(self))[np.asarray(which)] if np.asarray(which).dtype == bool \
            else np.asarray(which, dtype=int)
        extras = {k: [v[i] for i in idx] if isinstance(v, list) and len(v) == len(self) else v
                  for k, v in self.extras.items()}
        return Dataset(
            images=[self.images[i] for i in idx], labels=self.labels[idx],
            class_names=list(self.class_names), info=self.info,
            split=None if self.split is None else self.split[idx],
            paths=None if self.paths is None else [self.paths[i] for i in idx],
            extras=extras)


# --------------------------------------------------------------------------- registry

def registry_path() -> Path:
    """Path of the registry the package uses by default (see module docs).

    Example
    -------
    >>> registry_path().name
    'datasets.yaml'
    """
    packaged = Path(__file__).with_name("datasets.yaml")
    if packaged.is_file():
        try:
            head = packaged.read_text(encoding="utf-8")[:4096]
        except OSError:
            head = ""
        if "datasets:" in head:  # a real registry, not a symlink stored as text
            return packaged
    root_copy = Path(__file__).resolve().parent.parent / "datasets.yaml"
    if root_copy.is_file():
        return root_copy
    return packaged


def _fail(label: str, entry: str, fld: str, problem: str):
    raise RegistryError(f"{label}: entry '{entry}': field '{fld}' {problem}")


def _validate_entry(raw, position: int, label: str) -> DatasetInfo:
    if not isinstance(raw, dict):
        raise RegistryError(f"{label}: entry #{position + 1} is not a mapping (got {raw!r})")
    name = raw.get("name")
    ename = name if isinstance(name, str) and name else f"#{position + 1}"
    for fld in _REQUIRED:
        if fld not in raw or raw[fld] is None or raw[fld] == "":
            _fail(label, ename, fld, "is missing")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        _fail(label, ename, "name", "must be lower case letters, digits and underscores")
    for fld in ("description", "licence", "citation"):
        if not isinstance(raw[fld], str):
            _fail(label, ename, fld, f"must be text, got {type(raw[fld]).__name__}")
    for fld in ("classes", "images"):
        v = raw[fld]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            _fail(label, ename, fld, f"must be a positive integer, got {v!r}")
    if raw["classes"] > raw["images"]:
        _fail(label, ename, "classes", f"({raw['classes']}) exceeds 'images' ({raw['images']})")
    if not isinstance(raw["offline"], bool):
        _fail(label, ename, "offline", f"must be true or false, got {raw['offline']!r}")
    src = raw["source"]
    if not isinstance(src, dict):
        _fail(label, ename, "source", "must be a mapping with a 'kind'")
    kind = src.get("kind")
    if kind not in _SOURCE_KINDS_OFFLINE | _SOURCE_KINDS_ONLINE:
        _fail(label, ename, "source.kind",
              f"must be one of {sorted(_SOURCE_KINDS_OFFLINE | _SOURCE_KINDS_ONLINE)}, got {kind!r}")
    if kind in _SOURCE_KINDS_OFFLINE:
        if raw["offline"] is not True:
            _fail(label, ename, "offline", f"must be true for source kind '{kind}'")
        builder = src.get("builder")
        if builder not in _BUILDERS:
            _fail(label, ename, "source.builder",
                  f"names no known builder ({builder!r}; known: {sorted(_BUILDERS)})")
    else:
        if raw["offline"] is not False:
            _fail(label, ename, "offline", f"must be false for source kind '{kind}'")
    if kind == "tfds":
        if not isinstance(src.get("tfds_name"), str):
            _fail(label, ename, "source.tfds_name", "is missing")
        sha = src.get("sha256")
        if sha is not None and not (isinstance(sha, str) and _SHA_RE.match(sha)):
            _fail(label, ename, "source.sha256", "must be 64 lower-case hex digits or null")
    if kind == "url":
        files = src.get("files")
        if not isinstance(files, list) or not files:
            _fail(label, ename, "source.files", "must be a non-empty list of {url, sha256}")
        for j, f in enumerate(files):
            where = f"source.files[{j}]"
            if not isinstance(f, dict):
                _fail(label, ename, where, "must be a mapping with url and sha256")
            url = f.get("url")
            if not isinstance(url, str) or urllib.parse.urlparse(url).scheme not in (
                    "http", "https", "file"):
                _fail(label, ename, where + ".url", f"must be an http(s) URL, got {url!r}")
            sha = f.get("sha256")
            if sha is None:
                _fail(label, ename, where + ".sha256",
                      "is missing (null is only allowed for tfds-managed sources)")
            if not isinstance(sha, str) or not _SHA_RE.match(sha):
                _fail(label, ename, where + ".sha256", "must be 64 lower-case hex digits")
            if "bytes" in f and (not isinstance(f["bytes"], int) or f["bytes"] < 1):
                _fail(label, ename, where + ".bytes", "must be a positive integer")
        if src.get("layout") not in _LAYOUTS:
            _fail(label, ename, "source.layout",
                  f"must be one of {sorted(_LAYOUTS)}, got {src.get('layout')!r}")
        if not (isinstance(src.get("root"), str) or isinstance(src.get("splits"), dict)):
            _fail(label, ename, "source.root", "is missing (give 'root' or 'splits')")
        if "strip_class_prefix" in src:
            try:
                re.compile(src["strip_class_prefix"])
            except (re.error, TypeError) as e:
                _fail(label, ename, "source.strip_class_prefix", f"is not a valid regex ({e})")
    lessons = raw.get("lessons") or ()
    if not isinstance(lessons, (list, tuple)):
        _fail(label, ename, "lessons", "must be a list")
    return DatasetInfo(
        name=name, description=" ".join(raw["description"].split()), source=dict(src),
        classes=raw["classes"], images=raw["images"], licence=" ".join(raw["licence"].split()),
        citation=" ".join(raw["citation"].split()), offline=raw["offline"],
        homepage=raw.get("homepage"), lessons=tuple(lessons), notes=raw.get("notes"))


def read_registry(path=None) -> dict:
    """Read and validate a registry file; return ``{name: DatasetInfo}`` in file order.

    Raises
    ------
    RegistryError
        Naming the file, the entry and the field, e.g.
        ``datasets.yaml: entry 'tf_flowers': field 'licence' is missing``.

    Example
    -------
    >>> reg = read_registry()
    >>> reg["lfw_subset"].images
    200
    """
    path = Path(path) if path is not None else registry_path()
    return _read_registry_cached(str(path), _mtime(path))


def _mtime(path: Path):
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


@lru_cache(maxsize=8)
def _read_registry_cached(path: str, _mtime_ns) -> dict:
    import yaml

    label = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise RegistryError(f"{label}: cannot read the registry at {path} ({e})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RegistryError(f"{label}: not valid YAML ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("datasets"), list):
        raise RegistryError(f"{label}: expected a top-level 'datasets:' list of entries")
    out: dict = {}
    for i, raw in enumerate(doc["datasets"]):
        entry = _validate_entry(raw, i, label)
        if entry.name in out:
            raise RegistryError(f"{label}: entry '{entry.name}': field 'name' is duplicated")
        out[entry.name] = entry
    return out


def names(offline_only: bool = False, registry=None) -> list:
    """Names of the registered data sets (in registry order).

    Example
    -------
    >>> names(offline_only=True)
    ['digits', 'lfw_subset', 'bundled_landmarks', 'textures']
    """
    reg = read_registry(registry)
    return [n for n, e in reg.items() if e.offline or not offline_only]


def info(name: str, registry=None) -> DatasetInfo:
    """The registry entry for ``name``.

    Example
    -------
    >>> info("tf_flowers").offline
    False
    """
    reg = read_registry(registry)
    if name not in reg:
        close = [n for n in reg if n.startswith(name[:3])]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"Unknown data set {name!r}.{hint} Known: {', '.join(reg)}.")
    return reg[name]


# --------------------------------------------------------------------------- helpers

def _resize(img: np.ndarray, size, resample=None) -> np.ndarray:
    """Resize a whole image (no crop) to ``size`` (int or (h, w))."""
    from PIL import Image
    h, w = (size, size) if isinstance(size, (int, np.integer)) else size
    if img.shape[:2] == (h, w):
        return img
    resample = Image.Resampling.BILINEAR if resample is None else resample
    return np.asarray(Image.fromarray(img).resize((int(w), int(h)), resample))


def _downsize(img: np.ndarray, max_side: int) -> np.ndarray:
    from PIL import Image
    if max(img.shape[:2]) <= max_side:
        return img
    im = Image.fromarray(img)
    im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(im)


def _grey_to_rgb(a: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(a, np.uint8)[..., None], 3, axis=-1)


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


# --------------------------------------------------------------------------- offline builders

def _build_digits(image_size=32, **_):
    from PIL import Image
    from sklearn.datasets import load_digits
    d = load_digits()
    grey = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    size = 8 if image_size is None else image_size
    if isinstance(size, (int, np.integer)) and size % 8 == 0:  # exact nearest upscale
        k = size // 8
        big = grey.repeat(k, axis=1).repeat(k, axis=2)
        images = [_grey_to_rgb(g) for g in big]
    else:
        images = [_grey_to_rgb(_resize(g, size, Image.Resampling.NEAREST)) for g in grey]
    return images, d.target.astype(np.int64), [str(i) for i in range(10)], None, {}


def _build_lfw_subset(image_size=None, **_):
    from skimage import data
    raw = data.lfw_subset()  # (200, 25, 25), first 100 faces, next 100 non-faces
    a = np.asarray(raw)
    if a.dtype != np.uint8:
        a = np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)
    images = [_grey_to_rgb(x) for x in a]
    if image_size is not None:
        images = [_resize(x, image_size) for x in images]
    labels = np.array([0] * 100 + [1] * 100, dtype=np.int64)
    return images, labels, ["face", "not_face"], None, {}


@lru_cache(maxsize=1)
def _landmark_photos() -> dict:
    """name -> RGB uint8 photo (read-only), all shipped by installed packages."""
    from matplotlib import cbook
    from PIL import Image
    from skimage import data
    from sklearn.datasets import load_sample_images
    sample = load_sample_images()
    files = {Path(f).stem: img for f, img in zip(sample.filenames, sample.images)}
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(Image.open(f).convert("RGB"))
    photos = {
        "astronaut": data.astronaut(),
        "chelsea_cat": data.chelsea(),
        "china_pagoda": files["china"],
        "coffee": data.coffee(),
        "flower": files["flower"],
        "grace_hopper": hopper,
        "rocket": data.rocket(),
    }
    for a in photos.values():
        a.setflags(write=False)
    return photos


_VIEW_KINDS = ("crop_zoom", "rotate", "light", "perspective", "distance", "combined")


def _make_view(photo, kind: str, rng: np.random.Generator):
    """One deterministic viewpoint change of a PIL image; returns (image, description)."""
    from PIL import Image, ImageEnhance
    w, h = photo.size

    def crop_zoom(im, lo=0.6, hi=0.85):
        f = rng.uniform(lo, hi)
        cw, ch = int(w * f), int(h * f)
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
        return im.resize((w, h), Image.Resampling.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch)), \
            f"crop {f:.0%} at ({x0},{y0}), zoom to full size"

    def rotate(im, lo=8, hi=20):
        angle = float(rng.uniform(lo, hi) * rng.choice([-1, 1]))
        r = im.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)
        # crop away the blank corners, then back to full size
        t = np.deg2rad(abs(angle))
        f = 1.0 / (np.cos(t) + np.sin(t) * max(w / h, h / w))
        cw, ch = int(w * f), int(h * f)
        box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
        return r.resize((w, h), Image.Resampling.BICUBIC, box=box), f"rotate {angle:+.0f}°"

    def light(im):
        b, c = rng.uniform(0.55, 1.45), rng.uniform(0.6, 1.4)
        im = ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(b)).enhance(c)
        return im, f"brightness ×{b:.2f}, contrast ×{c:.2f}"

    def perspective(im):
        j = lambda s: float(rng.uniform(0, s))  # noqa: E731
        dx, dy = 0.18 * w, 0.18 * h
        quad = (j(dx), j(dy), j(dx), h - j(dy), w - j(dx), h - j(dy), w - j(dx), j(dy))
        return im.transform((w, h), Image.Transform.QUAD, quad, Image.Resampling.BICUBIC), \
            "perspective (corners moved up to 18%)"

    def distance(im):
        s = rng.uniform(0.2, 0.4)
        small = im.resize((max(8, int(w * s)), max(8, int(h * s))), Image.Resampling.BOX)
        q = int(rng.integers(25, 55))
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=q)
        buf.seek(0)
        back = Image.open(buf).convert("RGB").resize((w, h), Image.Resampling.BILINEAR)
        return back, f"seen from afar: scale {s:.0%}, JPEG quality {q}"

    if kind == "crop_zoom":
        return crop_zoom(photo)
    if kind == "rotate":
        return rotate(photo)
    if kind == "light":
        return light(photo)
    if kind == "perspective":
        return perspective(photo)
    if kind == "distance":
        return distance(photo)
    im, d1 = crop_zoom(photo, 0.7, 0.9)
    im, d2 = rotate(im, 5, 12)
    im, d3 = light(im)
    return im, f"{d1}; {d2}; {d3}"


def _build_bundled_landmarks(image_size=None, views_per_class=6, seed=0, max_side=256, **_):
    from PIL import Image
    if views_per_class < 0:
        raise ValueError(f"views_per_class must be >= 0, got {views_per_class}")
    photos = _landmark_photos()
    class_names = sorted(photos)
    images, labels, split, views = [], [], [], []
    for c, name in enumerate(class_names):
        base = Image.fromarray(np.ascontiguousarray(photos[name]))
        if max_side is not None:
            base.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        rng = np.random.default_rng([seed, c])
        items = [(base, "canonical photo")]
        for v in range(views_per_class):
            items.append(_make_view(base, _VIEW_KINDS[v % len(_VIEW_KINDS)], rng))
        for k, (im, desc) in enumerate(items):
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
            if image_size is not None:
                arr = _resize(arr, image_size)
            images.append(arr)
            labels.append(c)
            split.append("index" if k == 0 else "query")
            views.append(desc)
    return (images, np.array(labels, np.int64), class_names, np.array(split),
            {"views": views})


def _build_textures(image_size=None, patch_size=64, **_):
    from skimage import color, data
    sources = {
        "brick": data.brick(), "grass": data.grass(), "gravel": data.gravel(),
        "moon": data.moon(),
        "tissue": np.round(color.rgb2gray(data.immunohistochemistry()) * 255).astype(np.uint8),
    }
    class_names = sorted(sources)
    images, labels, where = [], [], []
    for c, name in enumerate(class_names):
        g = np.asarray(sources[name], np.uint8)[:512, :512]
        n = g.shape[0] // patch_size
        for i in range(n):
            for j in range(n):
                p = g[i * patch_size:(i + 1) * patch_size, j * patch_size:(j + 1) * patch_size]
                rgb = _grey_to_rgb(p)
                if image_size is not None:
                    rgb = _resize(rgb, image_size)
                images.append(rgb)
                labels.append(c)
                where.append((i, j))
    return images, np.array(labels, np.int64), class_names, None, {"grid_position": where}


_BUILDERS: dict = {
    "digits": _build_digits,
    "lfw_subset": _build_lfw_subset,
    "bundled_landmarks": _build_bundled_landmarks,
    "textures": _build_textures,
}


# --------------------------------------------------------------------------- online

#: Seconds the quick connectivity check may take.
NETWORK_TIMEOUT = 2.0


def download_dir() -> Path:
    """Where online data sets are downloaded and extracted.

    Example
    -------
    >>> download_dir().name
    'datasets'
    """
    from .cache import cache_root
    return cache_root() / "datasets"


def _network_available(url: str, timeout: float = NETWORK_TIMEOUT) -> bool:
    """Quick check: can we open a TCP connection to the URL's host within ``timeout``?

    Name resolution runs in a helper thread so a hanging DNS lookup cannot
    block longer than ``timeout`` either. Tests replace this function.
    """
    parts = urllib.parse.urlparse(url)
    if parts.scheme == "file":
        return True
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return can_connect(parts.hostname, port, timeout)


def _offline_names() -> list:
    try:
        return names(offline_only=True)
    except RegistryError:
        return list(_BUILDERS)


def _file_name(f: dict) -> str:
    return f.get("filename") or Path(urllib.parse.urlparse(f["url"]).path).name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _unavailable_message(entry: DatasetInfo, reason: str) -> str:
    size = entry.download_bytes
    size_txt = f" ({size / 1e6:,.0f} MB)" if size else ""
    lines = [f"Data set '{entry.name}' is not available: {reason}.",
             f"It needs the internet once: it downloads{size_txt} and is then cached in "
             f"{download_dir() / entry.name} for offline use."]
    if entry.kind == "url":
        dl = download_dir() / "downloads"
        files = ", ".join(_file_name(f) for f in entry.source["files"])
        urls = " ".join(f["url"] for f in entry.source["files"])
        lines.append(f"On a slow or missing connection, fetch {urls} on another machine and "
                     f"copy {files} into {dl} (checked by sha256).")
    lines.append("Offline alternatives that always work: "
                 + ", ".join(_offline_names()) + ".")
    return " ".join(lines)


def _download(entry: DatasetInfo, f: dict, dest_dir: Path) -> Path:
    """Download one file (or reuse a verified copy) and return its path."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / _file_name(f)
    if target.is_file():
        if _sha256(target) == f["sha256"]:
            return target
    if not _network_available(f["url"]):
        host = urllib.parse.urlparse(f["url"]).hostname
        raise DatasetUnavailableError(_unavailable_message(
            entry, f"no network (could not reach {host} within {NETWORK_TIMEOUT:g} s)"))
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=dest_dir)
    h = hashlib.sha256()
    try:
        req = urllib.request.Request(f["url"], headers={"User-Agent": "cbr-edu"})
        with urllib.request.urlopen(req, timeout=30) as resp, os.fdopen(fd, "wb") as out:
            total = f.get("bytes") or int(resp.headers.get("Content-Length") or 0) or None
            bar = None
            try:
                from tqdm.auto import tqdm
                bar = tqdm(total=total, unit="B", unit_scale=True, desc=target.name)
            except ImportError:  # pragma: no cover
                pass
            for block in iter(lambda: resp.read(1 << 20), b""):
                out.write(block)
                h.update(block)
                if bar is not None:
                    bar.update(len(block))
            if bar is not None:
                bar.close()
        if h.hexdigest() != f["sha256"]:
            raise DatasetUnavailableError(
                f"Download of {f['url']} for '{entry.name}' has sha256 {h.hexdigest()}, "
                f"expected {f['sha256']}: the file is corrupt or was changed upstream. "
                f"Nothing was kept; try again, or report it.")
        os.replace(tmp, target)
        return target
    except DatasetUnavailableError:
        raise
    except (OSError, ValueError) as e:
        raise DatasetUnavailableError(_unavailable_message(
            entry, f"downloading {f['url']} failed ({e})")) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _extract(archive: Path, dest: Path) -> None:
    """Extract a .zip / .tar(.gz) archive safely (no paths outside ``dest``)."""
    name = archive.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            root = dest.resolve()
            for member in z.namelist():
                target = (dest / member).resolve()
                if root != target and root not in target.parents:
                    raise DatasetUnavailableError(
                        f"Archive {archive} contains an unsafe path {member!r}; refusing it.")
            z.extractall(dest)
    elif re.search(r"\.(tar|tgz|tar\.gz|tar\.bz2|tar\.xz)$", name):
        with tarfile.open(archive) as t:
            t.extractall(dest, filter="data")
    else:
        raise DatasetUnavailableError(f"Do not know how to extract {archive}.")


def _prepare_url_dataset(entry: DatasetInfo) -> Path:
    """Make sure the data set is downloaded and extracted; return its folder."""
    final = download_dir() / entry.name
    marker = final / ".complete"
    if marker.is_file():
        return final
    downloads = download_dir() / "downloads"
    archives = [_download(entry, f, downloads) for f in entry.source["files"]]
    download_dir().mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=download_dir()))
    try:
        for a in archives:
            _extract(a, staging)
        (staging / ".complete").write_text(time.strftime("%Y-%m-%d %H:%M:%S"))
        if marker.is_file():  # another notebook finished first
            return final
        if final.exists():
            shutil.rmtree(final)  # an earlier, interrupted extraction of ours
        try:
            os.replace(staging, final)
        except OSError:
            if not marker.is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return final


def _scan_url_layout(entry: DatasetInfo, folder: Path):
    """(paths, class name per path, split per path) for an extracted data set."""
    from .images import IMAGE_EXTENSIONS, is_hidden
    src = entry.source
    roots = src.get("splits") or {None: src["root"]}
    depth = int(src.get("class_depth", 1))
    strip = re.compile(src["strip_class_prefix"]) if src.get("strip_class_prefix") else None
    rename = src.get("class_names") or {}
    paths, classes, splits = [], [], []
    for split, rel in roots.items():
        base = folder / rel
        if not base.is_dir():
            raise DatasetUnavailableError(
                f"Data set '{entry.name}': expected folder {base} after extraction; the "
                f"archive layout changed. Delete {folder} and try again, or report it.")
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
            for fn in sorted(filenames):
                if is_hidden(fn) or Path(fn).suffix.lower() not in IMAGE_EXTENSIONS:
                    continue
                p = Path(dirpath) / fn
                parts = p.relative_to(base).parts
                if src["layout"] == "filename_prefix":
                    cname = Path(fn).stem.rsplit("_", 1)[0]
                else:
                    if len(parts) <= depth:
                        continue  # loose file above the class level
                    cname = "/".join(parts[:depth])
                if strip is not None:
                    cname = strip.sub("", cname)
                cname = rename.get(cname, cname)
                paths.append(p)
                classes.append(cname)
                splits.append(split)
    return paths, classes, splits


def _load_url(entry: DatasetInfo, *, split=None, max_per_class=None, seed=0,
              image_size=None, max_side=None):
    from .images import ImageReadError, read_image
    folder = _prepare_url_dataset(entry)
    paths, classes, splits = _scan_url_layout(entry, folder)
    if split is not None:
        wanted = {split} if isinstance(split, str) else set(split)
        known = set(splits)
        if not wanted <= known:
            raise ValueError(f"Data set '{entry.name}' has splits {sorted(map(str, known))}; "
                             f"got {sorted(wanted)}.")
        keep = [i for i, s in enumerate(splits) if s in wanted]
        paths, classes, splits = ([paths[i] for i in keep], [classes[i] for i in keep],
                                  [splits[i] for i in keep])
    class_names = sorted(set(classes))
    index = {c: i for i, c in enumerate(class_names)}
    labels = np.array([index[c] for c in classes], np.int64)
    sel = _select_per_class(labels, max_per_class, seed)
    if max_side is None and image_size is None:
        max_side = 512  # memory: thousands of full-size photos do not fit a laptop
    images, kept, skipped = [], [], []
    for i in sel:
        try:
            img = read_image(paths[i], max_side=max_side)
        except ImageReadError as e:
            skipped.append((paths[i], e.reason))
            continue
        images.append(_resize(img, image_size) if image_size is not None else img)
        kept.append(i)
    kept = np.array(kept, dtype=int)
    split_arr = None if all(s is None for s in splits) else np.array(
        [splits[i] for i in kept], dtype=str)
    return (images, labels[kept], class_names, split_arr,
            {"skipped": skipped}, [paths[i] for i in kept])


def _load_tfds(entry: DatasetInfo, *, split=None, max_per_class=None, seed=0,
               image_size=None, max_side=None):
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DatasetUnavailableError(_unavailable_message(
            entry, "it is loaded through TensorFlow Datasets, which is not installed "
                   "(pip install tensorflow-datasets)")) from None
    data_dir = download_dir() / "tfds"
    name = entry.source["tfds_name"]
    try:
        builder = tfds.builder(name, data_dir=str(data_dir))
        prepared = builder.info.splits.total_num_examples > 0 if hasattr(builder.info, "splits") \
            else False
    except Exception:  # noqa: BLE001 - tfds raises many kinds
        prepared = False
    if not prepared and not _network_available("https://storage.googleapis.com"):
        raise DatasetUnavailableError(_unavailable_message(
            entry, f"no network (could not reach storage.googleapis.com within "
                   f"{NETWORK_TIMEOUT:g} s)"))
    ds, ds_info = tfds.load(name, split=split or entry.source.get("split", "train"),
                            data_dir=str(data_dir), as_supervised=True, with_info=True)
    class_names = list(ds_info.features["label"].names)
    images, labels = [], []
    for img, lab in tfds.as_numpy(ds):
        img = np.asarray(img, np.uint8)
        if img.ndim == 2 or img.shape[-1] == 1:
            img = _grey_to_rgb(img.reshape(img.shape[:2]))
        images.append(img)
        labels.append(int(lab))
    labels = np.array(labels, np.int64)
    sel = _select_per_class(labels, max_per_class, seed)
    images = [images[i] for i in sel]
    if image_size is not None:
        images = [_resize(x, image_size) for x in images]
    elif max_side is not None:
        images = [_downsize(x, max_side) for x in images]
    return images, labels[sel], class_names, None, {}, None


# --------------------------------------------------------------------------- load

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
        Seed for ``max_per_class`` (and the landmark views).
    image_size : int or (h, w), optional
        Resize every image to this size (whole image, no crop). ``digits``
        defaults to 32 (nearest neighbour), the others keep their size.
    split : str or list of str, optional
        Only these splits (online data sets with splits).
    registry : path, optional
        Another registry file.
    **options
        Builder options: ``views_per_class`` and ``max_side`` for
        ``bundled_landmarks``, ``patch_size`` for ``textures``, ``max_side``
        (default 512) for online sets.

    Raises
    ------
    KeyError
        Unknown name.
    DatasetUnavailableError
        An online data set that is neither cached nor reachable (fails in
        about two seconds, with what to do and the offline alternatives).

    Example
    -------
    >>> ds = load("digits", max_per_class=5)
    >>> len(ds), ds.images[0].shape, ds.images[0].dtype
    (50, (32, 32, 3), dtype('uint8'))
    """
    entry = info(name, registry)
    if entry.offline:
        builder: Callable = _BUILDERS[entry.source["builder"]]
        kwargs = dict(options)
        if image_size is not None:
            kwargs["image_size"] = image_size
        if entry.source["builder"] == "bundled_landmarks":
            kwargs.setdefault("seed", seed)
        images, labels, class_names, split_arr, extras = builder(**kwargs)
        paths = None
        if split is not None:
            if split_arr is None:
                raise ValueError(f"Data set '{name}' has no splits.")
            wanted = {split} if isinstance(split, str) else set(split)
            mask = np.isin(split_arr, list(wanted))
            images = [im for im, m in zip(images, mask) if m]
            labels, split_arr = labels[mask], split_arr[mask]
            extras = {k: [v for v, m in zip(vals, mask) if m] for k, vals in extras.items()}
        sel = _select_per_class(labels, max_per_class, seed)
        if len(sel) != len(labels):
            images = [images[i] for i in sel]
            labels = labels[sel]
            split_arr = None if split_arr is None else split_arr[sel]
            extras = {k: [vals[i] for i in sel] for k, vals in extras.items()}
    elif entry.kind == "url":
        images, labels, class_names, split_arr, extras, paths = _load_url(
            entry, split=split, max_per_class=max_per_class, seed=seed,
            image_size=image_size, max_side=options.get("max_side"))
    else:
        images, labels, class_names, split_arr, extras, paths = _load_tfds(
            entry, split=split, max_per_class=max_per_class, seed=seed,
            image_size=image_size, max_side=options.get("max_side"))
    return Dataset(images=list(images), labels=np.asarray(labels, np.int64),
                   class_names=list(class_names), info=entry, split=split_arr,
                   paths=paths, extras=extras)
