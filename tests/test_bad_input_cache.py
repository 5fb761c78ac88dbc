"""Bad-input corpus, shared machines: file modes, foreign and read-only caches.

Every file the package writes gets the mode a plain write would give (the umask
decides); a cache someone else filled is read; a cache that cannot be written is
read too, the work goes on, one line says results are not cached, and nothing in
it changes.
"""

import os
import stat
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import read_only_for_us, snapshot

from cbr_edu import CbRClassifier
from cbr_edu._atomic import atomic_write_bytes
from cbr_edu._paths import CACHE_ENV, store_in_cache
from cbr_edu.cache import EmbeddingCache, embed_images
from cbr_edu.tflite import export_tflite

NOT_CACHED = "results are not cached"


@contextmanager
def umask(value):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class CountingMean:
    """An embedder that counts how many images it embeds (cache hits are not embedded)."""

    id = "counting-mean"
    dim = 3

    def __init__(self):
        self.embedded = 0

    def embed(self, images):
        self.embedded += len(images)
        return np.stack([im.reshape(-1, 3).mean(0) for im in images]).astype("float32")


def images(n, start=0):
    return [np.full((4, 4, 3), v, np.uint8) for v in range(start, start + n)]


# ------------------------------------------------------------------ file modes

@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_a_new_file_gets_the_umask_mode(tmp_path, mask):
    with umask(mask):
        atomic_write_bytes(tmp_path / "f.bin", b"x")
    assert mode(tmp_path / "f.bin") == 0o666 & ~mask


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with umask(0o022):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and mode(target) == 0o640


def _write_with_every_writer(folder):
    """The files each writer of the package makes, in ``folder``."""
    cache = EmbeddingCache(folder / "embeddings")
    cache.get_or_compute(CountingMean(), images(1))
    clf = CbRClassifier().fit(np.eye(3), ["a", "b", "b"])
    clf.save(folder / "clf.npz")
    result = export_tflite(clf, folder / "pets.tflite")
    store_in_cache(folder / "stems" / "x.tflite", b"stem")
    return [*cache._entry_files(), folder / "clf.npz", result.path, result.labels_path,
            folder / "stems" / "x.tflite"]


def test_every_writer_respects_the_umask(tmp_path):
    with umask(0o002):
        written = _write_with_every_writer(tmp_path)
    assert len(written) == 5
    assert {p.name: oct(mode(p)) for p in written} == {p.name: oct(0o664) for p in written}


# ------------------------------------------------------------------ foreign and read-only caches

@pytest.fixture
def filled_cache(shared_dir):
    """A cache filled by its owner under the usual umask, and the images it holds."""
    cache_folder = shared_dir / "embeddings"
    with umask(0o022):
        EmbeddingCache(cache_folder).get_or_compute(CountingMean(), images(6))
    return cache_folder, images(6)


def test_a_cache_filled_by_someone_else_is_read(filled_cache):
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    folder, imgs = filled_cache
    embedder = CountingMean()
    with read_only_for_us(folder):
        out = EmbeddingCache(folder).get_or_compute(embedder, imgs)
    assert embedder.embedded == 0  # every vector came from the other user's cache
    np.testing.assert_allclose(out[:, 0], np.arange(6))


def test_misses_in_a_read_only_cache_are_computed_with_one_line(filled_cache, capsys):
    folder, imgs = filled_cache
    before = snapshot(folder)
    embedder = CountingMean()
    with read_only_for_us(folder):
        cache = EmbeddingCache(folder)
        first = cache.get_or_compute(embedder, imgs + images(20, start=100), batch_size=4)
        again = cache.get_or_compute(embedder, images(5, start=200))
    err = capsys.readouterr().err
    assert err.count(NOT_CACHED) == 1 and str(folder) in err and CACHE_ENV in err
    assert len(err.strip().splitlines()) == 1
    assert embedder.embedded == 25 and first.shape == (26, 3) and again.shape == (5, 3)
    np.testing.assert_allclose(first[6:, 0], np.arange(100, 120))
    assert snapshot(folder) == before  # nothing written, nothing removed


def test_a_corrupt_entry_in_a_read_only_cache_is_recomputed_not_trusted(filled_cache, capsys):
    folder, imgs = filled_cache
    entry = EmbeddingCache(folder)._entry_files()[0]
    data = bytearray(entry.read_bytes())
    data[-40] ^= 0xFF
    entry.write_bytes(bytes(data))
    embedder = CountingMean()
    with read_only_for_us(folder):
        out = EmbeddingCache(folder).get_or_compute(embedder, imgs)
    assert embedder.embedded == 1
    np.testing.assert_allclose(out[:, 0], np.arange(6))
    assert NOT_CACHED in capsys.readouterr().err


def test_a_cache_root_that_cannot_be_created(shared_dir, monkeypatch, capsys):
    """CBR_EDU_CACHE_DIR inside a folder we may not write: the default cache still works."""
    monkeypatch.setenv(CACHE_ENV, str(shared_dir / "not-here" / "cache"))
    with read_only_for_us(shared_dir):
        X, _ = embed_images(images(3), "pixels:2")
        again, _ = embed_images(images(3), "pixels:2")
    assert X.shape == (3, 4) and np.array_equal(X, again)
    assert NOT_CACHED in capsys.readouterr().err
    assert not (shared_dir / "not-here").exists()


def test_a_disk_that_refuses_the_write(tmp_path, capsys):
    """Any OSError (here: a file where the folder should be) means 'not cached', not a crash."""
    (tmp_path / "blocker").write_bytes(b"a file, not a folder")
    assert store_in_cache(tmp_path / "blocker" / "entry.bin", b"x",
                          folder=tmp_path / "blocker") is False
    err = capsys.readouterr().err
    assert NOT_CACHED in err and "blocker" in err
    assert (tmp_path / "blocker").read_bytes() == b"a file, not a folder"


def test_converted_lite0_weights_in_a_read_only_cache(shared_dir, monkeypatch, capsys):
    """The default embedder's converted weights: converted in memory when the cache refuses."""
    import shutil

    from cbr_edu.embedders import efficientnet_lite0 as lite0
    # the other user may not enter the folder holding the installed package (a private
    # checkout): they read a copy of its weights file from a folder they may enter
    pth = shared_dir / "weights" / "lite0.pth"
    pth.parent.mkdir(mode=0o755)
    shutil.copyfile(lite0.weights_path(), pth)
    pth.chmod(0o644)
    monkeypatch.setattr(lite0, "weights_path", lambda: str(pth))
    monkeypatch.setenv(CACHE_ENV, str(shared_dir))
    (shared_dir / "embedders").mkdir(mode=0o755)
    with read_only_for_us(shared_dir):
        weights = lite0.load_keras_weights()
    assert weights["logits"][0].shape == (1280, 1000)
    assert NOT_CACHED in capsys.readouterr().err
    assert list((shared_dir / "embedders").iterdir()) == []
    # filled by its owner, another user reads it (root only: needs a second user)
    with umask(0o022):
        lite0.load_keras_weights()
    (cached,) = (shared_dir / "embedders").iterdir()
    assert mode(cached) == 0o644
    if os.geteuid() == 0:
        with read_only_for_us(shared_dir):
            assert lite0._load_cached(cached) is not None


def test_tflite_stem_with_a_read_only_cache(shared_dir, monkeypatch, capsys):
    import keras

    from cbr_edu.tflite.convert import convert_embedder
    monkeypatch.setenv(CACHE_ENV, str(shared_dir))
    features = keras.Input((4,))
    embedder = keras.Model(features, keras.layers.Dense(2)(features))
    with read_only_for_us(shared_dir):
        data, cached = convert_embedder(embedder)
    assert data[4:8] == b"TFL3" and cached is False
    assert NOT_CACHED in capsys.readouterr().err
    assert list(shared_dir.iterdir()) == []


def test_the_setup_check_calls_a_read_only_cache_a_warning(shared_dir, monkeypatch):
    from cbr_edu.exercises.nb00_welcome import _check_cache
    monkeypatch.setenv(CACHE_ENV, str(shared_dir))
    with read_only_for_us(shared_dir):
        (row,) = _check_cache()
    assert row["status"] == "warning" and "not cached" in row["detail"]
    assert list(shared_dir.iterdir()) == []
