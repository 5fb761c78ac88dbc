"""``python -m cbr_edu embed`` and ``build --embeddings`` end to end, and their messages."""

import numpy as np
import pytest
from PIL import Image

from needs_scale import require_scale_extra

require_scale_extra()

from cbr_edu.cli import main  # noqa: E402
from cbr_edu.tflite import LiteRTClassifier  # noqa: E402


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "album"
    rng = np.random.default_rng(0)
    for name, colour in {"red": (200, 40, 40), "blue": (40, 40, 200), "green": (40, 190, 60)}.items():
        (root / name).mkdir(parents=True)
        for i in range(3):
            pixels = np.clip(np.array(colour) + rng.integers(-35, 35, (30, 40, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    (root / "red" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    return root


def _run(argv, capsys):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_embed_then_build_equals_build_from_albums(album, tmp_path, capsys):
    out = tmp_path / "emb"
    status, stdout, _ = _run(["embed", album, "-o", out, "--embedder", "pixels:8:rgb",
                              "--shards", "2", "--direct_num_workers", "1"], capsys)
    assert status == 0, stdout
    assert "Embedded 9 images in 3 classes" in stdout and "broken.jpg" in stdout
    status, stdout, _ = _run(["build", "--embeddings", out, "-o", tmp_path / "a.tflite"], capsys)
    assert status == 0 and "Indexed 9 images in 3 classes (read from" in stdout, stdout
    status, _, _ = _run(["build", album, "-o", tmp_path / "b.tflite", "--embedder", "pixels:8:rgb",
                         "--no-progress"], capsys)
    assert status == 0
    photos = sorted(str(p) for p in album.glob("*/[0-9].png"))
    from_shards = LiteRTClassifier(tmp_path / "a.tflite").scores(photos)
    from_albums = LiteRTClassifier(tmp_path / "b.tflite").scores(photos)
    np.testing.assert_allclose(from_shards, from_albums, atol=1e-5)


def test_embed_refuses_existing_output_and_output_inside_album(album, tmp_path, capsys):
    out = tmp_path / "emb"
    assert _run(["embed", album, "-o", out, "--embedder", "pixels:4"], capsys)[0] == 0
    status, _, err = _run(["embed", album, "-o", out, "--embedder", "pixels:4"], capsys)
    assert status == 2 and "already holds embeddings" in err and "--overwrite" in err
    assert _run(["embed", album, "-o", out, "--embedder", "pixels:4", "--overwrite"],
                capsys)[0] == 0
    status, _, err = _run(["embed", album, "-o", album / "out"], capsys)
    assert status == 2 and "inside the album" in err


def test_beam_options_reach_beam(album, tmp_path, capsys):
    status, _, err = _run(["embed", album, "-o", tmp_path / "e", "--embedder", "pixels:4",
                           "--runner", "NoSuchRunner"], capsys)
    assert status == 2 and "NoSuchRunner" in err


def test_unknown_options_are_still_refused_elsewhere(album, tmp_path):
    with pytest.raises(SystemExit):
        main(["build", str(album), "-o", str(tmp_path / "m.tflite"), "--no-such-option"])


def test_build_embeddings_messages(album, tmp_path, capsys):
    status, _, err = _run(["build", "--embeddings", tmp_path / "none", "-o", tmp_path / "m.tflite"],
                          capsys)
    assert status == 2 and "--embeddings" in err and "manifest.json" in err
    status, _, err = _run(["build", album, "--embeddings", tmp_path, "-o", tmp_path / "m.tflite"],
                          capsys)
    assert status == 2 and "either ALBUMS_DIR or --embeddings" in err
    out = tmp_path / "emb"
    _run(["embed", album, "-o", out, "--embedder", "pixels:4"], capsys)
    status, _, err = _run(["build", "--embeddings", out, "-o", tmp_path / "m.tflite",
                           "--embedder", "pixels:8"], capsys)
    assert status == 2 and "'pixels:4'" in err


def test_missing_extra_is_one_line_with_the_install_command(album, tmp_path, capsys, monkeypatch):
    from cbr_edu.scale import _extra
    monkeypatch.setitem(_extra.PACKAGES, "no_such_module_for_this_test", "apache-beam")
    status, stdout, err = _run(["embed", album, "-o", tmp_path / "e"], capsys)
    assert status == 2 and not stdout
    assert err.count("\n") == 1 and 'pip install "cbr-edu[scale]"' in err
