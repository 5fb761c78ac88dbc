"""Behaviour of cbr_edu.cache.EmbeddingCache."""

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cbr_edu._paths import cache_root
from cbr_edu.cache import EmbeddingCache, content_hash


class CountingEmbedder:
    """Mean colour + brightness; records every batch it is asked to embed."""

    def __init__(self, id="counting", dim=4, preprocessing=""):
        self.id = id
        self.dim = self.out_dim = dim
        self.preprocessing = preprocessing
        self.calls = []

    def embed(self, images):
        self.calls.append(len(images))
        out = []
        for im in images:
            im = np.asarray(im, np.float32)
            v = list(im.reshape(-1, 3).mean(0)) + [im.mean()]
            out.append((v + [0.0] * self.out_dim)[: self.out_dim])
        return np.array(out, np.float32)


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (6, 5, 3), np.uint8) for _ in range(n)]


def entry_files(cache):
    return sorted(p for p in Path(cache.directory).glob("??/*.emb") if not p.name.startswith(".tmp"))


def test_hits_and_misses(tmp_path):
    cache = EmbeddingCache(tmp_path)
    emb = CountingEmbedder()
    imgs = images(5)
    first = cache.get_or_compute(emb, imgs, batch_size=2)
    assert first.shape == (5, 4) and first.dtype == np.float32
    assert (cache.last_hits, cache.last_misses) == (0, 5)
    assert emb.calls == [2, 2, 1]
    assert len(entry_files(cache)) == 5 == cache.info().entries
    assert cache.info().bytes > 0

    # two new images, three old ones: only the new ones are embedded
    second = cache.get_or_compute(emb, imgs[:3] + images(2, seed=1))
    assert (cache.last_hits, cache.last_misses) == (3, 2)
    assert emb.calls[-1] == 2
    np.testing.assert_array_equal(second[:3], first[:3])
    np.testing.assert_allclose(second[3:], emb.embed(images(2, seed=1)))
    assert (cache.hits, cache.misses) == (3, 7)


def test_results_equal_direct_embedding_and_keep_order(tmp_path):
    cache = EmbeddingCache(tmp_path)
    emb = CountingEmbedder()
    imgs = images(6)
    cache.get_or_compute(emb, imgs[::2])
    got = cache.get_or_compute(emb, imgs)
    np.testing.assert_allclose(got, emb.embed(imgs))


def test_key_depends_on_embedder_id_and_preprocessing(tmp_path):
    cache = EmbeddingCache(tmp_path)
    imgs = images(2)
    cache.get_or_compute(CountingEmbedder("a"), imgs)
    cache.get_or_compute(CountingEmbedder("b"), imgs)
    assert cache.last_misses == 2
    cache.get_or_compute(CountingEmbedder("a", preprocessing="224px"), imgs)
    assert cache.last_misses == 2
    cache.get_or_compute(CountingEmbedder("a", preprocessing={"size": 224}), imgs)
    assert cache.last_misses == 2
    cache.get_or_compute(CountingEmbedder("a"), imgs)
    assert (cache.last_hits, cache.last_misses) == (2, 0)
    a = CountingEmbedder("a")
    assert cache.key(a, imgs[0]) != cache.key(CountingEmbedder("b"), imgs[0])
    assert cache.key(a, imgs[0]) != cache.key(a, imgs[1])


def test_content_hash_covers_shape_and_dtype():
    a = np.arange(12, dtype=np.uint8)
    assert content_hash(a.reshape(3, 4)) != content_hash(a.reshape(4, 3))
    assert content_hash(a) != content_hash(a.astype(np.uint16))
    assert content_hash(a.reshape(3, 4)) == content_hash(np.ascontiguousarray(a.reshape(3, 4)))
    # non-contiguous views hash by content
    b = np.arange(24, dtype=np.uint8).reshape(4, 6)[:, ::2]
    assert content_hash(b) == content_hash(b.copy())


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "garbage", "empty", "other_key"])
def test_corrupt_entry_is_recomputed(tmp_path, damage):
    cache = EmbeddingCache(tmp_path)
    emb = CountingEmbedder()
    imgs = images(3)
    good = cache.get_or_compute(emb, imgs)
    files = entry_files(cache)
    victim = Path(cache._path(cache.key(emb, imgs[1])))
    assert victim in files
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "flip_byte":
        pos = len(data) - 40  # inside the float payload
        victim.write_bytes(data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:])
    elif damage == "garbage":
        victim.write_bytes(b"\x93NUMPY not really")
    elif damage == "empty":
        victim.write_bytes(b"")
    else:  # a valid entry for a different image copied over this one
        other = Path(cache._path(cache.key(emb, imgs[0])))
        victim.write_bytes(other.read_bytes())
    calls_before = len(emb.calls)
    again = cache.get_or_compute(emb, imgs)
    np.testing.assert_array_equal(again, good)
    assert (cache.last_hits, cache.last_misses) == (2, 1)
    assert emb.calls[calls_before:] == [1]
    assert cache.recomputed_corrupt >= 1
    # and it was overwritten with a good entry
    cache.get_or_compute(emb, imgs)
    assert (cache.last_hits, cache.last_misses) == (3, 0)


def test_wrong_dimension_entry_is_recomputed(tmp_path):
    cache = EmbeddingCache(tmp_path)
    imgs = images(2)
    cache.get_or_compute(CountingEmbedder("same-id", dim=3), imgs)
    # a model changed its output size but kept its id: old entries are distrusted
    emb = CountingEmbedder("same-id", dim=5)
    out = cache.get_or_compute(emb, imgs)
    assert out.shape == (2, 5) and cache.last_misses == 2
    # also when the embedder does not declare .dim
    nodim = CountingEmbedder("same-id", dim=3)
    del nodim.dim
    mixed = cache.get_or_compute(nodim, imgs + images(1, seed=9))
    assert mixed.shape == (3, 3)


def test_paths_are_hashed_by_content(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    a = tmp_path / "a.png"
    Image.fromarray(images(1)[0]).save(a)
    emb = CountingEmbedder()
    first = cache.get_or_compute(emb, [a])
    b = tmp_path / "renamed.png"
    a.rename(b)
    second = cache.get_or_compute(emb, [str(b)])
    assert cache.last_hits == 1
    np.testing.assert_array_equal(first, second)
    Image.fromarray(images(1, seed=3)[0]).save(b)  # edited -> new entry
    cache.get_or_compute(emb, [b])
    assert cache.last_misses == 1


def test_bad_embedders_are_reported(tmp_path):
    cache = EmbeddingCache(tmp_path)

    class NoId:
        def embed(self, images):
            return np.zeros((len(images), 2), np.float32)

    with pytest.raises(TypeError, match="'id'"):
        cache.get_or_compute(NoId(), images(1))

    class WrongRows(CountingEmbedder):
        def embed(self, images):
            return np.zeros((len(images) + 1, 4), np.float32)

    with pytest.raises(ValueError, match="returned shape"):
        cache.get_or_compute(WrongRows(), images(2))


def test_empty_input(tmp_path):
    out = EmbeddingCache(tmp_path).get_or_compute(CountingEmbedder(), [])
    assert out.shape == (0, 4)


def test_clear_only_removes_entries(tmp_path):
    cache = EmbeddingCache(tmp_path)
    keep = tmp_path / "my_notes.txt"
    keep.write_text("do not delete")
    (tmp_path / "zz").mkdir()  # not a hex shard
    (tmp_path / "zz" / "x.emb").write_text("not ours")
    cache.get_or_compute(CountingEmbedder(), images(4))
    assert cache.clear() == 4
    assert cache.info().entries == 0
    assert keep.read_text() == "do not delete" and (tmp_path / "zz" / "x.emb").exists()


def test_default_directory_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CBR_EDU_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path
    assert EmbeddingCache().directory == tmp_path / "embeddings"
    monkeypatch.delenv("CBR_EDU_CACHE_DIR")
    assert "cbr-edu" in str(EmbeddingCache().directory)


def test_concurrent_writers_agree(tmp_path):
    imgs = images(20)
    results, errors = [], []

    def worker():
        try:
            results.append(EmbeddingCache(tmp_path).get_or_compute(CountingEmbedder(), imgs,
                                                                   batch_size=3))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    cache = EmbeddingCache(tmp_path)
    cache.get_or_compute(CountingEmbedder(), imgs)
    assert cache.last_hits == 20
    assert not list(Path(tmp_path).glob("??/.tmp-*"))  # no leftovers
