"""The Beam embedding pipeline: shards and manifest, bad files, file lists, the equality test."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from needs_scale import require_scale_extra

require_scale_extra()

from cbr_edu import datasets  # noqa: E402
from cbr_edu.embedders import load_embedder  # noqa: E402
from cbr_edu.scale.pipeline import embed_source  # noqa: E402
from cbr_edu.scale.shards import MANIFEST, read_embeddings  # noqa: E402
from cbr_edu.scale.sources import write_album  # noqa: E402

PER_CLASS = 8  # images per class of each offline set in the equality test


def _photo(path, grey, seed):
    rng = np.random.default_rng(seed)
    pixels = np.clip(grey + rng.integers(-30, 30, (20, 24, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "album"
    for c, (name, grey) in enumerate({"dark": 50, "light": 200}.items()):
        (root / name).mkdir(parents=True)
        for i in range(3):
            _photo(root / name / f"{i}.png", grey, 10 * c + i)
    return root


def test_offline_sets_equal_the_in_process_embedder(tmp_path):
    """The local run (DirectRunner) gives the in-process embedder's vectors within 1e-5."""
    from cbr_edu.tflite.convert import convert_embedder
    embedder = load_embedder("efficientnet_lite0")
    # converted up front, both embed with LiteRT (on an empty cache, the first 64 images
    # of each would embed with Keras: the same vectors within 1e-4, not 1e-5)
    convert_embedder(embedder)
    paths = []
    for name in datasets.names(offline_only=True):
        ds = datasets.load(name, max_per_class=PER_CLASS)
        paths += write_album(ds, tmp_path / "sets" / name)
    # one album of every offline set: class folders named <set>/<class> -> label <class>
    listing = tmp_path / "all.txt"
    listing.write_text("".join(f"{p}\t{os.path.basename(os.path.dirname(os.path.dirname(p)))}/"
                               f"{os.path.basename(os.path.dirname(p))}\n" for p in paths))
    manifest = embed_source(listing, tmp_path / "out", embedder=embedder.spec, batch_size=16)
    shards = read_embeddings(tmp_path / "out")
    assert manifest["counts"] == {"embedded": len(paths), "classes": len(set(shards.labels)),
                                  "skipped": 0, "unreadable": 0}
    expected = embedder.embed(paths)[np.argsort(paths)]
    assert shards.paths == sorted(paths)
    np.testing.assert_allclose(shards.embeddings, expected, atol=1e-5, rtol=0)
    assert manifest["embedder"]["id"] == embedder.id and manifest["embedder"]["dim"] == 1280


def test_bad_files_are_skipped_and_reported_never_fatal(album, tmp_path):
    (album / "dark" / "empty.jpg").write_bytes(b"")
    (album / "dark" / "notes.jpg").write_text("text, not a JPEG")
    data = (album / "light" / "0.png").read_bytes()
    (album / "light" / "cut.png").write_bytes(data[: len(data) // 2])
    (album / "light" / "readme.txt").write_text("hello")
    manifest = embed_source(album, tmp_path / "out", embedder="pixels:4")
    reasons = {os.path.basename(s["path"]): s["reason"] for s in manifest["skipped"]}
    assert reasons["empty.jpg"] == "empty file (0 bytes)"
    assert reasons["notes.jpg"] == "not an image file Pillow can read"
    assert "truncated" in reasons["cut.png"]
    assert reasons["readme.txt"].startswith("not an image file (extension")
    assert manifest["counts"] == {"embedded": 6, "classes": 2, "skipped": 4, "unreadable": 3}
    assert manifest["per_class"] == {"dark": 3, "light": 3}
    shards = read_embeddings(tmp_path / "out")
    assert sorted(map(os.path.basename, shards.paths)) == ["0.png", "0.png", "1.png", "1.png",
                                                            "2.png", "2.png"]


def test_file_list_labels_relative_paths_comments_and_missing_files(album, tmp_path):
    listing = album.parent / "list.txt"
    listing.write_text("# photos\n\nalbum/dark/0.png\nalbum/light/1.png\tbright\n"
                       f"{album}/light/2.png\nalbum/dark/gone.png\n")
    manifest = embed_source(listing, tmp_path / "out", embedder="pixels:4", shards=2)
    shards = read_embeddings(tmp_path / "out")
    got = dict(zip(map(os.path.basename, shards.paths), shards.labels))
    assert got == {"0.png": "dark", "1.png": "bright", "2.png": "light"}
    assert [s["reason"] for s in manifest["skipped"]] == ["file does not exist"]
    assert len(manifest["shards"]) == 2 and manifest["source"]["kind"] == "file list"


def test_embeddings_match_the_pixels_they_come_from(album, tmp_path):
    embed_source(album, tmp_path / "out", embedder="pixels:4:rgb")
    shards = read_embeddings(tmp_path / "out")
    expected = load_embedder("pixels:4:rgb").embed(shards.paths)
    np.testing.assert_allclose(shards.embeddings, expected, atol=1e-6)
    assert shards.embeddings.dtype == np.float32 and shards.load_embedder().spec == "pixels:4:rgb"


def test_reader_refuses_unfinished_or_damaged_output(album, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="has no manifest.json"):
        read_embeddings(out)
    embed_source(album, out, embedder="pixels:4", shards=2)
    manifest = json.loads((out / MANIFEST).read_text())
    os.unlink(out / manifest["shards"][0])
    with pytest.raises(ValueError, match="cannot read shard"):
        read_embeddings(out)
    manifest["shards"] = manifest["shards"][1:]
    (out / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="the manifest says 6"):
        read_embeddings(out)


def test_source_that_is_neither_album_nor_list(tmp_path):
    (tmp_path / "album" / "cat").mkdir(parents=True)
    with pytest.raises(ValueError, match="no image files"):
        embed_source(tmp_path / "album", tmp_path / "out", embedder="pixels:4")
    with pytest.raises(ValueError, match="does not exist"):
        embed_source(tmp_path / "nothing", tmp_path / "out", embedder="pixels:4")
