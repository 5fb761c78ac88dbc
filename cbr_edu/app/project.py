"""A builder project as one ``.zip`` file: samples, index and settings — never a pickle.

Inside the zip:

* ``project.json`` — format, embedder (spec and id), embedding size, threshold,
  and the classes in order, each with its samples' sources;
* ``embeddings.npy`` — the index, ``(n, dim)`` float32, samples in class order
  (read with ``allow_pickle=False``);
* ``thumbnails/<class number>/<sample number>.jpg`` — what the app shows.

Reading checks everything before anything is used, and says what is wrong.

Example
-------
>>> import numpy as np, tempfile, os
>>> project = Project("pixels:4", "pixels:4-v1", None,
...                   {"cat": [Sample(np.ones(16, np.float32), b"jpg", "a.jpg")], "dog": []})
>>> path = os.path.join(tempfile.mkdtemp(), "pets.zip")
>>> _ = write_project(project, path)
>>> back = read_project(path)
>>> list(back.classes), back.classes["cat"][0].source, back.classes["cat"][0].thumbnail
(['cat', 'dog'], 'a.jpg', b'jpg')
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._atomic import atomic_output

__all__ = ["Project", "Sample", "write_project", "read_project", "ProjectError", "FORMAT"]

FORMAT = "cbr_edu.app.project/1"
_MAX_UNPACKED = 2 << 30  # refuse zips that unpack to more than 2 GB


class ProjectError(ValueError):
    """A project file cannot be read or written; the message says why."""


@dataclass
class Sample:
    """One example image of a class: its embedding (L2-normalised), a JPEG thumbnail,
    and where it came from."""

    embedding: np.ndarray
    thumbnail: bytes
    source: str


@dataclass
class Project:
    """What a project file holds. ``classes`` maps names, in order, to their samples."""

    embedder: str
    embedder_id: str
    threshold: float | None
    classes: dict


def write_project(project: Project, path, *, overwrite=False) -> Path:
    """Write ``project`` to ``path`` (a ``.zip``) atomically."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        raise ProjectError(f"a project file ends in .zip; got {path.name!r}")
    if path.exists() and not overwrite:
        raise ProjectError(f"{path} exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise ProjectError(f"folder {path.parent} does not exist; create it first")
    samples = [s for items in project.classes.values() for s in items]
    dim = len(samples[0].embedding) if samples else 0
    manifest = {"format": FORMAT, "embedder": project.embedder,
                "embedder_id": project.embedder_id, "dim": dim,
                "threshold": project.threshold, "classes": []}
    embeddings = io.BytesIO()
    np.save(embeddings, np.array([s.embedding for s in samples], np.float32).reshape(-1, dim),
            allow_pickle=False)
    with atomic_output(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
        for c, (name, items) in enumerate(project.classes.items()):
            manifest["classes"].append({"name": name,
                                        "sources": [s.source for s in items]})
            for k, sample in enumerate(items):
                zf.writestr(f"thumbnails/{c}/{k}.jpg", sample.thumbnail, zipfile.ZIP_STORED)
        zf.writestr("embeddings.npy", embeddings.getvalue())
        zf.writestr("project.json", json.dumps(manifest, indent=1, ensure_ascii=False))
    return path


def read_project(path) -> Project:
    """Read a project written by :func:`write_project`; ``ProjectError`` says what is wrong."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            if sum(info.file_size for info in zf.infolist()) > _MAX_UNPACKED:
                raise ProjectError(f"{path} unpacks to more than 2 GB; it is not a project")
            manifest = _manifest(zf, path)
            embeddings = _embeddings(zf, path, manifest)
            classes, row = {}, 0
            for c, entry in enumerate(manifest["classes"]):
                items = []
                for k, source in enumerate(entry["sources"]):
                    thumb = zf.read(f"thumbnails/{c}/{k}.jpg")
                    items.append(Sample(embeddings[row], thumb, str(source)))
                    row += 1
                classes[str(entry["name"])] = items
    except FileNotFoundError:
        raise ProjectError(f"project file {path} does not exist") from None
    except (zipfile.BadZipFile, KeyError, TypeError, OSError) as error:
        raise ProjectError(f"{path} is not a builder project or is damaged ({error})") from None
    return Project(manifest["embedder"], manifest["embedder_id"], manifest["threshold"], classes)


def _manifest(zf, path) -> dict:
    try:
        manifest = json.loads(zf.read("project.json"))
    except KeyError:
        raise ProjectError(f"{path} is not a builder project (no project.json inside)") from None
    except ValueError as error:
        raise ProjectError(f"{path}: project.json is damaged ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ProjectError(f"{path} is not a builder project of this version "
                           f"(format {found!r}, expected {FORMAT!r})")
    return manifest


def _embeddings(zf, path, manifest) -> np.ndarray:
    try:
        embeddings = np.load(io.BytesIO(zf.read("embeddings.npy")), allow_pickle=False)
    except ValueError as error:
        raise ProjectError(f"{path}: embeddings.npy is damaged ({error})") from None
    count = sum(len(entry["sources"]) for entry in manifest["classes"])
    if (embeddings.ndim != 2 or embeddings.shape != (count, manifest["dim"])
            or not np.all(np.isfinite(embeddings))):
        raise ProjectError(f"{path}: embeddings.npy has shape {embeddings.shape}, expected "
                           f"({count}, {manifest['dim']}) finite values; the file is damaged")
    return embeddings.astype(np.float32)
