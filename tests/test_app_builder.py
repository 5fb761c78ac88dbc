"""The builder as a plain object: every method the app's buttons call, and bad input."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest
from PIL import Image

from cbr_edu.app import Builder, BuilderError
from cbr_edu.tflite import LiteRTClassifier, read_class_names

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def photo(colour, seed=0, size=(24, 32)):
    """A small photo of one colour with a little texture (distinct per seed)."""
    rng = np.random.default_rng(seed)
    base = np.array(COLOURS[colour] if isinstance(colour, str) else colour, float)
    noise = rng.normal(0, 12, (*size, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def photos(colour, n, start=0):
    return [photo(colour, seed=start + i) for i in range(n)]


def png(image, name="photo.png"):
    out = io.BytesIO()
    Image.fromarray(image).save(out, "PNG")
    return {"name": name, "content": out.getvalue()}


def state(app):
    """Everything a bad input must leave as it was."""
    live = app._live
    return (app.classes, [app.count(c) for c in app.classes], app.threshold, live.size,
            list(live.names), None if live.size < 2 else app.answer(photo("red")).scores)


@pytest.fixture
def app():
    builder = Builder(embedder="pixels:8:rgb", cache=False)
    builder.add_class("red", photos("red", 3))
    builder.add_class("green", photos("green", 3, start=10))
    return builder


def test_classes_keep_their_order_and_answers_rank_the_right_class_first(app):
    app.add_class("blue", photos("blue", 2, start=20))
    assert app.classes == ["red", "green", "blue"]
    assert [app.count(c) for c in app.classes] == [3, 3, 2]
    for colour in COLOURS:
        ranking = app.predict(photo(colour, seed=99), top=3)
        assert ranking[0][0] == colour
        assert [s for _, s in ranking] == sorted((s for _, s in ranking), reverse=True)
    assert len(app.predict(photo("red", 99), top=1)) == 1


def test_the_nearest_example_is_the_sample_itself_even_after_interleaved_adds(app):
    odd = photo((200, 200, 30), seed=5)          # yellow: unlike the other reds
    app.add_images("red", [odd])                  # a row appended after green's rows
    answer = app.answer(odd)
    assert answer.nearest[0] == "red" and answer.nearest[1] == 3
    assert answer.nearest[2] == pytest.approx(1.0, abs=1e-5)
    assert app.samples("red")[3].source == "array"
    assert set(answer.scores) == {"red", "green"}


def test_adding_an_image_writes_one_row_and_rebuilds_nothing(app):
    rows = app._live._vectors                          # room for 16 rows, 6 used
    for seed in range(50, 60):
        app.add_images("green", [photo("green", seed)])
        assert app._live._vectors is rows              # written in place
    app.add_images("red", [photo("red", 60)])          # the 17th row: the room doubles
    assert app._live.size == 17 and len(app._live._vectors) == 32
    assert app.predict(photo("green", 59), top=1)[0][0] == "green"


def test_the_apps_scores_are_the_exported_classifiers(app):
    app.add_class("blue", photos("blue", 2, start=20))
    app.remove_images("red", [1])
    app.rename_class("green", "lime")
    queries = [photo(c, seed=200) for c in COLOURS]
    clf = app.to_classifier()
    expected = clf.class_scores(queries)
    for query, row in zip(queries, expected):
        scores = app.answer(query).scores
        assert [scores[c] for c in clf.classes_] == pytest.approx(row.tolist(), abs=1e-5)


def test_remove_rename_and_remove_class(app):
    app.add_class("blue", photos("blue", 2, start=20))
    app.remove_images("red", [0, 2])
    assert app.count("red") == 1
    app.rename_class("green", "lime")
    assert app.classes == ["red", "lime", "blue"]
    assert app.predict(photo("green", 77), top=1)[0][0] == "lime"
    app.remove_class("blue")
    assert app.classes == ["red", "lime"]
    assert app.predict(photo("blue", 77), top=2)[0][0] != "blue"
    app.remove_images("red", [0])
    app.remove_class("lime")                             # nothing left to answer with
    with pytest.raises(BuilderError, match="at least 2 images"):
        app.predict(photo("red"))


def test_the_unknown_threshold(app):
    assert app.threshold is None
    app.threshold = 0.99
    ranking = app.predict(photo("blue", 1), top=2)
    assert ranking[0][0] == "unknown" and len(ranking) == 3
    assert ranking[0][1] == ranking[1][1]              # the best score, below the threshold
    assert app.predict(photo("red", 0), top=1) == [("red", pytest.approx(1.0, abs=1e-5))]
    app.threshold = None
    assert app.predict(photo("blue", 1), top=1)[0][0] != "unknown"


def test_check_blames_the_example_that_answered(app):
    app.add_images("red", [photo("green", 40)])        # a green photo filed under red
    app.add_class("blue", [photo("blue", 1)])          # one sample: cannot be checked
    result = app.check()
    assert result.rows == ["red", "green"] and result.skipped == ["blue"]
    assert result.columns == ["red", "green", "blue"]
    assert result.matrix.sum() == 7
    assert result.per_class["green"] == 1.0 and result.per_class["red"] == 0.75
    [(true, answer, item)] = result.mistakes()
    assert (true, answer, item.position, item.nearest_class) == ("red", "green", 3, "green")
    app.remove_images(item.nearest_class, [item.nearest_position])
    assert app.count("green") == 2
    app.threshold = 0.999
    assert app.check().columns[-1] == "unknown"


def test_save_and_load_keep_samples_index_and_settings(app, tmp_path):
    app.threshold = 0.5
    path = app.save(tmp_path / "colours.zip")
    back = Builder.load(path, cache=False)
    assert back.classes == app.classes and back.threshold == 0.5
    assert [s.thumbnail for s in back.samples("red")] == [s.thumbnail for s in app.samples("red")]
    query = photo("green", 12)
    assert back.predict(query) == app.predict(query)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "embeddings.npy" in names and not any(n.endswith((".pkl", ".pickle")) for n in names)
    with pytest.raises(BuilderError, match="exists"):
        app.save(path)
    app.save(path, overwrite=True)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(b"not a zip"), "not a builder project"),
    (lambda p: _rewrite_manifest(p, embedder_id="pixels:8:rgb-v0"), "would not match"),
    (lambda p: _rewrite_manifest(p, format="something/9"), "not a builder project of this"),
])
def test_load_refuses_damaged_or_foreign_projects(app, tmp_path, damage, message):
    path = app.save(tmp_path / "p.zip")
    damage(path)
    with pytest.raises(BuilderError, match=message):
        Builder.load(path, cache=False)


def _rewrite_manifest(path, **changes):
    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(files["project.json"])
    manifest.update(changes)
    files["project.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


@pytest.mark.parametrize("int8", [False, True])
def test_export_runs_in_litert_with_the_class_names_inside(app, tmp_path, int8):
    result = app.export(tmp_path / "colours.tflite", int8=int8)
    assert read_class_names(result.path) == ["green", "red"]
    lite = LiteRTClassifier(result.path)
    for colour in ("red", "green"):
        assert lite.predict([photo(colour, 3)], top=1)[0][0][0] == colour
    with pytest.raises(BuilderError, match="exists"):
        app.export(tmp_path / "colours.tflite", int8=int8)


def test_to_classifier_scores_on_the_hackathon_checklist(app, tmp_path):
    from cbr_edu.exercises.nb07_hackathon import scorecard
    app.add_class("blue", photos("blue", 3, start=20))
    clf = app.to_classifier()
    tests = [photo(c, seed=300 + i) for i, c in enumerate(COLOURS)]
    labels = np.array(list(COLOURS))
    items, _ = scorecard({"CLASSIFIER": clf, "TEST_IMAGES": tests, "TEST_LABELS": labels,
                          "HELD_OUT_ACCURACY": float(np.mean(clf.predict(tests) == labels)),
                          "TFLITE_PATH": app.export(tmp_path / "m.tflite").path})
    assert all(item.passed for item in items), [(i.name, i.note) for i in items if not i.passed]


def test_import_albums_adds_a_class_per_folder_and_skips_what_it_cannot_read(app, tmp_path):
    for colour in ("red", "blue"):
        (tmp_path / colour).mkdir()
        for i in range(2):
            Image.fromarray(photo(colour, 60 + i)).save(tmp_path / colour / f"{i}.png")
    (tmp_path / "blue" / "notes.txt").write_text("hello")
    album = app.import_albums(tmp_path)
    assert app.classes == ["red", "green", "blue"] and app.count("red") == 5
    assert [why for _, why in album.skipped] == ["not an image file (extension '.txt')"]
    with pytest.raises(BuilderError, match="does not exist"):
        app.import_albums(tmp_path / "nowhere")


def test_progress_is_reported_and_large_photos_are_not_kept():
    app = Builder(embedder="pixels:8:rgb", cache=False)
    seen = []
    big = [np.full((480, 640, 3), v, np.uint8) for v in range(0, 250, 2)]   # 125 × 0.9 MB
    tracemalloc.start()
    app.add_class("grey", big, progress=lambda done, total: seen.append((done, total)))
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seen[-1] == (125, 125) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert retained < 10e6, retained          # the photos were 115 MB; thumbnails stay
    thumbnail = Image.open(io.BytesIO(app.samples("grey")[0].thumbnail))
    assert max(thumbnail.size) == 128


BAD_INPUTS = [
    ("a corrupt upload among good ones", lambda a: a.add_images(
        "red", [png(photo("red", 7)), {"name": "broken.jpg", "content": b"\xff\xd8junk"}]),
     "broken.jpg"),
    ("a text file", lambda a: a.add_images("red", [{"name": "notes.txt", "content": b"hi"}]),
     "notes.txt"),
    ("a file that does not exist", lambda a: a.add_images("red", ["/no/such/photo.jpg"]),
     "does not exist"),
    ("a duplicate class name", lambda a: a.add_class("Red", [photo("red")]), "already a class"),
    ("an empty class name", lambda a: a.add_class("  "), "needs a name"),
    ("a name with a line break", lambda a: a.add_class("a\nb"), "line break"),
    ("the unknown answer as a name", lambda a: a.add_class("Unknown"), "below the threshold"),
    ("a rename onto another class", lambda a: a.rename_class("red", "green"), "already"),
    ("a class that does not exist", lambda a: a.add_images("blue", [photo("blue")]),
     "no class 'blue'"),
    ("a position out of range", lambda a: a.remove_images("red", [0, 3]), "positions 0 to 2"),
    ("a threshold out of range", lambda a: setattr(a, "threshold", 2), "between -1 and 1"),
]


@pytest.mark.parametrize("what, action, message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_says_what_and_changes_nothing(app, what, action, message):
    before = state(app)
    with pytest.raises(BuilderError, match=message):
        action(app)
    assert state(app) == before


def test_export_refuses_an_empty_class_and_a_single_class(app, tmp_path):
    app.add_class("blue")
    before = state(app)
    with pytest.raises(BuilderError, match="'blue' has no images"):
        app.export(tmp_path / "m.tflite")
    app.remove_class("blue")
    app.remove_class("green")
    with pytest.raises(BuilderError, match="at least 2 classes.*only 'red'"):
        app.export(tmp_path / "m.tflite")
    assert not (tmp_path / "m.tflite").exists() and before[0] == ["red", "green", "blue"]
