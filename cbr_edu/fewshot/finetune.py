"""The methods that train: a linear probe on frozen embeddings, and a top-block fine-tune.

:class:`LinearProbe` trains a softmax ``Dense`` layer on the support embeddings;
:class:`FineTunedTop` also fine-tunes a copy of the embedder's top block
(:func:`split_top`) on augmented views (:func:`augment`) of the support images.
Both are fair baselines, not straw men: AdamW, label smoothing, early stopping,
seeded, and their compiled training steps are reused so that the measured time is
the training, not Keras tracing.

Example
-------
>>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> LinearProbe().fit(X, [0, 0, 1, 1]).predict(np.array([[0.2, 0.8]])).tolist()
[1]
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..images import as_image_list, prepare_images, read_image, resize, to_rgb
from ..similarity import l2_normalize
from .interface import BaseMethod

__all__ = ["LinearProbe", "FineTunedTop", "augment", "split_top"]


def _train_until_stable(run_epochs, *, max_epochs, patience, min_delta, chunk=1):
    """Call ``run_epochs(n) -> loss`` until the loss stops falling; returns epochs run.

    Early stopping on the training loss: stop once it has not fallen by
    ``min_delta`` for ``patience`` epochs, or after ``max_epochs``.
    """
    best, stale, epochs = math.inf, 0, 0
    while epochs < max_epochs:
        n = min(chunk, max_epochs - epochs)
        loss = float(run_epochs(n))
        epochs += n
        if loss < best - min_delta:
            best, stale = loss, 0
        else:
            stale += n
            if stale >= patience:
                break
    return epochs


class _HeadTrainer:
    """A softmax head and its optimizer, compiled once and re-initialised per fit.

    Building a Keras model and tracing its training step costs ~1 s; an episode's
    training costs less. So one head per (dim, classes) is reused: ``reset`` draws
    fresh seeded weights and zeroes the optimizer state, which is exactly a new head.
    """

    def __init__(self, dim, n_classes, *, learning_rate, weight_decay, label_smoothing,
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


class LinearProbe(BaseMethod):
    """A linear probe: a softmax layer (Keras ``Dense``) trained on frozen support embeddings.

    Logistic regression on the embeddings after SimpleShot's CL2N transform
    (centred on the support mean, L2-normalised; the linear probe of Tian et al.
    2020 uses L2N): full-batch AdamW (learning rate 0.01, weight decay 1e-4), label
    smoothing 0.1, at most ``max_epochs`` epochs with early stopping when the
    training loss stops falling by ``min_delta`` for ``patience`` epochs, seeded with
    ``keras.utils.set_random_seed``. The training loop is compiled with XLA
    (``jit_compile``: ~3x faster on CPU for such small steps) and reused across fits
    (one per embedding size and number of classes), so the measured training time is
    the training, not tracing.

    Example
    -------
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> probe = LinearProbe().fit(X, ["a", "a", "b", "b"])
    >>> probe.predict(np.array([[0.2, 0.8]])).tolist(), probe.kernel_.shape
    (['b'], (2, 2))
    """

    trains = True

    def __init__(self, *, learning_rate=1e-2, weight_decay=1e-4, label_smoothing=0.1,
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
        self.name = name or "linear probe"
        self._trainers = {}

    def _trainer(self, dim, n_classes):
        key = (dim, n_classes)
        if key not in self._trainers:
            self._trainers[key] = _HeadTrainer(
                dim, n_classes, learning_rate=self.learning_rate,
                weight_decay=self.weight_decay, label_smoothing=self.label_smoothing,
                jit_compile=self.jit_compile)
        return self._trainers[key]

    def fit(self, support_embeddings, support_labels, **_):
        import keras
        import tensorflow as tf
        X, _y = self._check(support_embeddings, support_labels)
        keras.utils.set_random_seed(self.seed)
        trainer = self._trainer(X.shape[1], len(self.classes_))
        onehot = np.eye(len(self.classes_), dtype=np.float32)[self._y_idx]
        self.mean_ = X.mean(axis=0) if self.center else np.zeros(X.shape[1], np.float32)
        features = self._features(X)
        trainer.reset(self.seed)
        self.epochs_ = _train_until_stable(
            lambda n: trainer.train(features, onehot, tf.constant(n, tf.int32)),
            max_epochs=self.max_epochs, patience=self.patience, min_delta=self.min_delta,
            chunk=10)
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

def _decode(images):
    """Images (paths, PIL images, arrays) -> full-size RGB uint8 arrays, the crop source."""
    return [read_image(im) if isinstance(im, (str, os.PathLike)) else to_rgb(im)
            for im in as_image_list(images)]


def augment(image, rng, size):
    """A random view: resized crop (50-100 % of the area), flip, brightness ±20 %.

    ``image`` is any array :func:`cbr_edu.images.to_rgb` accepts; the crop is
    resized with :func:`cbr_edu.images.resize`. Returns float32 ``(*size, 3)`` on 0..255.

    Example
    -------
    >>> augment(np.zeros((40, 30, 3)), np.random.default_rng(0), (16, 16)).shape
    (16, 16, 3)
    """
    image = to_rgb(image)
    h, w = image.shape[:2]
    area = h * w * rng.uniform(0.5, 1.0)
    ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
    ch = int(round(min(h, math.sqrt(area / ratio))))
    cw = int(round(min(w, math.sqrt(area * ratio))))
    top, left = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    out = image[top:top + ch, left:left + cw]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = resize(np.ascontiguousarray(out), size) * rng.uniform(0.8, 1.2)
    return np.clip(out, 0, 255).astype(np.float32)


def split_top(model, *, max_layers=40, min_params=100):
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

    from ..model import layers_of
    backbone = getattr(embedder, "backbone", None)
    if isinstance(backbone, keras.Model):
        return backbone
    layer = embedder.as_layer()
    if any(isinstance(x, keras.layers.TFSMLayer) for x in layers_of(layer)):
        raise ValueError(f"{embedder.spec or embedder.id!r} is a SavedModel (TF Hub): its "
                         "layers are not Keras layers and cannot be fine-tuned here; fine-tune "
                         "a Keras embedder such as 'efficientnet_lite0'")
    inner = [x for x in layer.layers if isinstance(x, keras.Model)]
    return inner[-1] if inner else layer


class FineTunedTop(BaseMethod):
    """Fine-tune the embedder's top block(s) and a softmax head, with augmentation.

    1. train a :class:`LinearProbe` on the support embeddings (the head's warm start);
    2. split the embedder's network with :func:`split_top` (EfficientNet-Lite0: the
       last MBConv block + head conv unfrozen, BatchNorm kept in inference mode);
    3. run ``views`` augmented views of every support image (plus the original)
       through the frozen trunk **once**, then train top + head on them with AdamW
       (learning rate 1e-4 for the block, full batch, early stopping).

    Images go to the network through the one pixel policy
    (:func:`cbr_edu.images.prepare_images`).
    Cost, honestly: every support and query image goes through the full network
    (the trunk outputs are kept in memory per image), about 1/10 s per image on a
    2-core laptop, plus the training — tens of seconds per 5-way 5-shot episode, three
    orders of magnitude above CbR. Use a few episodes (``--finetune-top``).
    ``size_bytes`` counts the fine-tuned top and head (they must ship with the model).
    """

    needs_images = True
    trains = True

    def __init__(self, embedder, *, views=4, learning_rate=1e-4, head_learning_rate=1e-3,
                 max_epochs=40, patience=5, min_delta=1e-3, seed=0, name=None):
        self.embedder = embedder
        self.views = views
        self.learning_rate = learning_rate
        self.head_learning_rate = head_learning_rate
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_delta = min_delta
        self.seed = seed
        self.name = name or "fine-tuned top"
        self._features = {}
        self._probe = LinearProbe(seed=seed)
        self._trunk = None

    def setup(self):
        """Load the embedder and split off its top (raises ValueError if it has none)."""
        if self._trunk is None:
            import tensorflow as tf
            from ..embedders import load_embedder
            self.embedder_ = load_embedder(self.embedder)
            self._size = tuple(int(s) for s in self.embedder_.input_size)
            self._trunk, self._top_layers = split_top(_find_backbone(self.embedder_))
            trunk = self._trunk
            self._trunk_fn = tf.function(lambda x: trunk(x, training=False),
                                         reduce_retracing=True)

    def _run_trunk(self, images, batch_size=16):
        """Trunk outputs of images already at the model's size, in batches."""
        return np.concatenate([
            np.asarray(self._trunk_fn(np.asarray(images[s:s + batch_size], np.float32)))
            for s in range(0, len(images), batch_size)])

    def _trunk_features(self, images):
        """Trunk outputs for un-augmented images, remembered by content; and the images."""
        from ..cache import content_hash
        arrays = _decode(images)
        keys = [content_hash(a) for a in arrays]
        todo = list({k: i for i, k in enumerate(keys) if k not in self._features}.values())
        if todo:
            batch = prepare_images([arrays[i] for i in todo], self._size)
            for i, f in zip(todo, self._run_trunk(batch)):
                self._features[keys[i]] = f
        return np.stack([self._features[k] for k in keys]), arrays

    def _build_top(self, n_classes):
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
        mean = self._probe.mean_
        x = keras.layers.Normalization(mean=mean, variance=np.ones_like(mean),
                                       name="centre")(x)
        x = keras.layers.UnitNormalization(name="l2n")(x)
        head = keras.layers.Dense(n_classes, name="head")
        out = head(x)
        head.set_weights([self._probe.kernel_, self._probe.bias_])
        return keras.Model(inputs, out, name="fine_tuned_top")

    def _training_set(self, images):
        """Trunk outputs of the support images and their augmented views; one-hot targets."""
        rng = np.random.default_rng(self.seed)
        base, arrays = self._trunk_features(images)
        views = [augment(a, rng, self._size) for a in arrays for _ in range(self.views)]
        features = np.concatenate([base, self._run_trunk(views)]) if views else base
        y = np.concatenate([self._y_idx, np.repeat(self._y_idx, self.views)])
        return features, np.eye(len(self.classes_), dtype=np.float32)[y]

    def _train(self, features, onehot):
        """Train the top block and the head with their own AdamW; returns epochs run."""
        import keras
        import tensorflow as tf
        model, head = self.model_, self.model_.get_layer("head")
        body = [v for v in model.trainable_variables
                if not any(v is w for w in head.trainable_variables)]
        opt_body = keras.optimizers.AdamW(self.learning_rate, weight_decay=1e-4)
        opt_head = keras.optimizers.AdamW(self.head_learning_rate, weight_decay=1e-4)
        opt_body.build(body)
        opt_head.build(head.trainable_variables)
        loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)

        @tf.function
        def step(x, t):
            with tf.GradientTape() as tape:
                loss = loss_fn(t, model(x, training=True))
            grads = tape.gradient(loss, body + head.trainable_variables)
            opt_body.apply_gradients(zip(grads[:len(body)], body))
            opt_head.apply_gradients(zip(grads[len(body):], head.trainable_variables))
            return loss

        return _train_until_stable(lambda _n: step(features, onehot),
                                   max_epochs=self.max_epochs, patience=self.patience,
                                   min_delta=self.min_delta)

    def fit(self, support_embeddings, support_labels, *, images=None, **_):
        import keras
        if images is None:
            raise ValueError(f"{self.name} needs the support images: fit(X, y, images=...)")
        X, _y = self._check(support_embeddings, support_labels)
        self.setup()
        self._probe.fit(X, self._y_idx)
        keras.utils.set_random_seed(self.seed)
        features, onehot = self._training_set(images)
        self.model_ = self._build_top(len(self.classes_))
        self.epochs_ = self._train(features, onehot)
        return self

    def prepare(self, images):
        """Run the frozen trunk on (query) images ahead of timing, as embeddings are."""
        self.setup()
        self._trunk_features(images)

    def decision_function(self, query_embeddings, *, images=None, **_):
        import keras
        self._check(query_embeddings)
        if images is None:
            raise ValueError(f"{self.name} needs the query images: "
                             "decision_function(X, images=...)")
        features, _ = self._trunk_features(images)
        return keras.ops.convert_to_numpy(self.model_(features, training=False))

    def size_bytes(self):
        return int(sum(np.prod(w.shape) * np.dtype(w.dtype).itemsize
                       for w in self.model_.weights))
