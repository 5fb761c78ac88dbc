"""``CbRClassifier(index="faiss:…")``: the loss stated in cbr_edu.scale.faiss_index, checked."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from needs_scale import require_scale_extra

require_scale_extra(["faiss"])

from cbr_edu import CbRClassifier  # noqa: E402
from cbr_edu.scale.faiss_index import OUT_OF_RUNNING, FaissIndex  # noqa: E402
from cbr_edu.scale.synthetic import clustered_embeddings  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return clustered_embeddings(4000, dim=32, per_class=20, queries=300, seed=1)


def _pair(data, index, **params):
    exact = CbRClassifier(**params).fit(data.index, data.labels)
    approx = CbRClassifier(index=index, **params).fit(data.index, data.labels)
    return exact, approx


def test_flat_max_decides_and_scores_like_exact(data):
    exact, approx = _pair(data, "faiss:Flat")
    assert np.array_equal(exact.predict(data.queries), approx.predict(data.queries))
    want, got = exact.class_scores(data.queries), approx.class_scores(data.queries)
    found = got > OUT_OF_RUNNING
    np.testing.assert_allclose(got[found], want[found], atol=1e-5)
    assert found.sum(1).max() <= 100 and (got[~found] == -1).all()


def test_exhaustive_ivf_equals_flat(data):
    flat = CbRClassifier(index="faiss:Flat").fit(data.index, data.labels)
    ivf = CbRClassifier(index="faiss:IVF16,Flat;nprobe=16").fit(data.index, data.labels)
    np.testing.assert_allclose(ivf.class_scores(data.queries), flat.class_scores(data.queries),
                               atol=1e-6)


def test_topk_mean_is_exact_with_enough_neighbours_else_an_upper_bound(data):
    exact, everything = _pair(data, f"faiss:Flat;neighbors={len(data.index)}",
                              aggregation="topk_mean", k=3)
    np.testing.assert_allclose(everything.class_scores(data.queries),
                               exact.class_scores(data.queries), atol=1e-5)
    few = CbRClassifier(index="faiss:Flat;neighbors=10", aggregation="topk_mean", k=3)
    got = few.fit(data.index, data.labels).class_scores(data.queries)
    want = exact.class_scores(data.queries)
    found = got > OUT_OF_RUNNING
    assert (got[found] >= want[found] - 1e-6).all()          # never below the exact score
    assert (got[found] > want[found] + 1e-4).any()           # and above it where neighbours lack
    agreement = np.mean(few.predict(data.queries) == exact.predict(data.queries))
    assert 0.8 <= agreement < 1.0, agreement


def test_approximate_index_loses_a_measured_few_decisions(data):
    exact, ivf = _pair(data, "faiss:IVF16,Flat;nprobe=2")   # 2 of 16 lists searched
    agreement = np.mean(ivf.predict(data.queries) == exact.predict(data.queries))
    assert 0.9 <= agreement < 1.0, agreement


def test_product_quantisation_approximates_the_similarities():
    small = clustered_embeddings(1500, dim=32, per_class=15, queries=100, seed=2)
    exact, pq = _pair(small, "faiss:IVF8,PQ16;nprobe=8")
    got, want = pq.class_scores(small.queries), exact.class_scores(small.queries)
    found = got > OUT_OF_RUNNING
    error = np.abs(got[found] - want[found])
    assert error.max() > 1e-3 and error.mean() < 0.1
    agreement = np.mean(pq.predict(small.queries) == exact.predict(small.queries))
    assert 0.6 <= agreement < 1.0, agreement


def test_mean_and_bad_specs_are_refused(data):
    with pytest.raises(ValueError, match="'mean' needs every example"):
        CbRClassifier(index="faiss:Flat", aggregation="mean").fit(data.index, data.labels)
    with pytest.raises(ValueError, match="'exact' or 'faiss:"):
        CbRClassifier(index="flat").fit(data.index, data.labels)
    with pytest.raises(ValueError, match="nprobe=N"):
        CbRClassifier(index="faiss:IVF8,Flat;nprobe=two").fit(data.index, data.labels)
    with pytest.raises(ValueError, match="fewer lists"):
        CbRClassifier(index="faiss:IVF8192,Flat").fit(data.index, data.labels)
    with pytest.raises(ValueError, match="FAISS cannot make"):
        CbRClassifier(index="faiss:NoSuchIndex").fit(data.index, data.labels)


def test_editing_saving_cloning_pickling_keep_the_faiss_path(data, tmp_path):
    clf = CbRClassifier(index="faiss:HNSW16;efSearch=64").fit(data.index, data.labels)
    before = clf.predict(data.queries)
    assert clone(clf).get_params()["index"] == "faiss:HNSW16;efSearch=64"
    assert np.array_equal(pickle.loads(pickle.dumps(clf)).predict(data.queries), before)
    loaded = CbRClassifier.load(clf.save(tmp_path / "clf.npz"))
    assert loaded.index == clf.index and np.array_equal(loaded.predict(data.queries), before)
    new = int(data.labels.max()) + 1
    clf.add_examples(-data.queries[:2], [new, new])
    assert clf.predict(-data.queries[:1]).tolist() == [new]
    assert clf.remove_class(new).classes_.tolist() == np.unique(data.labels).tolist()


def test_recipe_round_trip():
    recipe = FaissIndex.parse("faiss:IVF64,PQ8;neighbors=20;nprobe=4;efSearch=9")
    assert FaissIndex.parse(recipe.spec) == recipe
    assert (recipe.neighbors, recipe.nprobe, recipe.ef_search) == (20, 4, 9)
