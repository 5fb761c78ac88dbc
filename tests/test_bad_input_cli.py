"""Bad-input corpus, the command line: every failure is one line in command-line words.

Each case runs ``python -m cbr_edu`` in-process and asserts the exit status, that the
error is a single line naming the flag or the file, that it speaks no Python
(``min_classes=1``, ``load_folder()``…), that what can be checked before embedding is,
and that nothing the user owns changed.
"""

import os
import re

import numpy as np
import pytest
from conftest import read_only_for_us, snapshot
from PIL import Image

from cbr_edu.cli import main

PYTHON_WORDS = re.compile(r"\b[a-z_]+=|\w\(\)|Traceback|allow_pickle")


def _photo(path, colour, seed):
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.integers(-30, 30, (20, 24, 3)), 0, 255)
    Image.fromarray(pixels.astype(np.uint8)).save(path)


@pytest.fixture
def work(shared_dir):
    """A folder with albums/ (three classes) and out/, readable by every user."""
    albums = shared_dir / "albums"
    for c, (name, colour) in enumerate({"red": (200, 40, 40), "blue": (40, 40, 200),
                                        "green": (40, 190, 60)}.items()):
        (albums / name).mkdir(parents=True)
        for i in range(2):
            _photo(albums / name / f"{i}.png", colour, seed=10 * c + i)
    (shared_dir / "out").mkdir()
    for p in shared_dir.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return shared_dir


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err, *phrases):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert not PYTHON_WORDS.search(err), err
    for phrase in phrases:
        assert phrase in err, (phrase, err)


def build(capsys, work, *args, albums=None):
    return run(capsys, "build", albums or work / "albums", *args, "--no-progress")


def embedded_nothing(stdout):
    return "Reading albums" not in stdout and "Indexed" not in stdout


# ------------------------------------------------------------------ build

def _remove_class(work, name):
    for p in (work / "albums" / name).iterdir():
        p.unlink()
    (work / "albums" / name).rmdir()


BUILD_CASES = {
    "one class": (lambda w: [_remove_class(w, "blue"), _remove_class(w, "green")],
                  ["-o", "out/m.tflite"], ["at least 2 are needed", "Add another sub-folder"]),
    "empty class folder": (lambda w: (w / "albums" / "grey").mkdir(), ["-o", "out/m.tflite"],
                           ["'grey'", "Add images to them or remove the folder"]),
    "no readable images": (lambda w: [p.write_bytes(b"") for p in (w / "albums").rglob("*.png")],
                           ["-o", "out/m.tflite"], ["No readable images"]),
    "albums missing": (None, ["-o", "out/m.tflite"], ["does not exist"]),
    "albums is a zip": (None, ["-o", "out/m.tflite"], ["is a file, not a folder", "extract"]),
    "output not .tflite": (None, ["-o", "out/m.onnx"], ["--output", "should end in .tflite"]),
    "output is a folder": (lambda w: (w / "out" / "m.tflite").mkdir(), ["-o", "out/m.tflite"],
                           ["--output", "is a folder"]),
    "output folder missing": (None, ["-o", "nowhere/m.tflite"], ["--output", "does not exist"]),
    "output exists": (lambda w: (w / "out" / "m.tflite").write_bytes(b"mine"),
                      ["-o", "out/m.tflite"], ["exists", "--overwrite"]),
    "output inside albums": (None, ["-o", "albums/m.tflite"], ["inside the album folder"]),
    "label file of other labels": (lambda w: (w / "out" / "m.labels.txt").write_text("x\n"),
                                   ["-o", "out/m.tflite"], ["m.labels.txt", "--overwrite"]),
    "label file is a folder": (lambda w: (w / "out" / "m.labels.txt").mkdir(),
                               ["-o", "out/m.tflite"], ["m.labels.txt is a folder"]),
    "class name with a line break": (lambda w: (w / "albums" / "red").rename(
        w / "albums" / "re\nd"), ["-o", "out/m.tflite"], ["line break", "rename"]),
    "k zero": (None, ["-o", "out/m.tflite", "--k", "0"], ["--k must be at least 1"]),
    "unknown embedder": (None, ["-o", "out/m.tflite", "--embedder", "resnet9000"],
                         ["--embedder", "unknown embedder spec 'resnet9000'", "pixels"]),
    "missing embedder file": (None, ["-o", "out/m.tflite", "--embedder", "nope/emb.keras"],
                              ["--embedder", "emb.keras"]),
}


@pytest.mark.parametrize("case", list(BUILD_CASES))
def test_build_failures_are_one_line_in_command_line_words(work, capsys, monkeypatch, case):
    prepare, args, phrases = BUILD_CASES[case]
    if prepare is not None:
        prepare(work)
    albums = work / "albums"
    if case == "albums missing":
        albums = work / "no-albums"
    elif case == "albums is a zip":
        albums = work / "albums.zip"
        albums.write_bytes(b"PK\x03\x04")
    monkeypatch.chdir(work)
    before = snapshot(work)
    code, out, err = build(capsys, work, *args, "--embedder", "pixels:6", albums=albums) \
        if "--embedder" not in args else build(capsys, work, *args, albums=albums)
    assert code == 2, (out, err)
    assert_one_line(err, *phrases)
    assert embedded_nothing(out), out
    assert snapshot(work) == before


def _tflite_embedder(path, dtype):
    """A small image embedder as a .tflite file (float or uint8 input)."""
    import keras
    import tensorflow as tf
    inputs = keras.Input((16, 16, 3), dtype=dtype)
    x = keras.ops.cast(inputs, "float32")
    outputs = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(x))
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, outputs))
    path.write_bytes(converter.convert())
    path.chmod(0o644)
    return path


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_build_with_a_tflite_embedder_is_refused_before_embedding(work, capsys, dtype):
    embedder = _tflite_embedder(work / f"emb_{dtype}.tflite", dtype)
    before = snapshot(work)
    code, out, err = build(capsys, work, "-o", work / "out" / "m.tflite", "--embedder", embedder)
    assert code == 2
    assert_one_line(err, "--embedder", "cannot become part of a new .tflite model",
                    ".keras file or SavedModel folder")
    assert embedded_nothing(out)
    assert snapshot(work) == before


def test_an_unwritable_output_folder_fails_before_embedding(work, capsys):
    before = snapshot(work)
    with read_only_for_us(work / "out"):
        code, out, err = build(capsys, work, "-o", work / "out" / "m.tflite",
                               "--embedder", "pixels:6")
    assert code == 2
    assert_one_line(err, "--output", "cannot write in the folder", "out'")
    assert embedded_nothing(out)
    assert snapshot(work) == before


# ------------------------------------------------------------------ predict

@pytest.fixture
def model(work, capsys):
    path = work / "out" / "m.tflite"
    code, out, err = build(capsys, work, "-o", path, "--embedder", "pixels:6:rgb")
    assert code == 0, err
    return path


def _huge(path):
    Image.new("L", (9000, 6000)).save(path)


PREDICT_CASES = {
    "model missing": (lambda w, m: (w / "none.tflite", w / "albums/red/0.png"),
                      2, ["MODEL", "none.tflite", "does not exist"]),
    "model is a folder": (lambda w, m: (w / "albums", w / "albums/red/0.png"),
                          2, ["MODEL", "is a folder, not a model file"]),
    "model is junk": (lambda w, m: ((w / "junk.tflite").write_bytes(b"junk") and
                                    w / "junk.tflite", w / "albums/red/0.png"),
                      2, ["junk.tflite", "not a model made by 'build'"]),
    "image is a folder": (lambda w, m: (m, w / "albums"), 1, ["albums: error:", "is a folder"]),
    "image missing": (lambda w, m: (m, w / "gone.png"), 1, ["gone.png", "does not exist"]),
    "image too large": (lambda w, m: (m, _huge(w / "huge.png") or w / "huge.png"),
                        1, ["huge.png", "megapixels", "downsize it"]),
    "image is text": (lambda w, m: (m, (w / "notes.jpg").write_text("hi") and w / "notes.jpg"),
                      1, ["notes.jpg", "not an image file"]),
}


@pytest.mark.parametrize("case", list(PREDICT_CASES))
def test_predict_failures_name_the_file(work, model, capsys, case):
    make, status, phrases = PREDICT_CASES[case]
    model_path, image = make(work, model)
    before = snapshot(work)
    code, out, err = run(capsys, "predict", model_path, image)
    assert code == status, (out, err)
    first = err.strip().splitlines()[0]
    assert_one_line(first, *phrases)
    assert not PYTHON_WORDS.search(err), err
    assert snapshot(work) == before


def test_predict_top_zero(model, work, capsys):
    code, _, err = run(capsys, "predict", model, work / "albums/red/0.png", "--top", "0")
    assert code == 2
    assert_one_line(err, "--top must be at least 1")


def test_predict_an_embedder_with_a_stray_label_file(work, model, capsys):
    """The original traceback: a float-input .tflite beside another model's label file."""
    embedder = _tflite_embedder(work / "out" / "emb.tflite", "float32")
    (work / "out" / "labels.txt").write_text("red\nblue\n")
    code, _, err = run(capsys, "predict", embedder, work / "albums/red/0.png")
    assert code == 2
    assert_one_line(err, "emb.tflite", "not uint8 RGB", "not a classifier made by")


def test_predict_a_model_whose_label_file_was_edited(work, model, capsys):
    side = model.with_name("m.labels.txt")
    side.write_text("one\ntwo\nthree\n")
    code, out, err = run(capsys, "predict", model, work / "albums/blue/0.png", "--top", "1")
    assert code == 0, err
    assert_one_line(err, "note:", "m.labels.txt differs", "using the model's")
    assert out.splitlines()[1].split()[0] == "blue"


def test_predict_with_an_embedding_model(work, capsys):
    from cbr_edu import CbRClassifier
    from cbr_edu.tflite import export_tflite
    path = export_tflite(CbRClassifier().fit(np.eye(3), ["a", "b", "c"]),
                         work / "out" / "emb_model.tflite").path
    code, _, err = run(capsys, "predict", path, work / "albums/red/0.png")
    assert code == 2
    assert_one_line(err, "takes 3-d embeddings, not images")


# ------------------------------------------------------------------ argument errors

@pytest.mark.parametrize("args,phrases", [
    (["build", "albums", "-o", "m.tflite", "--k", "three"], ["--k", "invalid int value",
                                                             "build --help"]),
    (["build", "albums"], ["-o/--output", "required"]),
    (["predict", "m.tflite"], ["IMAGE"]),
    (["build", "albums", "-o", "m.tflite", "--aggregation", "median"], ["--aggregation",
                                                                       "'median'"]),
    (["classify"], ["invalid choice: 'classify'", "cbr_edu --help"]),
])
def test_argument_errors_are_one_line(capsys, args, phrases):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert_one_line(capsys.readouterr().err, *phrases)


# ------------------------------------------------------------------ compare

@pytest.mark.parametrize("args,phrases", [
    (["--shots", "1,x"], ["--shots must be comma-separated integers"]),
    (["--shots", "0"], ["--shots must be positive"]),
    (["--episodes", "1"], ["--episodes must be at least 2"]),
    (["--dataset", "no_such_set"], ["unknown data set 'no_such_set'"]),
    (["--json", "{work}/out"], ["--json", "is a folder"]),
    (["--plot", "{work}/albums/red/0.png/x.png"], ["--plot", "is a file, not a folder"]),
])
def test_compare_failures_before_any_work(work, capsys, args, phrases):
    before = snapshot(work)
    code, out, err = run(capsys, "compare", *[a.format(work=work) for a in args])
    assert code == 2, (out, err)
    assert_one_line(err, *phrases)
    assert "embeddings:" not in out
    assert snapshot(work) == before


def test_compare_unwritable_json_fails_before_any_work(work, capsys):
    with read_only_for_us(work / "out"):
        code, out, err = run(capsys, "compare", "--json", work / "out" / "c.json")
    assert code == 2
    assert_one_line(err, "--json", "cannot write in the folder")
    assert "embeddings:" not in out and not os.listdir(work / "out")
