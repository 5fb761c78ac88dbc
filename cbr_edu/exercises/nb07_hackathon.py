"""Notebook 07, *hackathon starter*: four steps and a scored checklist.

The team fills in four cells — ``ALBUM_DIR`` (``q1``), ``CLASSIFIER`` (``q2``),
``HELD_OUT_ACCURACY`` (``q3``) and ``TFLITE_PATH`` (``q4``) — and ``checklist``
scores the result by *behaviour*:

==============================================================  ======
item                                                            points
==============================================================  ======
a fitted classifier with at least 3 classes                         20
every class has at least 2 indexed examples                         10
held-out accuracy measured (and it is what the classifier scores)   20
the test images are really held out (none is in the index)          10
a ``.tflite`` file exists and runs with LiteRT                      15
LiteRT agrees with the classifier on the test images (≥ 90 %)       15
the labels travel with the model (readable from the ``.tflite``)    10
==============================================================  ======

Nothing defined yet → "not attempted" (score 0), never a crash. Other names the
notebook sets up and the checks read: ``TEST_IMAGES`` and ``TEST_LABELS``.

>>> from cbr_edu.exercises.nb07_hackathon import checklist
>>> checklist.evaluate(namespace={}).status
'not attempted'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._core import NotAttempted, Question, Wrong, is_blank

__all__ = ["q1", "q2", "q3", "q4", "checklist", "scorecard", "MIN_CLASSES",
           "MIN_EXAMPLES_PER_CLASS", "AGREEMENT"]

MIN_CLASSES = 3
MIN_EXAMPLES_PER_CLASS = 2
AGREEMENT = 0.9


@dataclass
class Item:
    """One checklist line."""

    name: str
    points: int
    passed: bool = False
    note: str = ""


def _get(namespace, name):
    value = namespace.get(name)
    return None if value is None or is_blank(value) else value


def _is_fitted_classifier(clf):
    return all(hasattr(clf, a) for a in ("predict", "classes_", "index_labels_",
                                          "index_embeddings_"))


def _embed_queries(clf, images):
    """Embeddings of ``images`` with the classifier's own embedder (or as given)."""
    embedder = getattr(clf, "embedder_", None)
    if embedder is None:
        return np.asarray(images, dtype=np.float32)
    from ..cache import EmbeddingCache
    try:
        return EmbeddingCache().get_or_compute(embedder, list(images))
    except TypeError:  # an embedder without an id cannot be cached
        return np.asarray(embedder.embed(list(images)), np.float32)


def _unit(x):
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def scorecard(namespace):
    """Run every checklist item on ``namespace``; returns ``(items, anything_defined)``."""
    clf = _get(namespace, "CLASSIFIER")
    acc = _get(namespace, "HELD_OUT_ACCURACY")
    path = _get(namespace, "TFLITE_PATH")
    path = getattr(path, "path", path)   # export_tflite returns an ExportResult
    test_x = _get(namespace, "TEST_IMAGES")
    test_y = _get(namespace, "TEST_LABELS")
    items = [
        Item(f"a fitted classifier with ≥ {MIN_CLASSES} classes", 20),
        Item(f"every class has ≥ {MIN_EXAMPLES_PER_CLASS} indexed examples", 10),
        Item("held-out accuracy measured, and it matches the classifier", 20),
        Item("the test images are held out (none is in the index)", 10),
        Item("a .tflite file exists and runs with LiteRT", 15),
        Item(f"LiteRT agrees with the classifier on ≥ {AGREEMENT:.0%} of test images", 15),
        Item("the labels travel with the model (readable from the .tflite)", 10),
    ]
    fitted = _check_classifier(clf, *items[:2])
    have_test = test_x is not None and test_y is not None and len(test_y) > 0
    scores_keras = None
    if not fitted:
        items[2].note = items[3].note = "needs a fitted CLASSIFIER"
    elif not have_test:
        items[2].note = items[3].note = "TEST_IMAGES / TEST_LABELS are not set"
    else:
        scores_keras = _check_held_out(clf, acc, test_x, test_y, *items[2:4])
    _check_tflite(path, clf if fitted else None, test_x if have_test else None,
                  scores_keras, *items[4:])
    return items, any(v is not None for v in (clf, acc, path))


def _check_classifier(clf, enough_classes, enough_examples):
    """Items 1-2; True when ``clf`` is a fitted classifier."""
    if clf is None:
        enough_classes.note = "define CLASSIFIER (step 2)"
        enough_examples.note = "needs CLASSIFIER"
        return False
    if not _is_fitted_classifier(clf):
        enough_classes.note = ("CLASSIFIER has no fitted index: use cbr_edu.CbRClassifier(...)"
                               ".fit(images, labels)")
        enough_examples.note = "needs a fitted CLASSIFIER"
        return False
    classes = list(clf.classes_)
    enough_classes.passed = len(classes) >= MIN_CLASSES
    enough_classes.note = f"{len(classes)} classes" + (
        "" if enough_classes.passed else f"; add at least {MIN_CLASSES - len(classes)} more")
    _, counts = np.unique(np.asarray(clf.index_labels_), return_counts=True)
    enough_examples.passed = bool(counts.min() >= MIN_EXAMPLES_PER_CLASS)
    enough_examples.note = f"smallest class has {int(counts.min())} example(s)"
    return True


def _check_held_out(clf, acc, test_x, test_y, measured, held_out):
    """Items 3-4; returns the classifier's scores on the test images (None if it failed)."""
    try:
        test_emb = _embed_queries(clf, test_x)
        from ..classifier import CbRClassifier
        twin = CbRClassifier(aggregation=clf.aggregation, k=clf.k).fit(
            clf.index_embeddings_, clf.index_labels_)
        scores = twin.class_scores(test_emb)
    except Exception as exc:  # noqa: BLE001 - report, never crash
        measured.note = f"could not score TEST_IMAGES: {type(exc).__name__}: {exc}"
        held_out.note = "could not embed TEST_IMAGES"
        return None
    right = int(np.sum(twin.classes_[scores.argmax(1)] == np.asarray(test_y)))
    measured.passed, measured.note = _judge_accuracy(acc, right, len(test_y))
    sims = _unit(test_emb) @ _unit(clf.index_embeddings_).T
    leaked = int(np.sum(sims.max(axis=1) > 0.9999))
    held_out.passed = leaked == 0
    held_out.note = ("no test image is in the index" if leaked == 0 else
                     f"{leaked} test image(s) are also in the index — accuracy on "
                     "them proves nothing; split before fitting")
    return scores


def _judge_accuracy(acc, right, total):
    """(passed, note) for HELD_OUT_ACCURACY; the note never gives the true value away.

    An accuracy on ``total`` photos is a multiple of 1/total: a value within half of
    that of ``right / total`` is right (so 0.857 for 6/7 passes, 5/7 does not).
    """
    if acc is None:
        return False, "set HELD_OUT_ACCURACY (step 3)"
    if isinstance(acc, str):
        return False, f"HELD_OUT_ACCURACY is the text {acc!r}: store a number between 0 and 1"
    try:
        value = float(acc)
    except (TypeError, ValueError):
        return False, (f"HELD_OUT_ACCURACY should be one number between 0 and 1, got "
                       f"{type(acc).__name__}: average the hits (`np.mean`)")
    true, step = right / total, 0.5 / total
    if abs(value - true) < step:
        return True, f"{value:.1%}, measured on {total} test photos"
    if abs(value - 100 * true) < 100 * step and value > 1:
        return False, (f"HELD_OUT_ACCURACY is {value:g}: that looks like a percentage; store "
                       "a fraction between 0 and 1")
    if value == right and value > 1:
        return False, (f"HELD_OUT_ACCURACY is {value:g}: that is the *count* of right "
                       "answers; divide by the number of test photos")
    if abs(value - (1 - true)) < step:
        return False, (f"HELD_OUT_ACCURACY is {value:g}: that looks like the error rate; "
                       "store the fraction predicted *correctly*")
    if value == 1.0:
        return False, ("HELD_OUT_ACCURACY is 1.0, but the classifier does not get every test "
                       "photo right: measure on TEST_IMAGES, not on the index photos")
    return False, (f"HELD_OUT_ACCURACY is {value:g}, but that is not what the classifier "
                   f"scores on the {total} TEST_IMAGES: measure "
                   "`np.mean(CLASSIFIER.predict(TEST_IMAGES) == TEST_LABELS)`")


def _check_tflite(path, clf, test_x, scores_keras, runs, agrees, labelled):
    """Items 5-7: the ``.tflite`` file runs in LiteRT, agrees, and carries the labels."""
    from ..tflite import LiteRTClassifier, read_class_names
    if path is None or not Path(str(path)).is_file():
        for item in (runs, agrees, labelled):
            item.note = "set TFLITE_PATH (step 4)" if path is None else f"no file at {str(path)!r}"
        return
    scores_lite = None
    if test_x is None:
        runs.note = "needs TEST_IMAGES to run it"
    else:
        try:
            scores_lite = LiteRTClassifier(path).scores(list(test_x)[:24])
            runs.passed = True
            runs.note = f"{os.path.getsize(path) / 1e6:.1f} MB, runs"
        except Exception as exc:  # noqa: BLE001 - report, never crash
            runs.note = f"LiteRT could not run it: {type(exc).__name__}: {exc}"
    if scores_lite is None or scores_keras is None:
        agrees.note = "needs a classifier, test images and a running .tflite"
    elif scores_lite.shape != scores_keras[:len(scores_lite)].shape:
        agrees.note = (f"the .tflite gives {scores_lite.shape[1:]} scores per image, "
                       f"the classifier {scores_keras.shape[1:]}: export *this* classifier")
    else:
        agree = float(np.mean(scores_lite.argmax(1) == scores_keras[:len(scores_lite)].argmax(1)))
        agrees.passed = agree >= AGREEMENT
        agrees.note = f"same top class on {agree:.0%} of {len(scores_lite)} test images"
    try:
        labels = read_class_names(path)
    except ValueError:
        labelled.note = "no labels found in the .tflite (export with cbr_edu.export_tflite)"
        return
    classes = [] if clf is None else [str(c) for c in clf.classes_]
    if clf is not None and classes != labels[:len(classes)]:
        labelled.note = (f"the .tflite's labels {labels[:5]}… are not the classifier's "
                         f"classes {classes[:5]}…")
    else:
        labelled.passed = clf is not None
        labelled.note = f"{len(labels)} labels inside" if clf is not None else "needs CLASSIFIER"


def format_scorecard(items):
    score = sum(it.points for it in items if it.passed)
    lines = [f"**Score: {score} / {sum(it.points for it in items)}**", ""]
    for it in items:
        mark = "✓" if it.passed else "✗"
        lines.append(f"- {mark} {it.name} ({it.points} pts) — {it.note}")
    return score, "\n".join(lines)


class Checklist(Question):
    _var = ()
    needs_notebook = True  # reads names only the notebook defines
    _title = "Hackathon checklist"
    _hints = [
        "Work through the steps in order: albums → classifier → held-out accuracy → "
        "`.tflite`. Each unticked line says what is missing.",
        "Keep the test photos out of the index: split *before* `fit` (the notebook's "
        "`TEST_IMAGES` / `TEST_LABELS` are the photos the classifier never saw).",
        "`cbr_edu.export_tflite(CLASSIFIER, path)` writes the model with its labels inside.",
    ]
    _solution = "Fill in the four step cells; the solutions of `q1`–`q4` show one way."
    solution_code = ""

    def _check(self):
        items, defined = scorecard(self._namespace)
        score, text = format_scorecard(items)
        self.last_score = score
        self.last_items = items
        if not defined:
            raise NotAttempted("score 0 / 100 — start with step 1.\n\n" + text)
        if score == sum(it.points for it in items):
            self._correct_message = "everything is in place.\n\n" + text
            return None
        return text


def _check_album_level(album_dir):
    """Name the two near misses: the folder above the album, or one class folder."""
    path = Path(str(album_dir)).expanduser()
    if not path.is_dir():
        return
    folders = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    files = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
    if len(folders) == 1 and sum(p.is_dir() for p in folders[0].iterdir()) >= MIN_CLASSES:
        raise Wrong(f"{path} holds one folder, {folders[0].name!r}, which holds the class "
                    "folders: ALBUM_DIR points one level too high. Use that folder.")
    if files and not folders:
        raise Wrong(f"{path} holds photos but no class folders: it looks like *one class* "
                    "folder, one level too low. Point ALBUM_DIR at the folder that holds "
                    "the class folders.")


def _album_classes(root):
    from ..images import load_folder
    return load_folder(root, load_images=False)


class AlbumStep(Question):
    _var = "ALBUM_DIR"
    needs_notebook = True  # reads names only the notebook defines
    _title = "Step 1: your albums"
    _hints = [
        "An album folder holds one sub-folder per class: `ALBUM_DIR/<class>/<photos>`.",
        "No photos of your own yet? Use the demo album the notebook made: "
        "`ALBUM_DIR = DEMO_ALBUM_DIR`.",
    ]
    _solution = "Point `ALBUM_DIR` at a folder of class folders."
    solution_code = "ALBUM_DIR = DEMO_ALBUM_DIR\n"

    def _check(self, album_dir):
        _check_album_level(album_dir)
        try:
            album = _album_classes(album_dir)
        except Exception as exc:  # noqa: BLE001 - AlbumError carries the advice
            raise Wrong(str(exc)) from None
        counts = album.counts() if callable(getattr(album, "counts", None)) else {}
        if len(counts) < MIN_CLASSES:
            raise Wrong(f"{album_dir} has {len(counts)} class folder(s); make at least "
                        f"{MIN_CLASSES}.")
        small = [c for c, n in counts.items() if n < MIN_EXAMPLES_PER_CLASS + 1]
        if small:
            raise Wrong(f"classes {small} have fewer than {MIN_EXAMPLES_PER_CLASS + 1} photos: "
                        f"keep {MIN_EXAMPLES_PER_CLASS} for the index and at least one to test.")


class ClassifierStep(Question):
    _var = "CLASSIFIER"
    needs_notebook = True  # reads names only the notebook defines
    _title = "Step 2: build the classifier"
    _hints = [
        "`cbr_edu.CbRClassifier(embedder=EMBEDDER)` then `.fit(INDEX_IMAGES, INDEX_LABELS)`.",
        "Fit on the *index* photos only; the test photos stay out.",
    ]
    _solution = "A CbR classifier is an index: fitting embeds the photos, nothing is trained."
    solution_code = ("import cbr_edu\n\n"
                     "CLASSIFIER = cbr_edu.CbRClassifier(embedder=EMBEDDER).fit(INDEX_IMAGES, "
                     "INDEX_LABELS)\n")

    def _check(self, clf):
        items, _ = scorecard({"CLASSIFIER": clf, "TEST_IMAGES": self.lookup("TEST_IMAGES", None),
                              "TEST_LABELS": self.lookup("TEST_LABELS", None)})
        for it in items[:2] + items[3:4]:
            if not it.passed and it.note != "TEST_IMAGES / TEST_LABELS are not set":
                raise Wrong(f"{it.name}: {it.note}")


def _scorecard_with(question, name, value):
    """The scorecard items with the notebook's classifier and test set, and ``name = value``."""
    ns = {k: question.lookup(k, None) for k in ("CLASSIFIER", "TEST_IMAGES", "TEST_LABELS")}
    items, _ = scorecard({**ns, name: value})
    return items


class AccuracyStep(Question):
    _var = "HELD_OUT_ACCURACY"
    needs_notebook = True  # reads names only the notebook defines
    _title = "Step 3: held-out accuracy"
    _hints = [
        "`CLASSIFIER.predict(TEST_IMAGES)` gives one label per test photo.",
        "Accuracy is the fraction equal to `TEST_LABELS`: "
        "`np.mean(CLASSIFIER.predict(TEST_IMAGES) == TEST_LABELS)`.",
    ]
    _solution = "Measure on photos the classifier has never seen."
    solution_code = ("import numpy as np\n\n"
                     "HELD_OUT_ACCURACY = float(np.mean(CLASSIFIER.predict(TEST_IMAGES) == "
                     "TEST_LABELS))\n")

    def _check(self, acc):
        items = _scorecard_with(self, "HELD_OUT_ACCURACY", acc)
        if not items[2].passed:
            raise Wrong(items[2].note)


class ExportStep(Question):
    _var = "TFLITE_PATH"
    needs_notebook = True  # reads names only the notebook defines
    _title = "Step 4: export for the phone"
    _hints = [
        "`cbr_edu.export_tflite(CLASSIFIER, OUT / 'model.tflite')` writes the model "
        "(embedder + retrieval + aggregation) with its labels inside.",
        "It returns an `ExportResult`; its `.path` is the file. Add `overwrite=True` to "
        "replace an earlier export.",
    ]
    _solution = "One call exports the classifier; LiteRT runs it exactly as a phone would."
    solution_code = ("import cbr_edu\n\n"
                     "TFLITE_PATH = cbr_edu.export_tflite(CLASSIFIER, OUT / 'hackathon_model.tflite',\n"
                     "                                    overwrite=True).path\n")

    def _check(self, path):
        items = _scorecard_with(self, "TFLITE_PATH", path)
        for it in items[4:]:
            if not it.passed:
                raise Wrong(f"{it.name}: {it.note}")


q1 = AlbumStep()
q2 = ClassifierStep()
q3 = AccuracyStep()
q4 = ExportStep()
checklist = Checklist()
