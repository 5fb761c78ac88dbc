"""``cache.embed_images``: a data set's embeddings through the on-disk cache."""

import numpy as np

from cbr_edu.cache import EmbeddingCache, embed_images


def test_embed_images_uses_the_cache(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (12, 12, 3), dtype=np.uint8) for _ in range(70)]
    cache = EmbeddingCache(tmp_path / "cache")
    first, emb = embed_images(images, "pixels:4", cache=cache, chunk=32, progress=False)
    assert first.shape == (70, 16) and cache.misses == 70 and cache.hits == 0
    again, _ = embed_images(images, "pixels:4", cache=cache, chunk=32)
    np.testing.assert_array_equal(first, again)
    assert cache.hits == 70 and cache.misses == 70
    direct = emb.embed(images)
    np.testing.assert_allclose(first, direct, atol=1e-6)
    uncached, _ = embed_images(images[:3], emb, cache=False)
    np.testing.assert_allclose(uncached, direct[:3], atol=1e-6)
