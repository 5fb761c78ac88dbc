"""The retrieval and aggregation layers, the model builder and CbRClassifier."""

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KNeighborsClassifier

from cbr_edu import CbRClassifier, build_cbr_model
from cbr_edu import layers
from cbr_edu.layers import AGGREGATIONS, EMPTY_SLOT, AggregationLayer, RetrievalLayer
from cbr_edu.model import cbr_layers, class_names, write_index
from cbr_edu.similarity import cosine

DEFAULT_XLA_FROM = layers.ONE_QUERY_XLA_FROM
SLOW = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@st.composite
def indexed_problems(draw, max_classes=6):
    """Random embeddings, uneven classes (every class present) and queries."""
    seed = draw(st.integers(0, 2**32 - 1))
    n_classes = draw(st.integers(2, max_classes))
    sizes = draw(st.lists(st.integers(1, 5), min_size=n_classes, max_size=n_classes))
    dim = draw(st.integers(2, 12))
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), sizes)
    rng.shuffle(labels)
    index = rng.normal(size=(len(labels), dim)) * rng.uniform(0.1, 10, size=(len(labels), 1))
    queries = rng.normal(size=(draw(st.integers(1, 8)), dim))
    return index.astype(np.float32), labels, queries.astype(np.float32)


def numpy_class_scores(index, labels, queries, aggregation, k=3):
    sims = cosine(queries.astype(np.float64), index.astype(np.float64))
    classes = np.unique(labels)
    out = np.empty((len(queries), len(classes)))
    for j, c in enumerate(classes):
        s = np.sort(sims[:, labels == c], axis=1)[:, ::-1]
        out[:, j] = {"max": s[:, 0], "mean": s.mean(axis=1),
                     "topk_mean": s[:, :k].mean(axis=1)}[aggregation]
    return out


def margin(scores):
    top2 = np.sort(scores, axis=1)[:, -2:]
    return float(np.min(top2[:, 1] - top2[:, 0]))


# -- equivalences ---------------------------------------------------------------
@SLOW
@given(indexed_problems())
def test_max_aggregation_is_cosine_1nn_and_sklearn_1nn(problem):
    index, labels, queries = problem
    sims = cosine(queries.astype(np.float64), index.astype(np.float64))
    assume(margin(numpy_class_scores(index, labels, queries, "max")) > 1e-4)
    brute = labels[np.argmax(sims, axis=1)]
    knn = KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")
    knn.fit(index, labels)
    cbr = CbRClassifier().fit(index, labels)
    np.testing.assert_array_equal(cbr.predict(queries), brute)
    np.testing.assert_array_equal(cbr.predict(queries), knn.predict(queries))


@SLOW
@given(indexed_problems(), st.sampled_from(AGGREGATIONS), st.integers(1, 4), st.integers(0, 4))
def test_aggregations_equal_their_numpy_definitions(problem, aggregation, k, spare):
    """Also with spare rows (empty slots): they must never change a class score."""
    index, labels, queries = problem
    model = build_cbr_model(index, labels, aggregation=aggregation, k=k, capacity=len(index) + spare)
    assert cbr_layers(model)[0].num_instances == len(index) + spare
    got = np.asarray(model(queries))
    want = numpy_class_scores(index, labels, queries, aggregation, k)
    np.testing.assert_allclose(got, want, atol=2e-5)


@SLOW
@given(indexed_problems(), st.sampled_from(AGGREGATIONS), st.integers(1, 4), st.integers(0, 3))
def test_one_query_path_scores_like_the_batch_path(problem, aggregation, k, spare):
    """One query runs other kernels (MatMul, XLA-compiled reductions) than a batch
    (BatchMatMul, sorted reductions); each row of a batch must score the same alone."""
    index, labels, queries = problem
    assume(len(queries) > 1)
    layers.ONE_QUERY_XLA_FROM = 0  # every index size takes the one-query path here
    model = build_cbr_model(index, labels, aggregation=aggregation, k=k,
                            capacity=len(index) + spare)
    batch = model.predict_on_batch(queries)
    alone = np.concatenate([model.predict_on_batch(queries[i:i + 1])
                            for i in range(len(queries))])
    np.testing.assert_allclose(alone, batch, atol=1e-6)
    np.testing.assert_allclose(np.asarray(model(queries[:1])), batch[:1], atol=1e-6)


@pytest.fixture(autouse=True)
def _xla_threshold_restored():
    yield
    layers.ONE_QUERY_XLA_FROM = DEFAULT_XLA_FROM


def test_one_query_path_at_its_default_threshold():
    """A model with ONE_QUERY_XLA_FROM rows (spare ones included) takes the XLA path."""
    rng = np.random.default_rng(4)
    index, labels = rng.normal(size=(30, 8)), np.arange(30) % 4
    model = build_cbr_model(index, labels, aggregation="topk_mean", k=2,
                            capacity=layers.ONE_QUERY_XLA_FROM)
    queries = rng.normal(size=(3, 8)).astype("float32")
    alone = np.concatenate([model.predict_on_batch(q[None]) for q in queries])
    np.testing.assert_allclose(alone, numpy_class_scores(index, labels, queries, "topk_mean", 2),
                               atol=2e-5)


def test_retrieval_kernel_is_a_dense_kernel_of_the_normalised_index():
    index = np.array([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]])
    layer = RetrievalLayer(index)
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    assert kernel.shape == (2, 3)  # (dim, instances), like keras.layers.Dense(3)'s
    np.testing.assert_allclose(kernel, (index / np.linalg.norm(index, axis=1, keepdims=True)).T)
    np.testing.assert_allclose(layer.index_embeddings, kernel.T)
    assert layer.index_embeddings.flags["C_CONTIGUOUS"]


def test_a_keras_file_with_the_earlier_kernel_layout_still_loads(tmp_path):
    """Files saved before the kernel was stored dim × instances hold it transposed, and
    their config has no kernel_layout: they load with the same scores."""
    import json
    import zipfile

    import h5py

    rng = np.random.default_rng(3)
    index, labels = rng.normal(size=(5, 5)), [0, 1, 1, 2, 2]  # square: the shape cannot tell
    model = build_cbr_model(index, labels)
    new, old = tmp_path / "new.keras", tmp_path / "old.keras"
    model.save(new)
    with zipfile.ZipFile(new) as src, zipfile.ZipFile(old, "w") as dst:
        config = json.loads(src.read("config.json"))
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "RetrievalLayer":
                assert layer["config"].pop("kernel_layout") == "dim_instances"
        dst.writestr("config.json", json.dumps(config))
        dst.writestr("metadata.json", src.read("metadata.json"))
        weights = tmp_path / "model.weights.h5"
        weights.write_bytes(src.read("model.weights.h5"))
        with h5py.File(weights, "r+") as h5:
            found = []
            h5.visititems(lambda name, obj: found.append(name)
                          if name.endswith("retrieval_layer/vars/0") else None)
            (name,) = found
            kernel = h5[name][()]
            del h5[name]
            h5[name] = kernel.T
        dst.write(weights, "model.weights.h5")
    again = keras.models.load_model(old, safe_mode=True)
    queries = rng.normal(size=(3, 5)).astype("float32")
    np.testing.assert_allclose(np.asarray(again(queries)), np.asarray(model(queries)), atol=1e-6)
    again.save(tmp_path / "resaved.keras")  # and saves in the current layout
    resaved = keras.models.load_model(tmp_path / "resaved.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(resaved(queries)), np.asarray(model(queries)), atol=1e-6)


def test_topk_mean_with_tied_scores_counts_each_instance_once():
    index = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    model = build_cbr_model(index, [0, 0, 0, 0, 1], aggregation="topk_mean", k=2)
    # class 0 holds three copies of the query direction and one orthogonal vector:
    # the mean of its best 2 is 1.0, not something diluted or double-counted
    got = np.asarray(model(np.array([[1.0, 0.0]])))
    np.testing.assert_allclose(got, [[1.0, 0.0]], atol=1e-6)
    model3 = build_cbr_model(index, [0, 0, 0, 0, 1], aggregation="topk_mean", k=4)
    np.testing.assert_allclose(np.asarray(model3(np.array([[1.0, 0.0]]))), [[0.75, 0.0]], atol=1e-6)


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_an_empty_slot_never_wins_even_over_negative_scores(aggregation):
    # every real cosine is negative; an empty slot's row is zero (score 0)
    layer = AggregationLayer([0, EMPTY_SLOT, 1, 1, EMPTY_SLOT], num_classes=2,
                             aggregation=aggregation, k=2)
    scores = np.array([[-0.5, 0.0, -0.9, -0.1, 0.0]], "float32")
    want = {"max": [-0.5, -0.1], "mean": [-0.5, -0.5], "topk_mean": [-0.5, -0.5]}[aggregation]
    np.testing.assert_allclose(np.asarray(layer(scores)), [want], atol=1e-6)
    with pytest.raises(ValueError, match="EMPTY_SLOT"):
        layer.set_class_ids([0, -2, 1, 1, 0])


def test_retrieval_layer_outputs_cosines_and_handles_zero_query():
    rng = np.random.default_rng(0)
    index, queries = rng.normal(size=(7, 5)), rng.normal(size=(3, 5))
    layer = RetrievalLayer(index)
    np.testing.assert_allclose(np.asarray(layer(queries.astype("float32"))),
                               cosine(queries, index), atol=1e-5)
    zero = np.asarray(layer(np.zeros((1, 5), "float32")))
    assert np.all(np.isfinite(zero)) and np.allclose(zero, 0)
    assert layer.trainable_weights == []
    np.testing.assert_allclose(np.linalg.norm(layer.index_embeddings, axis=1), 1, atol=1e-6)


def test_output_columns_are_sorted_labels():
    model = build_cbr_model(np.eye(3), ["zebra", "ant", "mole"])
    assert class_names(model) == ["ant", "mole", "zebra"]
    scores = np.asarray(model(np.array([[0.0, 0.0, 1.0]], "float32")))
    assert np.argmax(scores) == 1  # the third row is a "mole"


def test_model_is_usable_inside_a_functional_model():
    inner = build_cbr_model(np.eye(4), [0, 1, 2, 2])
    x = keras.Input((6,))
    y = inner(keras.layers.Dense(4, use_bias=False, kernel_initializer="identity")(x))
    outer = keras.Model(x, keras.layers.Softmax()(y))
    assert outer(np.ones((2, 6), "float32")).shape == (2, 3)


def test_aggregation_has_no_per_class_ops_and_no_dense_one_hot():
    """The layer's graph is the same size for 10 and 10 000 classes."""
    import tensorflow as tf

    def op_count(num_classes, aggregation):
        ids = np.arange(20_000) % num_classes
        layer = AggregationLayer(ids, num_classes=num_classes, aggregation=aggregation, k=3)
        fn = tf.function(lambda s: layer(s))
        graph = fn.get_concrete_function(tf.TensorSpec((None, ids.size), tf.float32)).graph
        sizes = [int(np.prod(v.shape)) for v in layer.weights]
        return len(graph.get_operations()), max(sizes)

    for aggregation in ("max", "mean", "topk_mean"):
        small_ops, _ = op_count(10, aggregation)
        big_ops, biggest_weight = op_count(10_000, aggregation)
        assert small_ops == big_ops
        assert biggest_weight <= 20_001  # one entry per instance (+ a spare), no N x C matrix


def test_large_index_runs_without_instances_by_classes_memory():
    n, c = 100_000, 10_000
    ids = np.arange(n) % c
    scores = np.random.default_rng(0).random((2, n), dtype=np.float32)
    for aggregation in ("max", "mean", "topk_mean"):
        out = np.asarray(AggregationLayer(ids, num_classes=c, aggregation=aggregation, k=3)(scores))
        assert out.shape == (2, c)
    expected_max = scores.reshape(2, n // c, c).max(axis=1)
    np.testing.assert_allclose(
        np.asarray(AggregationLayer(ids, num_classes=c)(scores)), expected_max)


# -- one compiled model, its index rewritten in place ------------------------------
@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_write_index_scores_like_a_freshly_built_model(aggregation):
    import tensorflow as tf

    rng = np.random.default_rng(5)
    model = build_cbr_model(rng.normal(size=(8, 6)), list("aabbbccd"), aggregation=aggregation,
                            k=2, capacity=10)
    compiled = tf.function(lambda q: model(q, training=False),
                           input_signature=[tf.TensorSpec((None, 6), "float32")])
    queries = rng.normal(size=(7, 6)).astype("float32")
    compiled(queries)
    for labels in (list("abcdabcd"), list("wxxyyyzz"), list("pqrs"), list("aaaaabbbcd")):
        index = rng.normal(size=(len(labels), 6))
        write_index(model, index, labels)
        fresh = build_cbr_model(index, labels, aggregation=aggregation, k=2)
        np.testing.assert_allclose(compiled(queries), fresh(queries), atol=1e-6)
        assert class_names(model) == class_names(fresh) == sorted(set(labels))
    assert compiled.experimental_get_tracing_count() == 1  # never retraced


def test_write_index_refuses_an_index_that_does_not_fit():
    model = build_cbr_model(np.eye(4), [0, 0, 1, 1], capacity=5)
    for index, labels in ((np.ones((6, 4)), [0, 0, 0, 1, 1, 1]),   # too many items
                          (np.ones((4, 3)), [0, 0, 1, 1]),          # another dimension
                          (np.ones((4, 4)), [0, 1, 2, 2])):         # another class count
        with pytest.raises(ValueError, match="holds up to 5 items of dimension 4 in 2 "
                                             "classes.*build a new model"):
            write_index(model, index, labels)
    with pytest.raises(ValueError, match="capacity=3 is smaller"):
        build_cbr_model(np.eye(4), [0, 0, 1, 1], capacity=3)


def test_refitting_reuses_the_compiled_model_until_the_shape_changes():
    rng = np.random.default_rng(6)
    queries = rng.normal(size=(9, 5))
    clf = CbRClassifier(aggregation="topk_mean", k=2).fit(rng.normal(size=(10, 5)),
                                                          np.arange(10) % 5)
    model, compiled = clf._model, clf._scores_fn
    clf.predict(queries)
    for labels in (np.arange(10) % 5 + 10, np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5]),
                   np.array(list("abcdeab"))):                      # 7 items: spare rows
        X = rng.normal(size=(len(labels), 5))
        clf.fit(X, labels)
        assert clf._model is model and clf._scores_fn is compiled
        fresh = CbRClassifier(aggregation="topk_mean", k=2).fit(X, labels)
        np.testing.assert_allclose(clf.class_scores(queries), fresh.class_scores(queries),
                                   atol=1e-12)
        assert clf.classes_.tolist() == fresh.classes_.tolist()
    assert compiled.experimental_get_tracing_count() == 1
    clf.fit(rng.normal(size=(10, 5)), np.arange(10) % 4)            # 4 classes: rebuilt
    assert clf._model is not model
    clf.set_params(aggregation="mean").fit(rng.normal(size=(10, 5)), np.arange(10) % 4)
    assert cbr_layers(clf._model)[1].aggregation == "mean"


def test_adding_examples_one_at_a_time_doubles_the_room():
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(40, 6)), np.array(list("ab") * 20)
    clf = CbRClassifier().fit(X[:2], y[:2])
    models = [clf._model]
    for i in range(2, 40):
        clf.add_examples(X[i:i + 1], y[i:i + 1])
        if clf._model is not models[-1]:
            models.append(clf._model)
    rooms = [cbr_layers(model)[0].num_instances for model in models]
    assert rooms == [2, 4, 8, 16, 32, 64]          # 5 rebuilds for 38 additions
    queries = rng.normal(size=(5, 6))
    np.testing.assert_allclose(clf.class_scores(queries),
                               CbRClassifier().fit(X, y).class_scores(queries), atol=1e-12)
    clf.add_examples(X[:3], ["c"] * 3).remove_class("c")  # class count changes: rebuilt
    assert cbr_layers(clf._model)[0].num_instances == 64  # keeping its room


def test_binary_decision_function_is_the_second_class_minus_the_first():
    rng = np.random.default_rng(8)
    clf = CbRClassifier().fit(rng.normal(size=(6, 4)), ["yes", "no"] * 3)
    queries = rng.normal(size=(10, 4))
    scores, decision = clf.class_scores(queries), clf.decision_function(queries)
    assert scores.shape == (10, 2) and decision.shape == (10,)
    np.testing.assert_allclose(decision, scores[:, 1] - scores[:, 0])
    np.testing.assert_array_equal(clf.predict(queries),
                                  clf.classes_[(decision > 0).astype(int)])


# -- serialisation -------------------------------------------------------------
@pytest.mark.parametrize("aggregation", ["max", "mean", "topk_mean"])
def test_keras_file_round_trip_with_safe_mode(tmp_path, aggregation):
    rng = np.random.default_rng(1)
    index, labels = rng.normal(size=(9, 4)), ["b", "a", "c"] * 3
    model = build_cbr_model(index, labels, aggregation=aggregation, k=2)
    path = tmp_path / "cbr.keras"
    model.save(path)
    again = keras.models.load_model(path, safe_mode=True)
    q = rng.normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(again(q)), np.asarray(model(q)), atol=1e-6)
    assert class_names(again) == ["a", "b", "c"]
    agg = again.get_layer("aggregation")
    assert (agg.aggregation, agg.k) == (aggregation, 2)


def test_layer_configs_rebuild_the_layers():
    r = RetrievalLayer(np.eye(3), name="r")
    a = AggregationLayer([0, 1, 1], num_classes=2, aggregation="topk_mean", k=2, class_names=["x", "y"])
    r2 = RetrievalLayer.from_config(r.get_config())
    a2 = AggregationLayer.from_config(a.get_config())
    assert (r2.num_instances, r2.dim) == (3, 3)
    assert (a2.num_classes, a2.aggregation, a2.k, a2.class_names) == (2, "topk_mean", 2, ["x", "y"])


def test_classifier_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(12, 6)), np.array(["cat", "dog", "owl"] * 4)
    clf = CbRClassifier(aggregation="topk_mean", k=2, temperature=0.1).fit(X, y)
    path = clf.save(tmp_path / "clf.npz")
    again = CbRClassifier.load(path)
    q = rng.normal(size=(4, 6))
    np.testing.assert_array_equal(again.predict(q), clf.predict(q))
    np.testing.assert_allclose(again.predict_proba(q), clf.predict_proba(q), atol=1e-6)
    assert again.get_params() == clf.get_params()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        clf.save(path)
    ints = CbRClassifier().fit(X[:4], [3, 1, 3, 2])
    assert CbRClassifier.load(ints.save(tmp_path / "ints.npz")).classes_.tolist() == [1, 2, 3]


def test_load_rejects_a_file_that_is_not_a_classifier(tmp_path):
    bogus = tmp_path / "bogus.npz"
    np.savez(bogus, something=np.ones(3))
    with pytest.raises(ValueError, match="not a saved CbRClassifier"):
        CbRClassifier.load(bogus)


# -- the classifier's behaviour --------------------------------------------------
def test_classifier_scores_proba_and_editing_the_index():
    X = np.array([[1.0, 0.0], [0.8, 0.3], [0.0, 1.0], [-1.0, 0.1]])
    y = ["sun", "sun", "moon", "rain"]
    clf = CbRClassifier().fit(X, y)
    q = np.array([[0.9, 0.1], [0.05, 1.0], [-2.0, 0.0]])
    assert clf.predict(q).tolist() == ["sun", "moon", "rain"]
    scores = clf.class_scores(q)
    assert scores.shape == (3, 3) and clf.classes_.tolist() == ["moon", "rain", "sun"]
    np.testing.assert_array_equal(clf.decision_function(q), scores)  # 3 classes: the matrix
    proba = clf.predict_proba(q)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-9)
    np.testing.assert_array_equal(np.argmax(proba, 1), np.argmax(scores, 1))
    assert clf.score(q, ["sun", "moon", "rain"]) == 1.0

    clf.remove_class("rain")
    assert clf.classes_.tolist() == ["moon", "sun"]
    assert clf.predict(q[2:]).tolist() != ["rain"]
    clf.add_examples([[-1.0, -0.1]], ["rain"])
    assert clf.predict(q[2:]).tolist() == ["rain"]
    assert len(clf.index_labels_) == 4


def test_clear_errors():
    X = np.random.default_rng(3).normal(size=(4, 3))
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        CbRClassifier().fit(X[:1], ["a"])
    with pytest.raises(ValueError, match="inconsistent numbers of samples: \\[4, 3\\]"):
        CbRClassifier().fit(X, ["a", "b", "c"])
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        CbRClassifier().fit(bad, list("abcd"))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        CbRClassifier().fit(X, [0.5, 1.5, 2.5, 3.5])
    with pytest.raises(NotFittedError, match="not fitted yet: call fit"):
        CbRClassifier().predict(X)
    clf = CbRClassifier().fit(X, list("aabb"))
    with pytest.raises(ValueError, match="X has 5 features, but CbRClassifier is expecting 3 "
                                         "features as input. Embed them with the embedder"):
        clf.predict(np.ones((2, 5)))
    inf = np.ones((2, 3))
    inf[1, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clf.predict(inf)
    with pytest.raises(ValueError, match="'z' is not in the index"):
        clf.remove_class("z")
    with pytest.raises(ValueError, match="unknown aggregation"):
        CbRClassifier(aggregation="median").fit(X, list("aabb"))
    with pytest.raises(ValueError, match="X has 7 features.*Embed them with the embedder"):
        clf.add_examples(np.ones((1, 7)), ["c"])
    two = CbRClassifier().fit(X[:3], ["a", "b", "b"])
    with pytest.raises(ValueError, match="leave 1 index item"):
        two.remove_class("b")


def test_layer_errors_name_the_problem():
    with pytest.raises(ValueError, match="empty"):
        AggregationLayer([0, 2], num_classes=3)
    with pytest.raises(ValueError, match="unknown aggregation"):
        AggregationLayer([0, 1], aggregation="sum")
    with pytest.raises(ValueError, match="whole number k"):
        AggregationLayer([0, 1], aggregation="topk_mean", k=0)
    with pytest.raises(ValueError, match="holds 3-d embeddings"):
        RetrievalLayer(np.eye(3))(np.ones((1, 4), "float32"))
    with pytest.raises(ValueError, match="NaN or inf"):
        RetrievalLayer(np.array([[np.nan, 1.0]]))


def test_sklearn_conventions():
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    clf = CbRClassifier(aggregation="mean", k=5)
    assert clone(clf).get_params() == clf.get_params()
    assert clf.fit(np.eye(4), [0, 0, 1, 1]) is clf
    rng = np.random.default_rng(4)
    centers = rng.normal(size=(3, 8)) * 5
    y = np.repeat([0, 1, 2], 10)
    X = centers[y] + rng.normal(size=(30, 8))
    assert cross_val_score(CbRClassifier(), X, y, cv=3).mean() > 0.9
