"""Online data sets: archives fetched once with pooch, or TensorFlow Datasets.

``url`` entries: every archive is fetched with :func:`pooch.retrieve` into
``download_dir()/downloads`` (checked against its sha256; a mismatch keeps
nothing), extracted into a private staging folder, and published as
``download_dir()/<name>`` by one atomic rename with a ``.complete`` marker — so
two notebooks preparing the same data set at once never see each other's half
extraction. After that the data set loads offline. An archive copied into the
downloads folder by hand (a USB stick in a workshop) is used without network
once its sha256 matches.

Offline and not yet downloaded, loading fails within about two seconds (one
bounded probe, :func:`cbr_edu._network.can_connect`) with a message saying what
is needed, where it would be cached, how to copy the archive by hand, and which
offline data sets to use instead.

Example
-------
>>> from cbr_edu.datasets import info
>>> "copy flower_photos.tgz into" in _unavailable_message(info("tf_flowers"), "offline")
True
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from .. import _network
from .._hashing import file_sha256
from .._paths import cache_dir
from .records import Dataset, DatasetUnavailableError, RegistryError

__all__ = ["NETWORK_TIMEOUT", "download_dir", "prepare", "url_source", "tfds_source"]

#: Seconds the quick connectivity check may take.
NETWORK_TIMEOUT = 2.0

#: Where TensorFlow Datasets keeps its files (probed when nothing is prepared yet).
_TFDS_HOST = "storage.googleapis.com"


def download_dir() -> Path:
    """Where online data sets are downloaded and extracted (``<cache>/datasets``).

    Example
    -------
    >>> download_dir().name
    'datasets'
    """
    return cache_dir("datasets", create=False)


# --------------------------------------------------------------------------- messages

def _offline_names() -> list:
    from .offline import BUILDERS
    from .registry import names
    try:
        return names(offline_only=True)
    except RegistryError:
        return list(BUILDERS)


def _file_name(f: dict) -> str:
    return f.get("filename") or Path(urllib.parse.urlparse(f["url"]).path).name


def _unavailable_message(entry, reason: str) -> str:
    size = entry.download_bytes
    size_txt = f" ({size / 1e6:,.0f} MB)" if size else ""
    lines = [f"Data set '{entry.name}' is not available: {reason}.",
             f"It needs the internet once: it downloads{size_txt} and is then cached in "
             f"{download_dir() / entry.name} for offline use."]
    if entry.kind == "url":
        files = ", ".join(_file_name(f) for f in entry.source["files"])
        urls = " ".join(f["url"] for f in entry.source["files"])
        lines.append(f"On a slow or missing connection, fetch {urls} on another machine and "
                     f"copy {files} into {download_dir() / 'downloads'} (checked by sha256).")
    lines.append("Offline alternatives that always work: " + ", ".join(_offline_names()) + ".")
    return " ".join(lines)


def _reachable(url: str) -> bool:
    """The one bounded network probe, for the host of ``url`` (a file URL needs none)."""
    parts = urllib.parse.urlparse(url)
    if parts.scheme == "file":
        return True
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return _network.can_connect(parts.hostname, port, timeout=NETWORK_TIMEOUT)


# --------------------------------------------------------------------------- fetching

def _copy_file_url(url, output_file, _pooch=None):
    """pooch downloader for ``file://`` URLs (a shared folder, a test archive)."""
    shutil.copyfile(urllib.request.url2pathname(urllib.parse.urlparse(url).path), output_file)


def _downloader(url: str):
    import pooch
    if urllib.parse.urlparse(url).scheme == "file":
        return _copy_file_url
    return pooch.HTTPDownloader(progressbar=True, timeout=30, headers={"User-Agent": "cbr-edu"})


def _refuse_unsafe_members(archive, destination) -> None:
    """Check a tar archive with the standard library's ``data`` filter before extracting.

    pooch applies that filter itself from Python 3.12 on; before, it extracts
    whatever the archive says, including paths outside the destination.
    """
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            try:
                tarfile.data_filter(member, str(destination))
            except tarfile.FilterError as e:
                raise DatasetUnavailableError(
                    f"Archive {archive} has an unsafe member ({e}); refusing to extract it. "
                    "Delete it and report it.") from None


def _extractor(archive_name: str, destination: Path):
    """A pooch processor extracting ``archive_name`` into ``destination``."""
    import pooch
    if archive_name.lower().endswith(".zip"):
        return pooch.Unzip(extract_dir=str(destination))  # zipfile keeps paths inside
    untar = pooch.Untar(extract_dir=str(destination))
    if sys.version_info >= (3, 12):
        return untar

    def checked_untar(fname, action, pup):
        _refuse_unsafe_members(fname, destination)
        return untar(fname, action, pup)
    return checked_untar


def _has_verified_copy(downloads: Path, f: dict) -> bool:
    copy = downloads / _file_name(f)
    return copy.is_file() and file_sha256(copy) == f["sha256"]


def _check_reachable(entry, downloads: Path) -> None:
    """Fail fast, with what to do, when an archive is missing and the network is not there."""
    missing = [f for f in entry.source["files"] if not _has_verified_copy(downloads, f)]
    if not missing or _reachable(missing[0]["url"]):
        return
    name = _file_name(missing[0])
    host = urllib.parse.urlparse(missing[0]["url"]).hostname
    reason = f"no network (could not reach {host} within {NETWORK_TIMEOUT:g} s)"
    if (downloads / name).is_file():
        reason += f", and the copy of {name} in {downloads} does not match its sha256"
    raise DatasetUnavailableError(_unavailable_message(entry, reason))


def _fetch(entry, f: dict, downloads: Path, destination: Path) -> None:
    """Fetch one archive with pooch (or reuse a verified copy) and extract it."""
    import pooch
    url = f["url"]
    if not _has_verified_copy(downloads, f):
        size = f" ({f['bytes'] / 1e6:,.0f} MB)" if f.get("bytes") else ""
        print(f"{entry.name}: downloading {_file_name(f)}{size} once; then it loads offline "
              f"from {download_dir()}", flush=True)
    quiet = pooch.get_logger()   # its "Downloading…" / "Untarring…" lines: said above
    level = quiet.level
    quiet.setLevel("WARNING")
    try:
        pooch.retrieve(url, known_hash=f"sha256:{f['sha256']}", fname=_file_name(f),
                       path=downloads, processor=_extractor(_file_name(f), destination),
                       downloader=_downloader(url))
    except DatasetUnavailableError:
        raise
    except OSError as e:  # the network (requests' errors are OSErrors), the disk
        raise DatasetUnavailableError(_unavailable_message(
            entry, f"getting {url} failed ({e})")) from None
    except ValueError as e:  # pooch: the sha256 does not match; the download is deleted
        raise DatasetUnavailableError(
            f"Download of {url} for '{entry.name}' does not match its sha256 "
            f"{f['sha256']}: the file is corrupt or was changed upstream. Nothing was kept; "
            f"try again, or report it. ({e})") from None
    except (zipfile.BadZipFile, tarfile.TarError) as e:
        raise DatasetUnavailableError(
            f"Cannot extract {downloads / _file_name(f)} for '{entry.name}' ({e}). Delete it "
            "and try again, or report it.") from None
    finally:
        quiet.setLevel(level)


def _publish(staging: Path, final: Path) -> None:
    """Move a complete extraction into place with one atomic rename."""
    (staging / ".complete").write_text(time.strftime("%Y-%m-%d %H:%M:%S"))
    try:
        os.replace(staging, final)
        return
    except OSError:
        if (final / ".complete").is_file():
            return  # another notebook published the same data set first
    # an incomplete folder from an older, interrupted extraction: set it aside, then replace
    aside = Path(tempfile.mkdtemp(prefix=f".{final.name}-stale-", dir=final.parent))
    os.replace(final, aside / final.name)
    shutil.rmtree(aside, ignore_errors=True)
    os.replace(staging, final)


def prepare(entry) -> Path:
    """Make sure a ``url`` data set is downloaded and extracted; return its folder."""
    final = download_dir() / entry.name
    if (final / ".complete").is_file():
        return final
    downloads = download_dir() / "downloads"
    _check_reachable(entry, downloads)
    downloads.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=download_dir()))
    try:
        for f in entry.source["files"]:
            _fetch(entry, f, downloads, staging)
        _publish(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


# --------------------------------------------------------------------------- reading

def _class_of(src: dict, relative: Path, depth: int) -> str | None:
    """The class of a file at ``relative`` below a split root (None: above the class level)."""
    if src["layout"] == "filename_prefix":
        name = relative.stem.rsplit("_", 1)[0]
    elif len(relative.parts) <= depth:
        return None
    else:
        name = "/".join(relative.parts[:depth])
    if src.get("strip_class_prefix"):
        name = re.sub(src["strip_class_prefix"], "", name)
    return (src.get("class_names") or {}).get(name, name)


def _scan(entry, folder: Path):
    """(paths, class name per path, split per path) of an extracted data set."""
    from ..images import IMAGE_EXTENSIONS, is_hidden
    src = entry.source
    depth = int(src.get("class_depth", 1))
    paths, classes, splits = [], [], []
    for split, rel in (src.get("splits") or {None: src["root"]}).items():
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
                path = Path(dirpath) / fn
                cname = _class_of(src, path.relative_to(base), depth)
                if cname is not None:
                    paths.append(path)
                    classes.append(cname)
                    splits.append(split)
    return paths, classes, splits


def url_source(entry) -> Dataset:
    """A ``url`` data set (downloaded if needed) whose images are still file paths.

    Classes are found by the entry's ``layout``; ``load`` then chooses and reads
    the images (``tests/test_datasets.py`` runs this on a local archive).
    """
    folder = prepare(entry)
    paths, classes, splits = _scan(entry, folder)
    class_names = sorted(set(classes))
    index = {c: i for i, c in enumerate(class_names)}
    split = None if all(s is None for s in splits) else np.array(splits, dtype=str)
    return Dataset(images=list(paths), labels=np.array([index[c] for c in classes], np.int64),
                   class_names=class_names, info=entry, split=split, paths=list(paths))


def _tfds_prepared(tfds, name: str, data_dir: Path) -> bool:
    try:
        return tfds.builder(name, data_dir=str(data_dir)).info.splits.total_num_examples > 0
    except Exception:  # noqa: BLE001 - tfds raises many kinds
        return False


def tfds_source(entry, *, split=None) -> Dataset:
    """A ``tfds`` data set through TensorFlow Datasets (an optional package).

    ``split`` (a name or a list) defaults to the entry's ``source.split``.
    """
    from ..images import to_rgb
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DatasetUnavailableError(_unavailable_message(
            entry, "it is loaded through TensorFlow Datasets, which is not installed "
                   "(pip install tensorflow-datasets)")) from None
    data_dir = download_dir() / "tfds"
    name = entry.source["tfds_name"]
    if (not _tfds_prepared(tfds, name, data_dir)
            and not _network.can_connect(_TFDS_HOST, 443, timeout=NETWORK_TIMEOUT)):
        raise DatasetUnavailableError(_unavailable_message(
            entry, f"no network (could not reach {_TFDS_HOST} within {NETWORK_TIMEOUT:g} s)"))
    wanted = [split] if isinstance(split, str) else list(split or [entry.source.get("split",
                                                                                    "train")])
    images, labels, splits, class_names = [], [], [], []
    for part in wanted:
        data, data_info = tfds.load(name, split=part, data_dir=str(data_dir),
                                    as_supervised=True, with_info=True)
        class_names = list(data_info.features["label"].names)
        for image, label in tfds.as_numpy(data):
            images.append(to_rgb(image))
            labels.append(int(label))
            splits.append(part)
    return Dataset(images=images, labels=np.array(labels, np.int64), class_names=class_names,
                   info=entry, split=np.array(splits, dtype=str))
