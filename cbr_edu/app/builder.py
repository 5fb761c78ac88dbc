"""``Builder``: Teachable Machine's workflow on Classification-by-Retrieval, as a plain object.

Name classes, give each a few photos, get live answers, check, export for a
phone — and nothing is ever trained: adding a photo embeds it and writes one
row into the live index (:mod:`._index`; O(1), nothing is rebuilt). Export and
``to_classifier`` turn the same index into a ``CbRClassifier`` / ``.tflite``
whose scores are the app's. Every button of the app
(:mod:`cbr_edu.app.view`) is one of these methods, so everything also works from
code, in a script or without a browser.

Example
-------
>>> import numpy as np
>>> red, blue = np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8, 3), np.uint8)
>>> red[..., 0], blue[..., 2] = 200, 200
>>> app = Builder(embedder="pixels:4:rgb", cache=False)
>>> app.add_class("red", red); app.add_class("blue", blue)
>>> app.classes, app.count("red")
(['red', 'blue'], 2)
>>> [name for name, _ in app.predict(red[0], top=2)]
['red', 'blue']
>>> app.threshold = 0.9                    # green is like neither: "unknown" comes first
>>> app.predict(np.full((8, 8, 3), (0, 200, 0), np.uint8), top=1)
[('unknown', 0.0), ('red', 0.0)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..classifier import CbRClassifier
from ..embedders import load_embedder
from ..images import ImageReadError, as_image_list, prepare_images
from ..similarity import l2_normalize
from . import inputs
from ._index import LiveIndex
from ._names import check_class_name
from .check import UNKNOWN, leave_one_out
from .project import Project, ProjectError, Sample, read_project, write_project

__all__ = ["Builder", "BuilderError", "Answer"]

_BATCH = 32            # images decoded and embedded together
_PROGRESS_FROM = 64    # more images than this show a progress bar by default


class BuilderError(ValueError):
    """A builder action cannot be done; the message says why and what to do.

    The project is unchanged when it is raised.
    """


@dataclass
class Answer:
    """The builder's answer for one image.

    ``scores`` — similarity of the nearest example of each class that has
    samples (in the builder's class order); ``ranking`` — ``(name, score)``
    best first, with ``("unknown", best score)`` in front when the best score
    is below the threshold; ``nearest`` — ``(class, position, similarity)`` of
    the example that answered ("why this answer"); ``thumbnail`` — the image.
    """

    scores: dict
    ranking: list
    nearest: tuple
    thumbnail: bytes

    @property
    def unknown(self) -> bool:
        return self.ranking[0][0] == UNKNOWN


class Builder:
    """A CbR classifier built by hand: classes, samples, live answers, check, export.

    Parameters
    ----------
    embedder : str or Embedder
        Any ``load_embedder`` spec; the offline EfficientNet-Lite0 by default.
    cache : None, False or EmbeddingCache
        Where embeddings are cached (None: the user cache; False: no cache).

    A sample keeps its embedding and a small thumbnail, never the full image,
    so thousands of photos fit in memory. Methods that change the project
    check everything first: on bad input they raise :class:`BuilderError` and
    change nothing.
    """

    def __init__(self, embedder="efficientnet_lite0", *, cache=None):
        self.embedder = load_embedder(embedder)
        if cache is None:
            from ..cache import EmbeddingCache
            cache = EmbeddingCache()
        self._cache = cache
        self._classes: dict[str, list[Sample]] = {}
        self._threshold = None
        self._live = LiveIndex()  # every sample's embedding, for live answers
        self._watchers: list = []
        self._view = None

    # -- reading ------------------------------------------------------------
    @property
    def classes(self) -> list:
        """Class names, in the order they were added."""
        return list(self._classes)

    def count(self, name) -> int:
        """Number of samples of class ``name``."""
        return len(self._samples_of(name))

    def samples(self, name) -> tuple:
        """The samples of class ``name`` (embedding, thumbnail, source), in order."""
        return tuple(self._samples_of(name))

    @property
    def threshold(self):
        """Below this best similarity the answer is ``"unknown"``; None turns it off."""
        return self._threshold

    @threshold.setter
    def threshold(self, value):
        if value is not None:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise BuilderError(f"threshold must be a number or None, got {value!r}") from None
            if not -1.0 <= value <= 1.0:
                raise BuilderError(f"threshold is a similarity between -1 and 1, got {value}")
        self._threshold = value
        self._changed("threshold")

    def __repr__(self):
        counts = ", ".join(f"{name} {len(items)}" for name, items in self._classes.items())
        threshold = "off" if self._threshold is None else f"{self._threshold:.2f}"
        n = len(self._classes)
        return (f"<Builder {self.embedder.spec or self.embedder.id}: {n} "
                f"class{'es' if n != 1 else ''} ({counts or 'none yet'}); unknown threshold "
                f"{threshold}>")

    # -- editing classes ----------------------------------------------------
    def add_class(self, name, images=(), *, progress=None):
        """Add class ``name`` with ``images`` (paths, arrays, PIL images, uploads; may be empty)."""
        name = self._new_name(name)
        samples = self._make_samples(images, progress)
        self._classes[name] = samples
        self._append(name, samples)
        self._changed("classes")

    def add_images(self, name, images, *, progress=None) -> int:
        """Add ``images`` to class ``name``; returns how many were added.

        All or nothing: if one image cannot be read, none is added.
        """
        self._samples_of(name)
        samples = self._make_samples(images, progress)
        self._classes[name].extend(samples)
        self._append(name, samples)
        self._changed("samples", name)
        return len(samples)

    def remove_images(self, name, positions):
        """Remove the samples of class ``name`` at ``positions`` (0 = the first added)."""
        items = self._samples_of(name)
        try:
            drop = sorted({int(p) for p in np.atleast_1d(positions)})
        except (TypeError, ValueError):
            raise BuilderError(f"positions must be whole numbers, got {positions!r}") from None
        if drop and (drop[0] < 0 or drop[-1] >= len(items)):
            raise BuilderError(f"class {name!r} has {len(items)} samples (positions 0 to "
                               f"{len(items) - 1}); cannot remove position(s) {drop}")
        drop = set(drop)
        self._classes[name] = [s for i, s in enumerate(items) if i not in drop]
        self._reindex()
        self._changed("samples", name)

    def rename_class(self, old, new):
        """Rename class ``old`` to ``new``, keeping its place and samples."""
        self._samples_of(old)
        new = self._new_name(new, renaming=old)
        self._classes = {new if k == old else k: v for k, v in self._classes.items()}
        self._live.rename(old, new)
        self._changed("classes")

    def remove_class(self, name):
        """Remove class ``name`` and all its samples."""
        self._samples_of(name)
        del self._classes[name]
        self._reindex()
        self._changed("classes")

    def import_albums(self, root, *, progress=None):
        """Add an album folder (``root/<class>/<photos>``): a class per sub-folder.

        Existing classes of the same name get the photos; files that are not
        readable images are skipped (``album.skipped`` says why). Returns the
        album (``print(album.summary())``).
        """
        from ..images import AlbumError, load_folder
        try:
            album = load_folder(root, min_classes=1, load_images=False,
                                allow_empty_classes=True)
        except AlbumError as error:
            raise BuilderError(str(error)) from None
        names = [c for c in album.class_names if c not in self._classes]
        for name in names:
            self._new_name(name)
        samples = self._make_samples(album.paths, progress)
        for name in names:
            self._classes[name] = []
        for sample, label in zip(samples, album.labels):
            self._classes[label].append(sample)
        self._reindex()
        self._changed("classes")
        return album

    # -- answers ------------------------------------------------------------
    def answer(self, image) -> Answer:
        """Classify one image: scores, ranking (with unknown), the nearest example."""
        if self._live.size < 2:
            raise BuilderError("add at least 2 images (to one class or more) before asking "
                               "for an answer")
        rgb = self._decode(image)
        query = self._embed(prepare_images([rgb], self.embedder.input_size))
        similarities = self._live.similarities(query[0])
        by_name = self._live.best_per_class(similarities)
        scores = {name: by_name[name] for name in self._classes if name in by_name}
        ranking = sorted(scores.items(), key=lambda kv: -kv[1])
        best = ranking[0][1]
        if self._threshold is not None and best < self._threshold:
            ranking.insert(0, (UNKNOWN, best))
        row = int(np.argmax(similarities))
        name, position = self._live.where(row)   # rows of a class keep the samples' order
        return Answer(scores, ranking, (name, position, float(similarities[row])),
                      inputs.thumbnail(rgb))

    def predict(self, image, *, top=3) -> list:
        """``[(class, score), ...]`` best first for one image, ``top`` classes.

        Scores are the cosine similarity to the class's nearest example. Below
        the threshold, ``("unknown", best score)`` comes first (then the ``top``
        classes).
        """
        answer = self.answer(image)
        return answer.ranking[:max(1, int(top)) + answer.unknown]

    def check(self):
        """Leave-one-out accuracy per class and a confusion matrix (``CheckResult``)."""
        filled = [name for name, items in self._classes.items() if len(items) >= 2]
        if len(filled) < 1 or sum(1 for v in self._classes.values() if v) < 2:
            raise BuilderError("a check needs at least 2 classes with images, one of them "
                               "with at least 2 images")
        embeddings, labels = self._stack()
        return leave_one_out(embeddings, labels, classes=self.classes, threshold=self._threshold)

    # -- results ------------------------------------------------------------
    def to_classifier(self) -> CbRClassifier:
        """The project as a fitted ``CbRClassifier`` that takes images (a new object)."""
        self._check_exportable()
        embeddings, labels = self._stack()
        return CbRClassifier.from_index(embeddings, labels, embedder=self.embedder)

    def export(self, path, *, int8=False, overwrite=False):
        """Write the classifier to a ``.tflite`` with its class names inside.

        The same exporter as everywhere (``cbr_edu.tflite.export_tflite``);
        ``int8`` stores the index as int8. Returns its ``ExportResult``.
        """
        from ..tflite import export_tflite
        classifier = self.to_classifier()
        try:
            return export_tflite(classifier, path, quantize="int8" if int8 else None,
                                 overwrite=overwrite)
        except (FileExistsError, FileNotFoundError, ValueError) as error:
            raise BuilderError(str(error)) from None

    def save(self, path, *, overwrite=False):
        """Write the project (samples, index, settings) to one ``.zip`` file."""
        if not isinstance(self.embedder.spec, str) or not self.embedder.spec:
            raise BuilderError("this embedder has no spec string, so the project cannot "
                               "name it; make the builder with Builder(embedder='<spec>')")
        project = Project(self.embedder.spec, self.embedder.id, self._threshold,
                          {name: list(items) for name, items in self._classes.items()})
        try:
            return write_project(project, path, overwrite=overwrite)
        except ProjectError as error:
            raise BuilderError(str(error)) from None

    @classmethod
    def load(cls, path, *, cache=None):
        """Open a project written by :meth:`save`."""
        try:
            project = read_project(path)
        except ProjectError as error:
            raise BuilderError(str(error)) from None
        builder = cls(embedder=project.embedder, cache=cache)
        if builder.embedder.id != project.embedder_id:
            raise BuilderError(
                f"{path} was made with embedder {project.embedder_id!r}, but "
                f"{project.embedder!r} loads {builder.embedder.id!r} here: its embeddings "
                "would not match; re-create the project from its photos")
        builder._classes = project.classes
        builder._threshold = project.threshold
        builder._reindex()
        return builder

    # -- the app ------------------------------------------------------------
    def view(self):
        """The app's widget (made once; displaying the builder shows it)."""
        if self._view is None:
            from .view import BuilderView
            self._view = BuilderView(self)
        return self._view

    def _repr_mimebundle_(self, include=None, exclude=None):
        try:
            bundle = self.view()._repr_mimebundle_(include=include, exclude=exclude)
        except ImportError:  # no ipywidgets / anywidget: the text is all we can show
            return {"text/plain": repr(self)}
        bundle["text/plain"] = repr(self)
        return bundle

    def _watch(self, callback):
        """Call ``callback(what, name)`` after every change (the view redraws)."""
        self._watchers.append(callback)

    def _adopt(self, other):
        """Take over another builder's project (the app's "load project")."""
        self.embedder, self._classes = other.embedder, other._classes
        self._threshold, self._live = other._threshold, other._live
        self._changed("classes")

    # -- helpers ------------------------------------------------------------
    def _changed(self, what, name=None):
        for callback in self._watchers:
            callback(what, name)

    def _samples_of(self, name):
        if name not in self._classes:
            raise BuilderError(f"there is no class {name!r}; the classes are {self.classes}")
        return self._classes[name]

    def _new_name(self, name, *, renaming=None):
        try:
            return check_class_name(name, self._classes, renaming=renaming)
        except ValueError as error:
            raise BuilderError(str(error)) from None

    def _decode(self, item):
        try:
            return inputs.decode(item)
        except (ImageReadError, ValueError, TypeError) as error:
            raise BuilderError(f"{error} Nothing was changed.") from None

    def _embed(self, batch) -> np.ndarray:
        if self._cache is False:
            vectors = self.embedder.embed(batch, progress=False)
        else:
            vectors = self._cache.get_or_compute(self.embedder, list(batch))
        return l2_normalize(np.asarray(vectors, np.float32)).astype(np.float32)

    def _make_samples(self, images, progress) -> list:
        """Decode, thumbnail and embed ``images`` in batches; nothing is kept but samples."""
        try:
            items = [images] if inputs.is_upload(images) else as_image_list(images)
        except (TypeError, ValueError) as error:
            raise BuilderError(str(error)) from None
        report = _progress(progress, len(items))
        samples = []
        for start in range(0, len(items), _BATCH):
            chunk = [items[i] for i in range(start, min(start + _BATCH, len(items)))]
            pixels = [self._decode(item) for item in chunk]
            vectors = self._embed(prepare_images(pixels, self.embedder.input_size))
            samples += [Sample(vector, inputs.thumbnail(rgb), inputs.source_name(item))
                        for vector, rgb, item in zip(vectors, pixels, chunk)]
            report(len(samples), len(items))
        report(None, None)
        return samples

    def _stack(self):
        """All samples' embeddings ``(n, dim)`` and class names, in class order."""
        samples = [s for items in self._classes.values() for s in items]
        labels = [name for name, items in self._classes.items() for _ in items]
        if not samples:
            return np.zeros((0, 0), np.float32), labels
        return np.array([s.embedding for s in samples], np.float32), labels

    def _append(self, name, samples):
        """New samples of ``name`` into the live index: rows written, nothing rebuilt."""
        if samples:
            self._live.append(np.array([s.embedding for s in samples]), name)

    def _reindex(self):
        """The live index from every sample (after removals)."""
        self._live.reset(*self._stack())

    def _check_exportable(self):
        empty = [name for name, items in self._classes.items() if not items]
        if empty:
            raise BuilderError(f"class {empty[0]!r} has no images: add some, or remove the "
                               "class")
        if len(self._classes) < 2:
            have = f"only {self.classes[0]!r}" if self._classes else "none"
            raise BuilderError(f"a classifier needs at least 2 classes, this project has "
                               f"{have}: add another class")


def _progress(progress, total):
    """A ``report(done, total)`` function: tqdm, a caller's callback, or nothing."""
    if callable(progress):
        return lambda done, _total: done is not None and progress(done, total)
    if progress is False or (progress is None and total <= _PROGRESS_FROM):
        return lambda done, _total: None
    from tqdm.auto import tqdm
    bar = tqdm(total=total, desc="adding images", unit="img")

    def report(done, _total):
        if done is None:
            bar.close()
        else:
            bar.update(done - bar.n)
    return report
