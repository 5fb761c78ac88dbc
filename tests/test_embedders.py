"""Embedder specs other than EfficientNet-Lite0: pixels, SavedModel (local + hub handles),
keras.applications, .keras and .tflite files, the registry and image handling."""

import time

import numpy as np
import pytest

import cbr_edu
from cbr_edu import _network
from cbr_edu.embedders import Embedder, OfflineError, load_embedder

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CBR_EDU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))


def _images(n=3, size=(20, 30), seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *size, 3), dtype=np.uint8)


def _litert_run(tflite_bytes, x):
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=tflite_bytes)
    it.resize_tensor_input(it.get_input_details()[0]["index"], list(x.shape))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def _builtin_ops_only():
    return [tf.lite.OpsSet.TFLITE_BUILTINS]


# ------------------------------------------------------------------------ registry

def test_unknown_spec_lists_accepted_forms():
    with pytest.raises(ValueError) as err:
        load_embedder("resnet-9000")
    msg = str(err.value)
    for form in ("efficientnet_lite0", "pixels", "keras:", "tfhub.dev", ".keras", ".tflite"):
        assert form in msg


def test_missing_path_says_so(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_embedder(str(tmp_path / "nope" / "model_dir"))
    with pytest.raises(FileNotFoundError):
        load_embedder(str(tmp_path / "nope.keras"))


def test_top_level_export_and_passthrough():
    emb = cbr_edu.load_embedder("pixels:4")
    assert isinstance(emb, Embedder) and load_embedder(emb) is emb


# -------------------------------------------------------------------------- pixels

def test_pixels_gray_values_and_dim():
    emb = load_embedder("pixels:4")
    assert (emb.dim, emb.input_size, emb.spec) == (16, (4, 4), "pixels:4")
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 0] = 255  # pure red -> luma 0.2989
    out = emb.embed([img, np.full((8, 8), 255, np.uint8)])
    assert out.dtype == np.float32 and out.shape == (2, 16)
    np.testing.assert_allclose(out[0], 0.2989, atol=1e-5)
    np.testing.assert_allclose(out[1], 0.2989 + 0.587 + 0.114, atol=1e-4)


def test_pixels_default_and_rgb_spec():
    assert load_embedder("pixels").dim == 32 * 32
    emb = load_embedder("pixels:4:rgb")
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 2] = 51
    out = emb.embed(img[None])
    assert out.shape == (1, 48)
    np.testing.assert_allclose(out[0].reshape(4, 4, 3), img / 255.0, atol=1e-6)
    assert emb.id != load_embedder("pixels:4").id
    with pytest.raises(ValueError, match="pixels"):
        load_embedder("pixels:big")


def test_pixels_layer_agrees_with_embed_and_converts_to_tflite():
    emb = load_embedder("pixels:8")
    x = _images(4, size=(8, 8)).astype(np.float32)
    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, emb.as_layer()(inp))
    want = emb.embed(x)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-6)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.target_spec.supported_ops = _builtin_ops_only()
    np.testing.assert_allclose(_litert_run(conv.convert(), x), want, atol=1e-5)


# ------------------------------------------------------------------ image handling

def test_input_forms_agree():
    emb = load_embedder("pixels:6:rgb")
    rgb = _images(2, size=(6, 6))
    ref = emb.embed(rgb)
    opaque = np.concatenate([rgb, np.full((2, 6, 6, 1), 255, np.uint8)], axis=-1)
    np.testing.assert_allclose(emb.embed(opaque), ref)                  # opaque alpha
    clear = np.concatenate([rgb, np.zeros((2, 6, 6, 1), np.uint8)], axis=-1)
    np.testing.assert_allclose(emb.embed(clear), 1.0)                   # clear: white
    np.testing.assert_allclose(emb.embed(list(rgb)), ref)               # list of HWC
    np.testing.assert_allclose(emb.embed(rgb.astype(np.float64)), ref)  # float 0..255
    gray = rgb[..., 0]
    g = emb.embed(gray).reshape(2, 6, 6, 3)                             # (n, H, W) batch
    np.testing.assert_allclose(g[..., 0], g[..., 2])
    np.testing.assert_allclose(emb.embed([gray[0][..., None]]), emb.embed(gray[:1]))
    assert emb.embed([]).shape == (0, emb.dim)


def test_mixed_sizes_are_resized_whole():
    emb = load_embedder("pixels:4:rgb")
    big = np.zeros((40, 80, 3), np.uint8)
    big[:, 40:] = 255  # left half black, right half white: no crop keeps both halves
    out = emb.embed([big, _images(1, size=(4, 4))[0]]).reshape(2, 4, 4, 3)
    # antialiasing blurs the edge between the halves, but both halves survive: no crop
    np.testing.assert_allclose(out[0, :, 0], 0, atol=1e-6)
    np.testing.assert_allclose(out[0, :, 3], 1, atol=1e-6)
    np.testing.assert_allclose(out[0].mean(), 0.5, atol=1e-6)


def test_bad_inputs_have_clear_errors():
    emb = load_embedder("pixels:4")
    with pytest.raises(ValueError, match="ambiguous"):
        emb.embed(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="image 1"):
        emb.embed([np.zeros((4, 4, 3)), np.zeros((4, 4, 5))])
    with pytest.raises(ValueError, match="0..255"):
        emb.embed([np.full((4, 4), 4000, np.int32)])
    with pytest.raises(ValueError, match="0..1 or 0..255"):
        emb.embed([np.full((4, 4), -1.0)])
    # floats in 0..1 are on the 0..1 scale; uint16 is 16-bit: one rule for both
    np.testing.assert_allclose(emb.embed(np.full((1, 4, 4, 3), 0.5)),
                               emb.embed(np.full((1, 4, 4, 3), 128, np.uint8)))
    np.testing.assert_allclose(emb.embed([np.full((4, 4), 257 * 9, np.uint16)]),
                               emb.embed([np.full((4, 4), 9, np.uint8)]))


def test_file_paths_are_read(tmp_path):
    from PIL import Image
    img = _images(1, size=(10, 12))[0]
    path = tmp_path / "a.png"
    Image.fromarray(img).save(path)
    emb = load_embedder("pixels:5:rgb")
    np.testing.assert_allclose(emb.embed([path, str(path)]), emb.embed([img, img]), atol=1e-5)
    np.testing.assert_allclose(emb.embed(path), emb.embed([img]), atol=1e-5)


def test_progress_bar(capsys):
    emb = load_embedder("pixels:2")
    emb.embed(_images(70, size=(2, 2)), batch_size=16)
    assert "70/70" in capsys.readouterr().err
    emb.embed(_images(70, size=(2, 2)), progress=False)
    assert "70/70" not in capsys.readouterr().err
    emb.embed(_images(3, size=(2, 2)), progress=True)
    assert "3/3" in capsys.readouterr().err


def test_batching_does_not_change_results():
    emb = load_embedder("pixels:3")
    x = _images(7, size=(9, 9))
    np.testing.assert_allclose(emb.embed(x, batch_size=2), emb.embed(x, batch_size=50))


# -------------------------------------------------------------------- SavedModel

class _TinyFeatures(tf.Module):
    """images in [0, 1] -> mean colour @ w (8-d)."""

    def __init__(self):
        super().__init__()
        w = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32)
        self.w = tf.Variable(w)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, images):
        return tf.reduce_mean(images, axis=[1, 2]) @ self.w


def _expected_tiny(module, x, scale=1 / 255.0):
    return (x.astype(np.float32) * scale).mean(axis=(1, 2)) @ module.w.numpy()


@pytest.fixture(scope="module")
def saved_model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sm") / "tiny_features"
    module = _TinyFeatures()
    tf.saved_model.save(module, str(d))
    return d, module


def test_local_saved_model(saved_model_dir):
    d, module = saved_model_dir
    emb = load_embedder(str(d), input_size=(16, 16))
    assert emb.dim == 8 and emb.input_size == (16, 16)
    x = _images(3, size=(16, 16))
    np.testing.assert_allclose(emb.embed(x), _expected_tiny(module, x), rtol=1e-4, atol=1e-5)
    inp = keras.Input((16, 16, 3))
    model = keras.Model(inp, emb.as_layer()(inp))  # a base of a functional model
    np.testing.assert_allclose(model.predict(x.astype(np.float32), verbose=0), emb.embed(x),
                               atol=1e-5)
    other = load_embedder(str(d), input_size=(16, 16), scale="-1-1")
    np.testing.assert_allclose(other.embed(x), _expected_tiny(module, x, 1 / 127.5)
                               - module.w.numpy().sum(0), rtol=1e-4, atol=1e-4)
    assert other.id != emb.id


def test_signature_only_saved_model_with_dict_output(tmp_path):
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2))

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32, name="pixels")])
    def serve(pixels):
        return {"embedding": tf.reduce_mean(pixels, axis=[1, 2]) @ w}

    holder = tf.Module()
    holder.w = w
    tf.saved_model.save(holder, str(tmp_path / "sig"), signatures={"serving_default": serve})
    emb = load_embedder(str(tmp_path / "sig"), input_size=(8, 8))
    x = _images(2, size=(8, 8))
    np.testing.assert_allclose(emb.embed(x), (x / 255.0).mean(axis=(1, 2)) @ w.numpy(),
                               rtol=1e-4, atol=1e-5)


def test_not_a_saved_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a TensorFlow SavedModel"):
        load_embedder(str(tmp_path / "empty"))


@pytest.mark.parametrize("handle", [
    "https://tfhub.dev/google/imagenet/mobilenet_v3_small_100_224/feature_vector/5",
    "https://www.kaggle.com/models/google/mobilenet-v3/TensorFlow2/"
    "small-100-224-feature-vector/1",
])
def test_remote_handle_fails_fast_offline(handle, monkeypatch):
    probed = []
    monkeypatch.setattr(_network, "can_connect",
                        lambda host, port=443, timeout=2.0: probed.append(host) or False)
    t0 = time.perf_counter()
    with pytest.raises(OfflineError) as err:
        load_embedder(handle)
    assert time.perf_counter() - t0 < 5
    msg = str(err.value)
    assert "internet" in msg and "load_embedder('/path/to/saved_model_dir')" in msg
    assert handle in msg and probed


def test_network_probe_is_bounded():
    t0 = time.perf_counter()
    assert _network.can_connect("host.invalid", 443, timeout=1.0) is False
    assert time.perf_counter() - t0 < 3


# -------------------------------------------------------------- keras.applications

def test_keras_application_offline_error(tmp_path, monkeypatch):
    from keras.src.backend import config
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path / "keras_home"))  # empty cache
    monkeypatch.setattr(_network, "can_connect", lambda *a, **k: False)
    t0 = time.perf_counter()
    with pytest.raises(OfflineError) as err:
        load_embedder("keras:MobileNetV3Small")
    assert time.perf_counter() - t0 < 30
    msg = str(err.value)
    assert "internet" in msg and "efficientnet_lite0" in msg
    assert str(tmp_path / "keras_home" / "models") in msg


def test_keras_application_unknown_name():
    with pytest.raises(ValueError, match="MobileNetV3Small"):
        load_embedder("keras:NoSuchNet")


def test_keras_application_without_download():
    from cbr_edu.embedders.keras_apps import KerasApplicationEmbedder
    emb = KerasApplicationEmbedder("keras:MobileNetV3Small", weights=None)
    assert emb.dim == 576 and emb.input_size == (224, 224)
    x = _images(2, size=(224, 224))
    inp = keras.Input((224, 224, 3))
    model = keras.Model(inp, emb.as_layer()(inp))
    np.testing.assert_allclose(model.predict(x.astype(np.float32), verbose=0), emb.embed(x),
                               atol=1e-4)


@pytest.mark.parametrize("mode,module", [("tf", "mobilenet_v2"), ("caffe", "resnet50"),
                                         ("torch", "densenet")])
def test_application_preprocessing_matches_keras(mode, module):
    from cbr_edu.embedders.keras_apps import _preprocess_layers, preprocessing_mode
    x = _images(2, size=(5, 5)).astype(np.float32)
    y = x
    for layer in _preprocess_layers(mode):
        y = layer(y)
    want = getattr(keras.applications, module).preprocess_input(x.copy())
    np.testing.assert_allclose(np.asarray(y), np.asarray(want), atol=1e-4)
    assert preprocessing_mode({"mobilenet_v2": "MobileNetV2", "resnet50": "ResNet50",
                               "densenet": "DenseNet121"}[module]) == mode
    assert preprocessing_mode("MobileNetV3Small") == "none"
    assert preprocessing_mode("ResNet50V2") == "tf"


# ------------------------------------------------------------------- model files

@pytest.fixture(scope="module")
def tiny_keras_model():
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(5)(x))


def test_keras_file(tmp_path, tiny_keras_model):
    path = tmp_path / "tiny.keras"
    tiny_keras_model.save(path)
    emb = load_embedder(str(path))
    assert emb.dim == 5 and emb.input_size == (16, 16) and emb.spec == str(path)
    x = _images(3, size=(16, 16))
    want = tiny_keras_model.predict(x.astype(np.float32), verbose=0)
    np.testing.assert_allclose(emb.embed(x), want, atol=1e-5)
    inp = keras.Input((16, 16, 3))
    np.testing.assert_allclose(keras.Model(inp, emb.as_layer()(inp)).predict(
        x.astype(np.float32), verbose=0), want, atol=1e-5)
    assert emb.id.startswith("keras-file:tiny@")


def test_tflite_file(tmp_path, tiny_keras_model):
    path = tmp_path / "tiny.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(tiny_keras_model).convert())
    emb = load_embedder(str(path))
    assert emb.dim == 5 and emb.input_size == (16, 16)
    x = _images(5, size=(16, 16))
    want = tiny_keras_model.predict(x.astype(np.float32), verbose=0)
    np.testing.assert_allclose(emb.embed(x, batch_size=2), want, atol=1e-5)
    np.testing.assert_allclose(emb.embed(list(x[:1])), want[:1], atol=1e-5)
    with pytest.raises(NotImplementedError, match="cannot be composed into a Keras model"):
        emb.as_layer()


def test_tflite_file_with_a_fixed_batch(tmp_path, tiny_keras_model):
    """A model whose batch is fixed runs in chunks of it, the last one padded."""
    image = keras.Input(batch_shape=(3, 16, 16, 3))
    fixed = keras.Model(image, tiny_keras_model(image))
    path = tmp_path / "batch3.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(fixed).convert())
    emb = load_embedder(str(path))
    assert emb._runner.batch == 3
    x = _images(5, size=(16, 16))
    want = tiny_keras_model.predict(x.astype(np.float32), verbose=0)
    np.testing.assert_allclose(emb.embed(x), want, atol=1e-5)
    np.testing.assert_allclose(emb.embed(x[:1]), want[:1], atol=1e-5)


def test_corrupt_model_files(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    with pytest.raises(ValueError, match="bad.tflite"):
        load_embedder(str(bad))
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.keras"):
        load_embedder(str(bad))


def test_saved_model_layer_serialisation(saved_model_dir, tmp_path):
    d, module = saved_model_dir
    emb = load_embedder(str(d), input_size=(16, 16))
    inp = keras.Input((16, 16, 3))
    model = keras.Model(inp, emb.as_layer()(inp))
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="safe_mode"):  # a SavedModel is a program
        keras.saving.load_model(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=False)
    x = _images(2, size=(16, 16)).astype(np.float32)
    np.testing.assert_allclose(again.predict(x, verbose=0), emb.embed(x), atol=1e-5)


def test_pixels_layer_survives_safe_load(tmp_path):
    emb = load_embedder("pixels:8")
    inp = keras.Input((8, 8, 3))
    keras.Model(inp, emb.as_layer()(inp)).save(tmp_path / "p.keras")
    again = keras.saving.load_model(tmp_path / "p.keras", safe_mode=True)
    x = _images(2, size=(8, 8)).astype(np.float32)
    np.testing.assert_allclose(again.predict(x, verbose=0), emb.embed(x), atol=1e-6)
