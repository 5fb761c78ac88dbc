"""``python -m cbr_edu build`` / ``predict`` end to end, bad input, and MediaPipe as the client."""

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cbr_edu.cli import main
from cbr_edu.tflite import LiteRTClassifier, read_class_names, read_metadata

COLOURS = {"red": (200, 40, 40), "blue": (40, 40, 200), "grün 緑": (40, 190, 60)}


def _photo(path, colour, seed, size=(48, 40)):
    rng = np.random.default_rng(seed)
    a = np.clip(np.array(colour) + rng.integers(-35, 35, (size[1], size[0], 3)), 0, 255)
    Image.fromarray(a.astype(np.uint8)).save(path)


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "albums"
    for c, (name, colour) in enumerate(COLOURS.items()):
        (root / name).mkdir(parents=True)
        for i in range(3):
            _photo(root / name / f"photo_{i}.png", colour, seed=10 * c + i)
    return root


def _add_junk(root):
    red, blue = root / "red", root / "blue"
    (red / "empty.jpg").write_bytes(b"")
    (red / "notes.jpg").write_text("this is text, not a JPEG")
    data = (blue / "photo_0.png").read_bytes()
    (blue / "truncated.png").write_bytes(data[: len(data) // 2])
    Image.new("CMYK", (30, 20), (10, 200, 30, 0)).save(red / "cmyk.jpg")
    Image.new("I;16", (30, 20)).save(blue / "sixteen_bit.png")
    Image.new("LA", (30, 20)).save(blue / "grey_alpha.png")
    Image.new("L", (9000, 6000)).save(red / "huge.png")  # 54 MP > the 50 MP guard
    os.symlink("..", blue / "loop")
    (root / "grün 緑" / "ünïcødé 写真.png").write_bytes((root / "grün 緑" / "photo_1.png").read_bytes())
    (root / ".DS_Store").write_bytes(b"junk")


def _snapshot(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else ""
            out[str(p)] = (digest, st.st_mtime_ns, st.st_size)
    return out


def _build(args, capsys):
    code = main(["build", *map(str, args), "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_build_and_predict_from_a_junky_album(album, tmp_path, capsys):
    _add_junk(album)
    before = _snapshot(album)
    out = tmp_path / "model.tflite"
    code, stdout, err = _build([album, "-o", out, "--embedder", "pixels:8:rgb"], capsys)
    assert code == 0, err
    assert _snapshot(album) == before  # the user's files are untouched
    for name in ("empty.jpg", "notes.jpg", "truncated.png", "huge.png", "loop"):
        assert name in stdout, f"{name} not reported as skipped:\n{stdout}"
    assert "empty file" in stdout and "megapixels" in stdout
    assert "photo_0.png" not in stdout.split("Skipped")[1].split("Indexed")[0]
    # good images (odd modes and unicode names included) were indexed
    assert "Indexed 13 images in 3 classes" in stdout, stdout
    assert read_class_names(out) == sorted(COLOURS)
    assert (tmp_path / "model.labels.txt").read_text("utf-8").splitlines() == sorted(COLOURS)

    query = tmp_path / "query.png"
    _photo(query, COLOURS["blue"], seed=99)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    code = main(["predict", str(out), str(query), str(bad), "--top", "2"])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.out.splitlines()
    assert lines[0] == str(query) and lines[1].split()[0] == "blue"
    assert "bad.jpg" in captured.err and "Traceback" not in captured.err

    # second build: embeddings come from the cache; existing output is refused
    code, stdout, err = _build([album, "-o", out, "--embedder", "pixels:8:rgb"], capsys)
    assert code == 2 and "exists" in err and "--overwrite" in err
    code, stdout, err = _build([album, "-o", out, "--embedder", "pixels:8:rgb", "--int8",
                                "--aggregation", "topk_mean", "--overwrite"], capsys)
    assert code == 0, err
    assert "13 embeddings from the cache" in stdout
    assert _snapshot(album) == before


@pytest.mark.parametrize("setup,message", [
    ("missing", "does not exist"),
    ("file", "is a file, not a folder"),
    ("one_class", "at least 2"),
    ("empty_class", "'blue'"),
    ("no_images", "No readable images"),
    ("undecodable_class", "'blue'"),
    ("output_exists", "exists"),
    ("output_inside", "inside the album"),
])
def test_bad_input_gives_a_message_not_a_traceback(album, tmp_path, capsys, setup, message):
    out = tmp_path / "m.tflite"
    root = album
    if setup == "missing":
        root = tmp_path / "nope"
    elif setup == "file":
        root = tmp_path / "albums.zip"
        root.write_bytes(b"PK")
    elif setup == "one_class":
        for name in ("blue", "grün 緑"):
            for p in (album / name).iterdir():
                p.unlink()
            (album / name).rmdir()
    elif setup == "empty_class":
        for p in (album / "blue").iterdir():
            p.unlink()
    elif setup == "no_images":
        for name in COLOURS:
            for p in (album / name).iterdir():
                p.write_bytes(b"")
    elif setup == "undecodable_class":  # headers fine, pixel data truncated
        for p in (album / "blue").iterdir():
            data = p.read_bytes()
            p.write_bytes(data[: len(data) // 3])
    elif setup == "output_exists":
        out.write_bytes(b"keep me")
    elif setup == "output_inside":
        out = album / "model.tflite"
    code, stdout, err = _build([root, "-o", out, "--embedder", "pixels:8"], capsys)
    assert code == 2, (stdout, err)
    assert message in err, err
    assert "Traceback" not in err
    if setup == "output_exists":
        assert out.read_bytes() == b"keep me"


def test_predict_bad_model(tmp_path, capsys):
    image = tmp_path / "x.png"
    _photo(image, (1, 2, 3), 0)
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    for model in (tmp_path / "missing.tflite", junk):
        code = main(["predict", str(model), str(image)])
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err and str(model.name) in err


# --------------------------------------------------------------------------- MediaPipe

def _mediapipe_vision():
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe is not installed: the on-device client check needs it")
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
    except Exception as error:  # noqa: BLE001 - a broken install is a skip, with the reason
        pytest.skip(f"mediapipe does not import here: {error}")
    return mp, BaseOptions, vision


def _mediapipe_top1(path, images):
    mp, BaseOptions, vision = _mediapipe_vision()
    options = vision.ImageClassifierOptions(
        base_options=BaseOptions(model_asset_path=str(path)), max_results=3)
    out = []
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for img in images:
            result = classifier.classify(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(img)))
            best = result.classifications[0].categories[0]
            out.append((best.category_name, best.score))
    return out


@pytest.mark.parametrize("int8", [False, True])
def test_mediapipe_image_classifier_reads_names_and_agrees(album, tmp_path, capsys, int8):
    _mediapipe_vision()
    out = tmp_path / ("m_int8.tflite" if int8 else "m.tflite")
    args = [album, "-o", out, "--embedder", "pixels:12:rgb"] + (["--int8"] if int8 else [])
    assert _build(args, capsys)[0] == 0
    litert = LiteRTClassifier(out)
    h, w = litert.input_size
    queries = []
    for i, colour in enumerate(list(COLOURS.values()) * 2):
        p = tmp_path / f"q{i}.png"
        _photo(p, colour, seed=100 + i, size=(w, h))  # at the model's input size
        queries.append(np.asarray(Image.open(p).convert("RGB")))
    scores = litert.scores(np.stack(queries))
    expected = [(litert.class_names[j], float(scores[i, j])) for i, j in enumerate(scores.argmax(1))]
    got = _mediapipe_top1(out, queries)
    assert [name for name, _ in got] == [name for name, _ in expected]
    assert [name for name, _ in got] == [list(COLOURS)[i % 3] for i in range(6)]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=1e-5)


def test_efficientnet_lite0_album_to_mediapipe(tmp_path, capsys):
    """The real thing once: Lite0 embeddings, exported, read by MediaPipe with the same top-1."""
    skimage_data = pytest.importorskip("skimage.data")
    _mediapipe_vision()
    root = tmp_path / "albums"
    photos = {"cat": skimage_data.chelsea(), "coffee": skimage_data.coffee(),
              "rocket": skimage_data.rocket()}
    queries = []
    for name, img in photos.items():
        (root / name).mkdir(parents=True)
        h, w = img.shape[:2]
        for i, (top, left) in enumerate([(0, 0), (h // 8, w // 8)]):
            crop = img[top:top + 3 * h // 4, left:left + 3 * w // 4]
            Image.fromarray(crop).save(root / name / f"{i}.jpg")
        queries.append(np.asarray(Image.fromarray(img[h // 10:, w // 10:]).resize((224, 224))))
    out = tmp_path / "lite0.tflite"
    code, stdout, err = _build([root, "-o", out, "--embedder", "efficientnet_lite0", "--int8"],
                               capsys)
    assert code == 0, err
    scores = LiteRTClassifier(out).scores(np.stack(queries))
    labels = read_class_names(out)
    assert [labels[j] for j in scores.argmax(1)] == list(photos)
    # Lite0 maps pixels to [-1, 1] inside ((x / 255 - 0.5) / 0.5): the metadata says so
    assert read_metadata(out)["input"]["normalization"] == {"mean": [127.5], "std": [127.5]}
    assert [name for name, _ in _mediapipe_top1(out, queries)] == list(photos)
