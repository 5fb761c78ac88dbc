"""Few-shot methods behind one interface: CbR, kNN, prototypes (SimpleShot), fine-tuning.

Every method works on the *same* embeddings (computed once, cached) and has

* ``name`` — a short label for tables and plots;
* ``fit(support_embeddings, support_labels)`` → self;
* ``decision_function(query_embeddings)`` → ``(n, n_classes)`` scores, columns in
  ``classes_`` order (higher = more likely);
* ``predict(query_embeddings)`` → labels;
* ``size_bytes()`` — bytes the method stores beyond the shared embedder (the index,
  the prototypes, the trained weights);
* ``trains`` — True when ``fit`` runs gradient descent.

Methods that need the images themselves (fine-tuning the top of the embedder) set
``needs_images = True`` and also accept ``images=`` in ``fit`` / ``decision_function``
/ ``predict``; the evaluation passes the images to them.

==========================  ==================================================  =========
method                      what it does                                         training
==========================  ==================================================  =========
``CbR`` (max/mean/topk)     cosine to every example, reduce per class            none
``KNN`` (k = 1, 3, 5)       scikit-learn ``KNeighborsClassifier(metric="cosine")`` none
``Prototypes`` UN/L2N/CL2N  nearest class mean after a feature transform         none
``FineTunedHead``           softmax ``Dense`` head on frozen embeddings          backprop
``FineTunedTop``            head + the embedder's top block, with augmentation   backprop
==========================  ==================================================  =========

Example
-------
>>> import numpy as np
>>> X = np.array([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0], [0.1, 0.8]])
>>> y = np.array([0, 0, 1, 1])
>>> [m.fit(X, y).predict(np.array([[0.2, 1.0]])).tolist() for m in default_methods()[:3]]
[[1], [1], [1]]
"""

from __future__ import annotations

import math
import time
from typing import Protocol, runtime_checkable

import numpy as np

from .similarity import l2_normalize

__all__ = ["FewShotMethod", "CbR", "KNN", "Prototypes", "FineTunedHead", "FineTunedTop",
           "default_methods", "method_names"]


@runtime_checkable
class FewShotMethod(Protocol):
    """The interface every method implements (see the module docstring)."""

    name: str
    needs_images: bool

    def fit(self, support_embeddings, support_labels, **kwargs): ...

    def decision_function(self, query_embeddings, **kwargs): ...

    def predict(self, query_embeddings, **kwargs): ...

    def size_bytes(self) -> int: ...


class _Method:
    """Shared plumbing: input checks, ``predict`` from ``decision_function``."""

    needs_images = False
    trains = False  # True for methods that run gradient descent in fit
    name = "method"

    def _check(self, X, y=None):
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"{self.name}: expected embeddings (n, dim), got shape {X.shape}")
        if y is None:
            if not hasattr(self, "classes_"):
                raise RuntimeError(f"{self.name}: call fit(support_embeddings, labels) first")
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"{self.name}: queries have {X.shape[1]} features, the "
                                 f"support set had {self.n_features_in_}")
            return X
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"{self.name}: need one label per support row "
                             f"({len(X)} rows, labels of shape {y.shape})")
        if len(np.unique(y)) < 2:
            raise ValueError(f"{self.name}: the support set needs at least 2 classes")
        self.classes_, self._y_idx = np.unique(y, return_inverse=True)
        self.n_features_in_ = X.shape[1]
        return X, y

    def predict(self, query_embeddings, **kwargs):
        """The best-scoring class of each query."""
        scores = self.decision_function(query_embeddings, **kwargs)
        return self.classes_[np.argmax(scores, axis=1)]

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


# ---------------------------------------------------------------------------- CbR

class CbR(_Method):
    """Classification-by-Retrieval: the index *is* the model (``CbRClassifier``).

    ``fit`` validates and L2-normalises the index (``CbRClassifier.fit``) and writes
    it into the Keras model (retrieval + aggregation layers); nothing is trained.
    Scores are cosine similarities aggregated per class.

    Like :class:`FineTunedHead`, it keeps one compiled Keras model per episode shape
    (index size, dim, classes) and writes each new index into it, so the measured
    build time is the work itself — not Keras graph construction and tracing, a
    one-off ~0.1 s that ``build_cbr_model`` pays on a fresh model (and that shows in
    the first episode's time).

    Parameters
    ----------
    aggregation : {"max", "mean", "topk_mean"}
    k : int — instances averaged by ``"topk_mean"``.

    Example
    -------
    >>> m = CbR("max").fit(np.eye(3), [0, 1, 1])
    >>> m.predict(np.array([[0.0, 0.2, 1.0]])).tolist()
    [1]
    """

    def __init__(self, aggregation="max", k=3, name=None):
        self.aggregation = aggregation
        self.k = k
        self.name = name or {"max": "CbR max", "mean": "CbR mean",
                             "topk_mean": f"CbR top-{k} mean"}.get(aggregation,
                                                                   f"CbR {aggregation}")
        self._models = {}

    def fit(self, support_embeddings, support_labels, **_):
        from .classifier import CbRClassifier
        X, y = self._check(support_embeddings, support_labels)
        clf = CbRClassifier(aggregation=self.aggregation, k=self.k).fit(X, y)
        self.classifier_ = clf
        key = (len(X), X.shape[1], len(self.classes_))
        if key not in self._models:
            import tensorflow as tf
            model = clf.to_keras()
            self._models[key] = (model, tf.function(lambda q: model(q, training=False),
                                                    reduce_retracing=True),
                                 _index_writer(model))
        else:
            self._models[key][2](clf.index_embeddings_, self._y_idx)
        self.model_, self._predict_fn, _ = self._models[key]
        return self

    def decision_function(self, query_embeddings, **_):
        X = self._check(query_embeddings)
        return np.asarray(self._predict_fn(X), dtype=np.float32)

    def size_bytes(self):
        return int(sum(np.prod(w.shape) * np.dtype(w.dtype).itemsize
                       for w in self.model_.weights))


def _index_writer(model):
    """A function writing a new index into a CbR model of the same shape.

    It stores what ``build_cbr_model`` would: the index in the retrieval layer,
    each instance's class in the aggregation layer (skipped when the class
    layout is unchanged, as it often is from one episode to the next). Tests
    compare the result with a freshly built model.
    """
    from .model import cbr_layers
    retrieval, aggregation = cbr_layers(model)
    current = {"ids": None}

    def write(index, class_ids):
        retrieval.set_index(index)
        class_ids = np.asarray(class_ids)
        if current["ids"] is None or not np.array_equal(class_ids, current["ids"]):
            aggregation.set_class_ids(class_ids)
            current["ids"] = class_ids

    return write


# ---------------------------------------------------------------------------- kNN

class KNN(_Method):
    """k nearest neighbours, cosine distance (scikit-learn ``KNeighborsClassifier``).

    ``k`` is capped at the support size. ``weights="distance"`` (default) lets the
    nearer neighbours count more, so a vote can never tie — with ``"uniform"`` and
    k > shots, 1-shot kNN is mostly ties (try it: it is a lesson in itself).

    Example
    -------
    >>> KNN(1).fit(np.eye(2), ["a", "b"]).predict(np.array([[0.9, 0.1]])).tolist()
    ['a']
    """

    def __init__(self, k=1, weights="distance", name=None):
        self.k = k
        self.weights = weights
        self.name = name or f"kNN k={k}"

    def fit(self, support_embeddings, support_labels, **_):
        from sklearn.neighbors import KNeighborsClassifier
        X, y = self._check(support_embeddings, support_labels)
        self.knn_ = KNeighborsClassifier(n_neighbors=min(self.k, len(X)), metric="cosine",
                                         weights=self.weights, algorithm="brute")
        self.knn_.fit(X, self._y_idx)
        return self

    def decision_function(self, query_embeddings, **_):
        X = self._check(query_embeddings)
        proba = np.zeros((len(X), len(self.classes_)), np.float32)
        proba[:, self.knn_.classes_] = self.knn_.predict_proba(X)
        return proba

    def size_bytes(self):
        return int(self.knn_._fit_X.nbytes)


# --------------------------------------------------------------------- prototypes

class Prototypes(_Method):
    """Nearest class mean after a SimpleShot feature transform (Wang et al. 2019).

    ``UN``: unchanged; ``L2N``: L2-normalise; ``CL2N``: subtract a mean, then
    L2-normalise. The mean is the support set's (default) or ``base_mean`` — the
    mean of a larger *base* set, as in the paper. Distances are Euclidean; scores
    are negative distances.

    Example
    -------
    >>> X = np.array([[10.0, 1.0], [10.0, -1.0]])          # a big shared offset
    >>> Prototypes("CL2N").fit(X, [0, 1]).predict(np.array([[12.0, 0.5]])).tolist()
    [0]
    """

    TRANSFORMS = ("UN", "L2N", "CL2N")

    def __init__(self, transform="CL2N", base_mean=None, name=None):
        self.transform = transform
        self.base_mean = base_mean
        self.name = name or f"prototypes {transform}"

    def _transform(self, X):
        if self.transform == "UN":
            return X
        if self.transform == "CL2N":
            X = X - self.mean_
        return l2_normalize(X).astype(np.float32)

    def fit(self, support_embeddings, support_labels, **_):
        if self.transform not in self.TRANSFORMS:
            raise ValueError(f"unknown transform {self.transform!r}; choose {self.TRANSFORMS}")
        X, _y = self._check(support_embeddings, support_labels)
        if self.base_mean is not None:
            self.mean_ = np.asarray(self.base_mean, np.float32).reshape(-1)
            if self.mean_.shape != (X.shape[1],):
                raise ValueError(f"base_mean has shape {self.mean_.shape}, expected "
                                 f"({X.shape[1]},)")
        else:
            self.mean_ = X.mean(axis=0)
        Z = self._transform(X)
        self.prototypes_ = np.stack([Z[self._y_idx == c].mean(axis=0)
                                     for c in range(len(self.classes_))]).astype(np.float32)
        return self

    def decision_function(self, query_embeddings, **_):
        Z = self._transform(self._check(query_embeddings))
        d2 = ((Z ** 2).sum(1)[:, None] - 2 * Z @ self.prototypes_.T
              + (self.prototypes_ ** 2).sum(1)[None, :])
        return -np.sqrt(np.maximum(d2, 0)).astype(np.float32)

    def size_bytes(self):
        extra = self.mean_.nbytes if self.transform == "CL2N" else 0
        return int(self.prototypes_.nbytes + extra)


# ---------------------------------------------------------------------- fine-tuning

class _HeadTrainer:
    """A softmax head and its optimizer, compiled once and re-initialised per fit.

    Building a Keras model and tracing its training step costs ~1 s; an episode's
    training costs less. So one head per (dim, classes) is reused: ``reset`` draws
    fresh seeded weights and zeroes the optimizer state, which is exactly a new head.
    """

    def __init__(self, dim, n_classes, learning_rate, weight_decay, label_smoothing,
                 jit_compile=True):
        import keras
        import tensorflow as tf
        self.learning_rate = learning_rate
        self.dense = keras.layers.Dense(n_classes, name="head")
        self.dense.build((None, dim))
        self.optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
        self.optimizer.build(self.dense.trainable_variables)
        self.loss = keras.losses.CategoricalCrossentropy(from_logits=True,
                                                         label_smoothing=label_smoothing)
        self.train = tf.function(self._train, reduce_retracing=True,
                                 jit_compile=jit_compile)

    def reset(self, seed):
        import keras
        init = keras.initializers.GlorotUniform(seed=seed)
        self.dense.kernel.assign(init(self.dense.kernel.shape))
        self.dense.bias.assign(np.zeros(self.dense.bias.shape, np.float32))
        for v in self.optimizer.variables:
            v.assign(np.zeros(v.shape, v.dtype))
        self.optimizer.learning_rate = self.learning_rate

    def _train(self, x, y, steps):
        import tensorflow as tf
        loss = tf.constant(0.0)
        for _ in tf.range(steps):
            with tf.GradientTape() as tape:
                loss = self.loss(y, self.dense(x))
            grads = tape.gradient(loss, self.dense.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.dense.trainable_variables))
        return loss


def _fit_head(trainer, X, y_onehot, seed, max_epochs, patience, min_delta, chunk=10):
    """Full-batch training with early stopping on the training loss; returns epochs run."""
    import tensorflow as tf
    trainer.reset(seed)
    best, stale, epochs = math.inf, 0, 0
    while epochs < max_epochs:
        n = min(chunk, max_epochs - epochs)
        loss = float(trainer.train(X, y_onehot, tf.constant(n, tf.int32)))
        epochs += n
        if loss < best - min_delta:
            best, stale = loss, 0
        else:
            stale += n
            if stale >= patience:
                break
    return epochs


class FineTunedHead(_Method):
    """A softmax head (Keras ``Dense``) trained on the frozen support embeddings.

    A fair, strong baseline — logistic regression on the embeddings after
    SimpleShot's CL2N transform (centred on the support mean, L2-normalised; the
    linear-probe baseline of Tian et al. 2020 uses L2N) — not a straw man: full-batch AdamW
    (learning rate 0.01, weight decay 1e-4), label smoothing 0.1, at most
    ``max_epochs`` epochs with early stopping when the training loss stops falling
    by ``min_delta`` for ``patience`` epochs, seeded with
    ``keras.utils.set_random_seed``. The training loop is compiled with XLA
    (``jit_compile``: ~3x faster on CPU for such small steps) and reused across fits
    (one per embedding size and number of classes), so the measured training time is
    the training, not tracing.

    Example
    -------
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> FineTunedHead().fit(X, [0, 0, 1, 1]).predict(np.array([[0.2, 0.8]])).tolist()
    [1]
    """

    def __init__(self, learning_rate=1e-2, weight_decay=1e-4, label_smoothing=0.1,
                 max_epochs=300, patience=20, min_delta=1e-3, center=True, seed=0,
                 jit_compile=True, name=None):
        self.center = center
        self.jit_compile = jit_compile
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.label_smoothing = label_smoothing
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_delta = min_delta
        self.seed = seed
        self.name = name or "fine-tuned head"
        self.trains = True
        self._trainers = {}

    def _trainer(self, dim, n_classes):
        key = (dim, n_classes)
        if key not in self._trainers:
            self._trainers[key] = _HeadTrainer(dim, n_classes, self.learning_rate,
                                               self.weight_decay, self.label_smoothing,
                                               self.jit_compile)
        return self._trainers[key]

    def fit(self, support_embeddings, support_labels, **_):
        import keras
        X, _y = self._check(support_embeddings, support_labels)
        keras.utils.set_random_seed(self.seed)
        trainer = self._trainer(X.shape[1], len(self.classes_))
        onehot = np.eye(len(self.classes_), dtype=np.float32)[self._y_idx]
        self.mean_ = X.mean(axis=0) if self.center else np.zeros(X.shape[1], np.float32)
        self.epochs_ = _fit_head(trainer, self._features(X), onehot,
                                 self.seed, self.max_epochs, self.patience, self.min_delta)
        self.kernel_ = np.asarray(trainer.dense.kernel).copy()
        self.bias_ = np.asarray(trainer.dense.bias).copy()
        return self

    def _features(self, X):
        return l2_normalize(X - self.mean_).astype(np.float32)

    def decision_function(self, query_embeddings, **_):
        return self._features(self._check(query_embeddings)) @ self.kernel_ + self.bias_

    def size_bytes(self):
        return int(self.kernel_.nbytes + self.bias_.nbytes
                   + (self.mean_.nbytes if self.center else 0))


# ----------------------------------------------------------- fine-tuning the top block

def _rgb(img):
    """One image (array or path) -> float32 (H, W, 3) on 0..255."""
    if isinstance(img, (str, bytes)) or hasattr(img, "__fspath__"):
        from .images import read_image
        img = read_image(img)
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return a[..., :3].astype(np.float32)


def _resize(img, size):
    import keras
    if img.shape[:2] == tuple(size):
        return img
    return np.asarray(keras.ops.image.resize(img, size, interpolation="bilinear",
                                             antialias=True))


def augment(img, rng, size):
    """A random view: resized crop (50-100 % of the area), flip, brightness ±20 %.

    Example
    -------
    >>> augment(np.zeros((40, 30, 3)), np.random.default_rng(0), (16, 16)).shape
    (16, 16, 3)
    """
    h, w = img.shape[:2]
    area = h * w * rng.uniform(0.5, 1.0)
    ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
    ch = int(round(min(h, math.sqrt(area / ratio))))
    cw = int(round(min(w, math.sqrt(area * ratio))))
    top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    out = img[top:top + ch, left:left + cw]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = _resize(np.ascontiguousarray(out), size) * rng.uniform(0.8, 1.2)
    return np.clip(out, 0, 255).astype(np.float32)


def split_top(model, max_layers=40, min_params=100):
    """Split a functional model into a frozen trunk and its trailing single-path top.

    Walks back from the output while each layer has exactly one input, stopping at
    the first merge (a residual ``Add``): for EfficientNet-Lite0 the top is the last
    MBConv block (which has no residual) and the 1x1 head conv. A top with fewer than
    ``min_params`` weights (BatchNorm not counted) is refused: nothing to fine-tune.
    Returns ``(trunk, top_layers)``: ``trunk`` is a Keras model input → the split
    tensor; ``top_layers`` the layers after it, in order.
    """
    import keras
    layers, tensor = [], model.outputs[0]
    while len(layers) < max_layers:
        layer = tensor._keras_history.operation
        inputs = layer.input if not isinstance(layer, keras.layers.InputLayer) else None
        if inputs is None or isinstance(inputs, (list, tuple)):
            break
        layers.append(layer)
        tensor = inputs
    learnable = sum(int(np.prod(w.shape)) for layer in layers if not isinstance(
        layer, keras.layers.BatchNormalization) for w in layer.weights)
    if learnable < min_params:
        raise ValueError(f"this embedder has no trainable top to fine-tune (its top has "
                         f"{learnable} weights; raw pixels have none to learn)")
    trunk = keras.Model(model.inputs, tensor, name="frozen_trunk")
    return trunk, layers[::-1]


def _find_backbone(embedder):
    import keras
    backbone = getattr(embedder, "backbone", None)
    if isinstance(backbone, keras.Model):
        return backbone
    layer = embedder.as_layer()
    inner = [x for x in layer.layers if isinstance(x, keras.Model)]
    return inner[-1] if inner else layer


class FineTunedTop(_Method):
    """Fine-tune the embedder's top block(s) and a softmax head, with augmentation.

    1. train a :class:`FineTunedHead` on the support embeddings (its warm start);
    2. split the embedder's network with :func:`split_top` (EfficientNet-Lite0: the
       last MBConv block + head conv unfrozen, BatchNorm kept in inference mode);
    3. run ``views`` augmented views of every support image (plus the original)
       through the frozen trunk **once**, then train top + head on them with AdamW
       (learning rate 1e-4 for the block, full batch, early stopping).

    Cost, honestly: every support and query image goes through the full network
    (the trunk outputs are kept in memory per image), about 1/10 s per image on a
    2-core laptop, plus the training — tens of seconds per 5-way 5-shot episode, three
    orders of magnitude above CbR. Use a few episodes (``--finetune-top``).
    ``size_bytes`` counts the fine-tuned top and head (they must ship with the model).
    """

    needs_images = True

    def __init__(self, embedder, views=4, learning_rate=1e-4, head_learning_rate=1e-3,
                 max_epochs=40, patience=5, min_delta=1e-3, seed=0, name=None):
        self.embedder = embedder
        self.views = views
        self.learning_rate = learning_rate
        self.head_learning_rate = head_learning_rate
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_delta = min_delta
        self.seed = seed
        self.name = name or "fine-tuned top+head"
        self.trains = True
        self._features = {}
        self._head = FineTunedHead(seed=seed)

    def setup(self):
        """Load the embedder and split off its top (raises ValueError if it has none)."""
        if getattr(self, "_trunk", None) is None:
            from .embedders import load_embedder
            self.embedder_ = load_embedder(self.embedder)
            self._size = tuple(int(s) for s in self.embedder_.input_size)
            backbone = _find_backbone(self.embedder_)
            self._trunk, self._top_layers = split_top(backbone)
            import tensorflow as tf
            trunk = self._trunk
            self._trunk_fn = tf.function(lambda x: trunk(x, training=False),
                                         reduce_retracing=True)

    def _trunk_features(self, images, batch_size=16):
        """Trunk outputs for un-augmented images, remembered by content."""
        from .cache import content_hash
        arrays = [_rgb(im) for im in images]
        keys = [content_hash(a) for a in arrays]
        todo = [i for i, k in enumerate(keys) if k not in self._features]
        for s in range(0, len(todo), batch_size):
            chunk = todo[s:s + batch_size]
            batch = np.stack([_resize(arrays[i], self._size) for i in chunk])
            for i, f in zip(chunk, np.asarray(self._trunk_fn(batch))):
                self._features[keys[i]] = f
        return np.stack([self._features[k] for k in keys]), arrays

    def _build_top(self, n_classes, kernel, bias):
        import keras
        inputs = keras.Input(self._trunk.outputs[0].shape[1:])
        x = inputs
        for layer in self._top_layers:
            clone = type(layer).from_config(layer.get_config())
            x = clone(x)
            clone.set_weights(layer.get_weights())
            # the embedder itself stays frozen; its copy learns, except BatchNorm,
            # which keeps its ImageNet statistics (inference mode on 25 images)
            clone.trainable = not isinstance(clone, keras.layers.BatchNormalization)
        x = keras.layers.Normalization(mean=self._head.mean_, variance=np.ones_like(
            self._head.mean_), name="centre")(x)
        x = keras.layers.UnitNormalization(name="l2n")(x)
        head = keras.layers.Dense(n_classes, name="head")
        out = head(x)
        head.set_weights([kernel, bias])
        return keras.Model(inputs, out, name="fine_tuned_top")

    def fit(self, support_embeddings, support_labels, images=None, **_):
        import keras
        import tensorflow as tf
        if images is None:
            raise ValueError(f"{self.name} needs the support images: fit(X, y, images=...)")
        X, _y = self._check(support_embeddings, support_labels)
        self.setup()
        self._head.fit(X, self._y_idx)
        keras.utils.set_random_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        base, arrays = self._trunk_features(images)
        views = [augment(a, rng, self._size) for a in arrays for _ in range(self.views)]
        feats = [base]
        for s in range(0, len(views), 16):
            feats.append(np.asarray(self._trunk_fn(np.stack(views[s:s + 16]))))
        feats = np.concatenate(feats)
        y = np.concatenate([self._y_idx, np.repeat(self._y_idx, self.views)])
        onehot = np.eye(len(self.classes_), dtype=np.float32)[y]
        self.model_ = self._build_top(len(self.classes_), self._head.kernel_, self._head.bias_)
        head = self.model_.get_layer("head")
        body = [v for v in self.model_.trainable_variables
                if not any(v is w for w in head.trainable_variables)]
        opt_body = keras.optimizers.AdamW(self.learning_rate, weight_decay=1e-4)
        opt_head = keras.optimizers.AdamW(self.head_learning_rate, weight_decay=1e-4)
        opt_body.build(body)
        opt_head.build(head.trainable_variables)
        loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
        model = self.model_

        @tf.function
        def step(x, t):
            with tf.GradientTape() as tape:
                loss = loss_fn(t, model(x, training=True))
            grads = tape.gradient(loss, body + head.trainable_variables)
            opt_body.apply_gradients(zip(grads[:len(body)], body))
            opt_head.apply_gradients(zip(grads[len(body):], head.trainable_variables))
            return loss

        best, stale = math.inf, 0
        for self.epochs_ in range(1, self.max_epochs + 1):
            loss = float(step(feats, onehot))
            if loss < best - self.min_delta:
                best, stale = loss, 0
            else:
                stale += 1
                if stale >= self.patience:
                    break
        return self

    def prepare(self, images):
        """Run the frozen trunk on (query) images ahead of timing, as embeddings are."""
        self.setup()
        self._trunk_features(images)

    def decision_function(self, query_embeddings, images=None, **_):
        import keras
        self._check(query_embeddings)
        if images is None:
            raise ValueError(f"{self.name} needs the query images: "
                             "decision_function(X, images=...)")
        feats, _ = self._trunk_features(images)
        return keras.ops.convert_to_numpy(self.model_(feats, training=False))

    def size_bytes(self):
        return int(sum(np.prod(w.shape) * np.dtype(w.dtype).itemsize
                       for w in self.model_.weights))


# ---------------------------------------------------------------------------- sets

def default_methods(finetune=True, finetune_top=False, embedder=None, base_mean=None):
    """The comparison's line-up: CbR ×3, kNN ×3, prototypes ×3, fine-tuned head(s).

    Example
    -------
    >>> [m.name for m in default_methods(finetune=False)][:4]
    ['CbR max', 'CbR mean', 'CbR top-3 mean', 'kNN k=1']
    """
    methods = [CbR("max"), CbR("mean"), CbR("topk_mean", k=3),
               KNN(1), KNN(3), KNN(5),
               Prototypes("UN"), Prototypes("L2N"), Prototypes("CL2N", base_mean=base_mean)]
    if finetune:
        methods.append(FineTunedHead())
    if finetune_top:
        if embedder is None:
            raise ValueError("finetune_top needs the embedder (spec or object)")
        methods.append(FineTunedTop(embedder))
    return methods


def method_names(methods):
    """Names of ``methods``, checking they are unique.

    >>> method_names([KNN(1), KNN(3)])
    ['kNN k=1', 'kNN k=3']
    """
    names = [m.name for m in methods]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"method names must be unique; repeated: {dupes} (pass name=...)")
    return names


def timed(fn, *args, **kwargs):
    """``(result, seconds)`` of one call, with ``time.perf_counter``.

    >>> timed(sum, [1, 2])[0]
    3
    """
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start
