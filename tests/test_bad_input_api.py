"""Bad-input corpus, the Python API: labels that cannot drift, settings that cannot work,
saved classifiers and models that are damaged or do not match their label files.

Each case asserts the message (in Python words) or the outcome, and that the user's
files and the classifier itself are unchanged by a refused call.
"""

import io
import json
import math
import re

import numpy as np
import pytest
from conftest import snapshot

from cbr_edu import CbRClassifier, build_cbr_model
from cbr_edu.tflite import LiteRTClassifier, export_tflite

X = np.array([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.9, 0.1]])


def fitted(labels=(0, 0, 1, 1)):
    return CbRClassifier().fit(X, list(labels))


# ------------------------------------------------------------------ one type of label

@pytest.mark.parametrize("index_labels,new_labels,message", [
    ([0, 0, 1, 1], ["kiwi"], "labels are whole numbers (e.g. 0) but the new labels are text"),
    ([0, 0, 1, 1], [2.5], "but the new labels are numbers"),
    ([0, 0, 1, 1], [True], "but the new labels are True/False"),
    (["a", "a", "b", "b"], [3], "labels are text (e.g. 'a') but the new labels are whole numbers"),
    (["a", "a", "b", "b"], np.array([3]), "but the new labels are whole numbers"),
    ([True, True, False, False], ["c"], "labels are True/False"),
    ([0, 0, 1, 1], [None], "label 0 is None"),
    ([0, 0, 1, 1], ["kiwi", 3], "mix text and whole numbers"),
])
def test_adding_labels_of_another_type_is_refused(index_labels, new_labels, message):
    clf = fitted(index_labels)
    classes, predictions = clf.classes_.copy(), clf.predict(X)
    with pytest.raises(ValueError, match=re.escape(message)):
        clf.add_examples(X[:len(new_labels)], new_labels)
    # the classifier is as it was: same classes (same type), same answers
    assert clf.classes_.dtype == classes.dtype and clf.classes_.tolist() == classes.tolist()
    assert clf.predict(X).tolist() == predictions.tolist()
    assert len(clf.index_labels_) == 4


@pytest.mark.parametrize("index_labels,new_labels,classes", [
    ([0, 0, 1, 1], [2], [0, 1, 2]),
    ([0, 0, 1, 1], np.array([2], dtype=np.uint8), [0, 1, 2]),
    ([0.0, 0.0, 1.0, 1.0], [2], [0.0, 1.0, 2.0]),
    (["a", "a", "b", "b"], np.array(["kiwi"]), ["a", "b", "kiwi"]),
])
def test_labels_of_the_same_type_are_added(index_labels, new_labels, classes):
    clf = fitted(index_labels).add_examples(X[:1], new_labels)
    assert clf.classes_.tolist() == classes
    assert clf.classes_.dtype.kind == np.asarray(index_labels).dtype.kind


@pytest.mark.parametrize("labels,message", [
    ([0, "a", 1, 1], "mix whole numbers and text"),
    ([None, None, 1, 1], "label 0 is None"),
    (["a", None, "b", "b"], "label 1 is None"),
    ([1, 1.5, "x", "x"], "mix"),
])
def test_fit_refuses_none_and_mixed_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        CbRClassifier().fit(X, labels)
    with pytest.raises(ValueError, match=message):
        build_cbr_model(X, labels)


def test_removing_a_class_named_with_another_type_says_which_classes_exist():
    clf = fitted([0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"class '1' is not in the index; classes are \[0, 1\]"):
        clf.remove_class("1")
    assert clf.classes_.tolist() == [0, 1]


# ------------------------------------------------------------------ settings that cannot work

@pytest.mark.parametrize("settings,message", [
    ({"temperature": 0}, "temperature must be a positive number such as 0.05"),
    ({"temperature": -1.0}, "temperature must be a positive number"),
    ({"temperature": math.nan}, "temperature must be a positive number"),
    ({"temperature": math.inf}, "temperature must be a positive number"),
    ({"temperature": "0.1"}, "temperature must be a positive number"),
    ({"batch_size": 0}, "batch_size must be a whole number of at least 1, got 0"),
    ({"batch_size": 2.5}, "batch_size must be a whole number"),
    ({"k": 0, "aggregation": "topk_mean"}, "k must be a whole number of at least 1"),
    ({"aggregation": "median"}, "unknown aggregation 'median'"),
])
def test_settings_that_cannot_work_are_refused_at_fit(settings, message):
    with pytest.raises(ValueError, match=message):
        CbRClassifier(**settings).fit(X, [0, 0, 1, 1])


def test_settings_changed_after_fit_are_refused_where_they_are_used():
    clf = fitted()
    clf.set_params(temperature=0)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        clf.predict_proba(X)
    clf.set_params(temperature=0.05, batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        clf.predict(X)
    proba = clf.set_params(batch_size=2).predict_proba(X)
    assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(1), 1)


# ------------------------------------------------------------------ saved classifiers

def _settings_of(path):
    with np.load(path) as data:
        return json.loads(str(data["settings"])), data["embeddings"]


def _npz(path, **arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


def _edited(key, value):
    def make(path, good):
        settings, embeddings = _settings_of(good)
        if value is KeyError:
            del settings[key]
        else:
            settings[key] = value
        _npz(path, embeddings=embeddings, settings=np.array(json.dumps(settings)))
    return make


def _flip_a_byte(path, good):
    data = bytearray(good.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGED = {
    "truncated": (lambda p, good: p.write_bytes(good.read_bytes()[:200]), "is damaged"),
    "empty": (lambda p, good: p.write_bytes(b""), "not an .npz archive"),
    "a byte flipped": (_flip_a_byte, "is damaged"),
    "a png": (lambda p, good: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50)), "not an .npz"),
    "a pickle": (lambda p, good: p.write_bytes(b"\x80\x04K\x01."), "not an .npz archive"),
    "object arrays": (lambda p, good: _npz(p, embeddings=np.array([object()] * 2),
                                           settings=np.array("{}")), "holds Python objects"),
    "no settings": (lambda p, good: _npz(p, embeddings=np.eye(2)), "it has no settings"),
    "settings not json": (lambda p, good: _npz(p, embeddings=np.eye(2),
                                               settings=np.array("{oops")), "not valid JSON"),
    "another format": (_edited("format", "other/2"), "its format is 'other/2'"),
    "labels removed": (_edited("labels", KeyError), "setting 'labels' is None"),
    "too few labels": (_edited("labels", [0, 1]), "4 index rows but 2 labels"),
    "mixed labels": (_edited("labels", [0, "a", 1, 1]), "mix whole numbers and text"),
    "None label": (_edited("labels", [0, None, 1, 1]), "label 1 is None"),
    "nested labels": (_edited("labels", [[0], [0], [1], [1]]), "not a flat list"),
    "bad aggregation": (_edited("aggregation", "median"), "unknown aggregation 'median'"),
    "k as text": (_edited("k", "3"), "setting 'k' is '3'"),
    "zero temperature": (_edited("temperature", 0), "temperature must be a positive"),
    "embedder as a number": (_edited("embedder", 7), "setting 'embedder' is 7"),
    "unknown embedder": (_edited("embedder", "no-such-embedder"),
                         "saved with the embedder 'no-such-embedder', which cannot be loaded"),
    "1-d index": (lambda p, good: _npz(p, embeddings=np.ones(4, np.float32),
                                       settings=np.array(json.dumps(_settings_of(good)[0]))),
                  "not a matrix of numbers"),
    "NaN index": (lambda p, good: _npz(p, embeddings=np.full((4, 3), np.nan, np.float32),
                                       settings=np.array(json.dumps(_settings_of(good)[0]))),
                  "NaN or infinite"),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_saved_classifier_says_what_is_wrong_with_the_file(tmp_path, case):
    good = fitted().save(tmp_path / "good.npz")
    make, message = DAMAGED[case]
    bad = tmp_path / "bad.npz"
    make(bad, good)
    before = snapshot(tmp_path)
    with pytest.raises(ValueError) as error:
        CbRClassifier.load(bad)
    text = str(error.value)
    assert message in text and "bad.npz" in text
    assert "pickle" not in text.replace("Python objects", "")  # never suggest unsafe loading
    assert "allow_pickle" not in text
    assert snapshot(tmp_path) == before


def test_missing_and_folder_paths_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz does not exist"):
        CbRClassifier.load(tmp_path / "nope.npz")
    (tmp_path / "saved").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder, not a saved classifier"):
        CbRClassifier.load(tmp_path / "saved")
    before = snapshot(tmp_path)
    with pytest.raises(IsADirectoryError, match="is a folder; give a file name"):
        fitted().save(tmp_path / "saved", overwrite=True)
    assert snapshot(tmp_path) == before


def test_a_saved_classifier_round_trips_its_label_type(tmp_path):
    for labels in ([0, 0, 1, 1], ["a", "a", "b", "b"], [0.0, 0.0, 2.0, 2.0], [True, True, False, False]):
        clf = fitted(labels)
        loaded = CbRClassifier.load(clf.save(tmp_path / "c.npz", overwrite=True))
        assert loaded.classes_.tolist() == clf.classes_.tolist()
        assert loaded.classes_.dtype.kind == clf.classes_.dtype.kind


# ------------------------------------------------------------------ models and their label files

def _bare_model(path, columns=3, dim=4):
    """An embedding-input .tflite with no metadata (as other tools write them)."""
    import keras
    import tensorflow as tf
    inputs = keras.Input((dim,))
    model = keras.Model(inputs, keras.layers.Dense(columns)(inputs))
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def test_a_model_without_metadata_uses_only_a_matching_label_file(tmp_path):
    model = _bare_model(tmp_path / "bare.tflite")
    with pytest.raises(ValueError, match="no class names: no metadata inside and no "
                                         "bare.labels.txt beside it"):
        LiteRTClassifier(model)
    (tmp_path / "labels.txt").write_text("x\ny\nz\n")  # another model's file is never used
    with pytest.raises(ValueError, match="no class names"):
        LiteRTClassifier(model)
    (tmp_path / "bare.labels.txt").write_text("cat\ndog\n")
    with pytest.raises(ValueError, match="bare.labels.txt has 2 class names but bare.tflite "
                                         "has 3 outputs: the file belongs to another model"):
        LiteRTClassifier(model)
    (tmp_path / "bare.labels.txt").write_text("cat\ndog\nfox\n")
    assert LiteRTClassifier(model).class_names == ["cat", "dog", "fox"]


def test_a_label_file_that_disagrees_with_the_metadata_is_ignored(tmp_path):
    result = export_tflite(fitted(["cat", "cat", "dog", "dog"]), tmp_path / "pets.tflite")
    result.labels_path.write_text("dog\ncat\n")  # edited by hand: swapped
    lite = LiteRTClassifier(result.path)
    assert lite.class_names == ["cat", "dog"]
    assert "pets.labels.txt differs from the class names inside pets.tflite" in lite.label_note
    result.labels_path.unlink()
    assert LiteRTClassifier(result.path).label_note == ""


def test_two_models_in_one_folder_keep_their_own_labels(tmp_path):
    pets = export_tflite(fitted(["cat", "cat", "dog", "dog"]), tmp_path / "pets.tflite")
    fruit = export_tflite(CbRClassifier().fit(X[:3], ["apple", "kiwi", "pear"]),
                          tmp_path / "fruit.tflite")
    assert pets.labels_path != fruit.labels_path
    assert LiteRTClassifier(pets.path).class_names == ["cat", "dog"]
    assert LiteRTClassifier(fruit.path).class_names == ["apple", "kiwi", "pear"]
    assert pets.labels_path.read_text().split() == ["cat", "dog"]


def test_export_does_not_replace_a_users_label_file(tmp_path):
    mine = tmp_path / "pets.labels.txt"
    mine.write_text("my own notes\n")
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError, match="pets.labels.txt exists with other labels; pass "
                                              "overwrite=True"):
        export_tflite(fitted(["cat", "cat", "dog", "dog"]), tmp_path / "pets.tflite")
    assert snapshot(tmp_path) == before
    (tmp_path / "folder.labels.txt").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        export_tflite(fitted(), tmp_path / "folder.tflite")
