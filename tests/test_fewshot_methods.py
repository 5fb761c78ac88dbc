"""Few-shot methods on tiny synthetic data: real behaviour, not just shapes."""

import keras
import numpy as np
import pytest

from cbr_edu.fewshot import (KNN, CbR, FewShotMethod, FineTunedTop, LinearProbe, Prototypes,
                             augment, default_methods, method_names, split_top)
from cbr_edu.embedders.base import Embedder


def clusters(n_classes=4, per_class=8, dim=16, spread=0.05, seed=0, labels=None):
    """Well-separated clusters around random unit centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    y = np.repeat(np.arange(n_classes), per_class)
    X = centres[y] + spread * rng.normal(size=(len(y), dim))
    if labels is not None:
        y = np.asarray(labels)[y]
    return X.astype(np.float32), y


def split(X, y, shots):
    sup = np.concatenate([np.flatnonzero(y == c)[:shots] for c in np.unique(y)])
    qry = np.setdiff1d(np.arange(len(y)), sup)
    return X[sup], y[sup], X[qry], y[qry]


@pytest.fixture(scope="module")
def methods():
    return default_methods(linear_probe=True)


def test_every_method_implements_the_interface(methods):
    assert method_names(methods) == [
        "CbR max", "CbR mean", "CbR top-3 mean", "kNN k=1", "kNN k=3", "kNN k=5",
        "prototypes UN", "prototypes L2N", "prototypes CL2N", "linear probe"]
    for m in methods:
        assert isinstance(m, FewShotMethod)
    assert [m.trains for m in methods].count(True) == 1


@pytest.mark.parametrize("shots", [1, 3])
def test_separated_clusters_are_classified_perfectly(methods, shots):
    names = ["sun", "moon", "rain", "snow"]
    Xs, ys, Xq, yq = split(*clusters(labels=names), shots)
    for m in methods:
        m.fit(Xs, ys)
        scores = m.decision_function(Xq)
        assert scores.shape == (len(Xq), 4), m.name
        assert list(m.classes_) == sorted(names), m.name
        assert (m.predict(Xq) == yq).all(), m.name
        # the scores rank the true class first, in classes_ order
        assert (m.classes_[scores.argmax(1)] == yq).all(), m.name
        assert m.size_bytes() > 0, m.name


def test_sizes_are_what_each_method_stores(methods):
    Xs, ys, _, _ = split(*clusters(dim=16), shots=3)
    sizes = {m.name: m.fit(Xs, ys).size_bytes() for m in methods}
    assert sizes["kNN k=1"] == 12 * 16 * 4                     # the support set
    assert sizes["CbR max"] == 12 * 16 * 4 + 12 * 4            # the index + class ids
    assert sizes["prototypes L2N"] == 4 * 16 * 4               # one mean per class
    assert sizes["prototypes CL2N"] == 4 * 16 * 4 + 16 * 4     # + the centring mean
    assert sizes["linear probe"] == (16 * 4 + 4 + 16) * 4      # kernel, bias, mean


def test_cl2n_centring_fixes_what_un_and_l2n_get_wrong():
    """A big shared offset and unequal support norms: only centring + L2 recovers the
    directions (SimpleShot's point). Built so UN and L2N fail for a known reason."""
    rng = np.random.default_rng(0)
    dim = 6
    base = np.zeros(dim)
    base[0] = 30.0                                  # every embedding shares this
    angles = np.deg2rad([0, 40, 80])
    dirs = np.zeros((3, dim))
    dirs[:, 1], dirs[:, 2] = np.cos(angles), np.sin(angles)
    ys = np.array([0, 1, 2])
    Xs = base + np.array([0.5, 8.0, 0.5])[:, None] * dirs  # class 1's example is far out
    yq = np.repeat(np.arange(3), 10)
    Xq = base + rng.uniform(4, 10, (30, 1)) * dirs[yq] + 0.05 * rng.normal(size=(30, dim))

    acc = {t: (Prototypes(t, base_mean=base).fit(Xs, ys).predict(Xq) == yq).mean()
           for t in ("UN", "L2N", "CL2N")}
    assert acc["CL2N"] == 1.0
    assert acc["UN"] < 0.7 and acc["L2N"] < 0.7
    # UN and L2N ignore base_mean; the default CL2N mean is the support mean
    m = Prototypes("CL2N").fit(Xs, ys)
    np.testing.assert_allclose(m.mean_, Xs.mean(0), rtol=1e-6)
    with pytest.raises(ValueError, match="base_mean has shape"):
        Prototypes("CL2N", base_mean=np.zeros(3)).fit(Xs, ys)


def test_knn_k_is_capped_and_scores_align_with_classes():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    m = KNN(5).fit(X, ["b", "a"])
    assert m.knn_.n_neighbors == 2
    assert m.classes_.tolist() == ["a", "b"]
    np.testing.assert_allclose(m.decision_function(np.array([[0.0, 1.0]])).sum(1), 1.0)
    assert m.predict(np.array([[0.1, 1.0]])).tolist() == ["a"]


def test_knn_uniform_weights_tie_at_one_shot():
    """k > shots with uniform votes is a tie: the lesson why the default is 'distance'."""
    Xs, ys, Xq, yq = split(*clusters(n_classes=5), shots=1)
    uniform = KNN(5, weights="uniform", name="u").fit(Xs, ys).predict(Xq)
    distance = KNN(5).fit(Xs, ys).predict(Xq)
    assert (distance == yq).all()
    assert (uniform == ys.min()).all()            # every vote ties; lowest class wins


def test_cbr_aggregations_differ_where_they_should():
    # class 0: one example near the query, one far; class 1: two moderately near
    Xs = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.8, 0.6, 0.0], [0.8, 0.6, 0.0]])
    ys = np.array([0, 0, 1, 1])
    q = np.array([[1.0, 0.05, 0.0]])
    assert CbR("max").fit(Xs, ys).predict(q).tolist() == [0]
    assert CbR("mean").fit(Xs, ys).predict(q).tolist() == [1]
    assert CbR("topk_mean", k=2).fit(Xs, ys).predict(q).tolist() == [1]
    assert CbR("topk_mean", k=2).name == "CbR top-2 mean"


def test_methods_reject_bad_input():
    with pytest.raises(RuntimeError, match="fit"):
        KNN(1).predict(np.eye(2))
    with pytest.raises(ValueError, match="at least 2 classes"):
        Prototypes().fit(np.eye(2), [0, 0])
    with pytest.raises(ValueError, match="features"):
        CbR().fit(np.eye(2), [0, 1]).predict(np.eye(3))
    with pytest.raises(ValueError, match="one label per support row"):
        LinearProbe().fit(np.eye(3), [0, 1])
    with pytest.raises(ValueError, match="unique"):
        method_names([KNN(1), KNN(1)])


def test_linear_probe_is_deterministic_and_reuse_equals_fresh():
    Xa, ya, Xqa, _ = split(*clusters(seed=1), shots=2)
    Xb, yb, _, _ = split(*clusters(seed=2, n_classes=4), shots=3)
    reused = LinearProbe(max_epochs=60)
    first = reused.fit(Xa, ya).decision_function(Xqa)
    reused.fit(Xb, yb)                              # another task in between
    again = reused.fit(Xa, ya).decision_function(Xqa)
    fresh = LinearProbe(max_epochs=60).fit(Xa, ya).decision_function(Xqa)
    np.testing.assert_allclose(first, again, atol=1e-6)
    np.testing.assert_allclose(first, fresh, atol=1e-6)
    other_seed = LinearProbe(max_epochs=60, seed=1).fit(Xa, ya).decision_function(Xqa)
    assert not np.allclose(first, other_seed)


def test_linear_probe_learns_what_nearest_mean_cannot():
    """Noise along (u + v) is correlated with the class axis u: nearest-mean rules
    are fooled, a trained linear head learns the direction that cancels the noise."""
    rng = np.random.default_rng(0)
    n, dim = 40, 64
    u, v, w = np.linalg.qr(rng.normal(size=(dim, 3)))[0].T
    y = np.repeat([0, 1], n)
    g = rng.normal(size=(2 * n, 1))
    X = (np.where(y == 0, -1.0, 1.0)[:, None] * u + 6 * g * (u + v) + 5 * w
         + 0.05 * rng.normal(size=(2 * n, dim)))
    sup = np.r_[0:10, n:n + 10]
    qry = np.setdiff1d(np.arange(2 * n), sup)
    head = LinearProbe().fit(X[sup], y[sup])
    acc_head = (head.predict(X[qry]) == y[qry]).mean()
    for proto in (Prototypes("L2N"), Prototypes("CL2N")):
        acc_proto = (proto.fit(X[sup], y[sup]).predict(X[qry]) == y[qry]).mean()
        assert acc_proto < 0.7, proto.name
    assert acc_head >= 0.95
    assert 10 <= head.epochs_ <= head.max_epochs


def test_linear_probe_stops_early_when_the_loss_stops_falling():
    Xs, ys, _, _ = split(*clusters(), shots=2)
    head = LinearProbe(max_epochs=5000, patience=20).fit(Xs, ys)
    assert head.epochs_ < 5000


# ------------------------------------------------------------- fine-tuning the top

class TinyEmbedder(Embedder):
    """16x16 images -> 32-d; a residual block, then a single-path top."""

    def __init__(self):
        L = keras.layers
        keras.utils.set_random_seed(3)
        inp = keras.Input((16, 16, 3))
        x = L.Rescaling(1 / 255.0)(inp)
        x = L.Conv2D(4, 3, padding="same", activation="relu")(x)
        y = L.Conv2D(4, 3, padding="same")(x)
        x = L.Add(name="merge")([x, y])
        x = L.Conv2D(32, 3, padding="same", name="top_conv")(x)
        x = L.BatchNormalization(name="top_bn")(x)
        x = L.ReLU(name="top_relu")(x)
        x = L.GlobalAveragePooling2D(name="pool")(x)
        self.backbone = keras.Model(inp, x)
        self.spec = self.id = "tiny"
        self.input_size = (16, 16)
        self._dim = 32

    def _build_layer(self):
        return self.backbone


def test_split_top_stops_at_the_residual_merge():
    emb = TinyEmbedder()
    trunk, top = split_top(emb.backbone)
    assert [layer.name for layer in top] == ["top_conv", "top_bn", "top_relu", "pool"]
    assert trunk.output.shape[1:] == (16, 16, 4)


def test_finetuned_top_trains_a_copy_and_leaves_the_embedder_alone():
    rng = np.random.default_rng(0)
    colours = np.array([[220, 40, 40], [40, 40, 220]], np.float32)
    y = np.repeat([0, 1], 6)
    images = [np.clip(colours[c] + 30 * rng.normal(size=(20, 20, 3)), 0, 255).astype(np.uint8)
              for c in y]
    emb = TinyEmbedder()
    before = [w.copy() for w in emb.backbone.get_weights()]
    X = emb.embed(images)
    sup, qry = np.r_[0:3, 6:9], np.r_[3:6, 9:12]
    method = FineTunedTop(emb, views=2, max_epochs=8)
    assert method.needs_images and method.trains
    with pytest.raises(ValueError, match="needs the support images"):
        method.fit(X[sup], y[sup])
    method.fit(X[sup], y[sup], images=[images[i] for i in sup])
    scores = method.decision_function(X[qry], images=[images[i] for i in qry])
    assert scores.shape == (6, 2) and np.isfinite(scores).all()
    # the embedder is shared by every method: it must not change
    for a, b in zip(before, emb.backbone.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the copy of the top did change (it was trained), the frozen BN did not
    original = emb.backbone.get_layer("top_conv").get_weights()[0]
    assert not np.allclose(method.model_.get_layer("top_conv").get_weights()[0], original)
    np.testing.assert_array_equal(method.model_.get_layer("top_bn").get_weights()[2],
                                  emb.backbone.get_layer("top_bn").get_weights()[2])
    # same seed, same numbers
    again = FineTunedTop(emb, views=2, max_epochs=8).fit(
        X[sup], y[sup], images=[images[i] for i in sup])
    np.testing.assert_allclose(
        again.decision_function(X[qry], images=[images[i] for i in qry]), scores, atol=1e-5)
    assert method.size_bytes() > 0


def test_split_top_refuses_an_embedder_without_trainable_top():
    from cbr_edu.embedders import load_embedder
    with pytest.raises(ValueError, match="no trainable top"):
        split_top(load_embedder("pixels:8").as_layer())


def test_augment_is_seeded_and_keeps_the_range():
    img = np.random.default_rng(0).integers(0, 256, (30, 40, 3)).astype(np.float32)
    a = augment(img, np.random.default_rng(5), (24, 24))
    b = augment(img, np.random.default_rng(5), (24, 24))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (24, 24, 3) and a.min() >= 0 and a.max() <= 255
    assert not np.allclose(a, augment(img, np.random.default_rng(6), (24, 24)))


@pytest.mark.parametrize("aggregation", ["max", "mean", "topk_mean"])
def test_cbr_refits_one_classifier_and_scores_like_a_fresh_one(aggregation):
    """The adapter keeps one CbRClassifier and re-fits it per episode."""
    from cbr_edu.classifier import CbRClassifier
    Xa, ya, _, _ = split(*clusters(seed=1, dim=8), shots=2)
    Xb, yb, Xq, _ = split(*clusters(seed=2, dim=8, labels=[7, 3, 5, 9]), shots=2)
    m = CbR(aggregation, k=2)
    m.fit(Xa, ya)
    classifier = m.classifier_
    for labels in (yb, np.array([3, 3, 3, 5, 7, 7, 9, 9])):   # same shape, new class layout
        m.fit(Xb, labels)
        assert m.classifier_ is classifier
        fresh = CbRClassifier(aggregation=aggregation, k=2).fit(Xb, labels)
        np.testing.assert_allclose(m.decision_function(Xq), fresh.class_scores(Xq),
                                   atol=1e-6)
        assert m.classes_.tolist() == fresh.classes_.tolist() == [3, 5, 7, 9]
    assert m.size_bytes() == 8 * 8 * 4 + 8 * 4            # the index + a class id per row


def test_fine_tuning_a_savedmodel_embedder_says_which_embedder_to_use(tmp_path):
    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    keras.Model(inputs, outputs).export(str(tmp_path / "saved"), verbose=False)
    with pytest.raises(ValueError, match="SavedModel .*efficientnet_lite0"):
        FineTunedTop(str(tmp_path / "saved")).setup()
