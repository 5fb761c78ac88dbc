"""EfficientNet-Lite0, the offline default: weights, cache, ImageNet sanity, Keras/TFLite
agreement and (optional, when torch is installed) parity with a torch reference."""

import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from cbr_edu.embedders import efficientnet_lite0 as lite0  # noqa: E402
from cbr_edu.embedders import load_embedder  # noqa: E402
from cbr_edu.images import prepare_images  # noqa: E402

CATS = range(281, 288)  # tabby, tiger cat, Persian, Siamese, Egyptian cat, cougar, lynx
ESPRESSO = 967


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    old = os.environ.get("CBR_EDU_CACHE_DIR")
    os.environ["CBR_EDU_CACHE_DIR"] = str(tmp_path_factory.mktemp("cbr_cache"))
    yield os.environ["CBR_EDU_CACHE_DIR"]
    if old is None:
        del os.environ["CBR_EDU_CACHE_DIR"]
    else:
        os.environ["CBR_EDU_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def emb(cache_env):
    return load_embedder()


@pytest.fixture(scope="module")
def photos():
    skdata = pytest.importorskip("skimage.data")
    return {"chelsea": skdata.chelsea(), "coffee": skdata.coffee()}


def test_default_is_lite0(emb):
    assert emb.spec == "efficientnet_lite0"
    assert emb.dim == 1280 and emb.input_size == (224, 224)
    assert emb.id == f"efficientnet_lite0@{lite0.WEIGHTS_SHA256[:12]}-v{lite0.CONVERSION_VERSION}"


def test_embeddings_shape_and_content(emb, photos):
    e = emb.embed([photos["chelsea"], photos["coffee"]])
    assert e.shape == (2, 1280) and e.dtype == np.float32
    assert np.isfinite(e).all() and (e >= 0).all()  # average of ReLU6 outputs
    assert (e <= 6).all() and e.std() > 0.1
    cos = e[0] @ e[1] / np.linalg.norm(e[0]) / np.linalg.norm(e[1])
    assert cos < 0.8  # a cat and a coffee cup are told apart


def test_imagenet_sanity(emb, photos):
    top = emb.classify([photos["chelsea"], photos["coffee"]], top=5)
    assert top[0][0][0] in CATS, top[0]
    assert sum(c in CATS for c, _ in top[0][:3]) == 3
    assert top[1][0][0] == ESPRESSO and top[1][0][1] > 0.5, top[1]
    logits = emb.imagenet_logits([photos["coffee"]])
    assert logits.shape == (1, 1000) and logits.argmax() == ESPRESSO


def test_layer_agrees_with_embed_in_a_functional_model(emb, photos):
    rng = np.random.default_rng(0)
    x = np.stack([prepare_images([photos["chelsea"]], emb.input_size).astype(np.float32)[0],
                  rng.integers(0, 256, (224, 224, 3))]).astype(np.float32)
    inp = keras.Input((224, 224, 3))
    model = keras.Model(inp, emb.as_layer()(inp))
    np.testing.assert_allclose(model.predict(x, verbose=0), emb.embed(x), atol=1e-4)
    # uint8 input is cast inside
    x8 = x.round().astype(np.uint8)
    np.testing.assert_allclose(emb.as_layer()(x8).numpy(), emb.embed(x8), atol=1e-4)
    # the embedder is frozen: a training-mode call (e.g. fitting a head on top) neither
    # uses batch statistics nor updates BatchNorm's moving averages
    bn = emb.imagenet_model.get_layer("head_bn")
    before = bn.moving_mean.numpy().copy()
    np.testing.assert_allclose(model(x, training=True).numpy(), emb.embed(x), atol=1e-4)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)


def test_tflite_conversion_builtin_ops(emb, photos):
    from ai_edge_litert.interpreter import Interpreter
    inp = keras.Input((224, 224, 3), batch_size=1)
    model = keras.Model(inp, emb.as_layer()(inp))
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    it = Interpreter(model_content=conv.convert())
    it.allocate_tensors()
    x = prepare_images([photos["coffee"]], emb.input_size).astype(np.float32)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, emb.embed(x), atol=1e-4)


# ----------------------------------------------------------------------------- cache

def test_cache_written_and_corrupt_cache_rebuilt(emb, cache_env):
    path = lite0._cache_file()
    assert str(path).startswith(cache_env) and path.exists()
    good = lite0.load_keras_weights()
    assert lite0._load_cached(path) is not None
    for corrupt in (b"garbage", path.read_bytes()[: path.stat().st_size // 2]):
        path.write_bytes(corrupt)
        assert lite0._load_cached(path) is None
        again = lite0.load_keras_weights()
        assert lite0._load_cached(path) is not None  # rewritten, valid
        for layer in good:
            for a, b in zip(good[layer], again[layer]):
                np.testing.assert_array_equal(a, b)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_cache_with_altered_values_is_not_trusted(emb):
    path = lite0._cache_file()
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["logits/1"] = arrays["logits/1"] + 1.0  # digest no longer matches
    np.savez(path, **arrays)
    assert lite0._load_cached(path) is None
    np.testing.assert_array_equal(lite0.load_keras_weights()["logits"][1],
                                  emb.imagenet_model.get_layer("logits").get_weights()[1])


def test_tampered_weights_file_is_refused(tmp_path):
    from cbr_edu.embedders._torch_pickle import ChecksumError
    tampered = tmp_path / "lite0.pth"
    data = bytearray(open(lite0.weights_path(), "rb").read())
    data[len(data) // 2] ^= 1
    tampered.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="sha256"):
        lite0.load_keras_weights(pth=tampered)


# ------------------------------------------------------------------ torch parity

def _torch_lite0(sd):
    """A minimal EfficientNet-Lite0 in torch, from the state dict (static 'same' padding)."""
    import math

    import torch
    import torch.nn.functional as F

    def conv(x, key, stride=1, groups=1):
        w = sd[f"{key}.weight"]
        k, (ih, iw) = w.shape[-1], x.shape[-2:]
        ph = max((math.ceil(ih / stride) - 1) * stride + k - ih, 0)
        pw = max((math.ceil(iw / stride) - 1) * stride + k - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, w, stride=stride, groups=groups)

    def bn(x, key):
        return F.batch_norm(x, sd[f"{key}.running_mean"], sd[f"{key}.running_var"],
                            sd[f"{key}.weight"], sd[f"{key}.bias"], False, 0.0, 1e-3)

    def forward(images_nhwc):
        x = torch.from_numpy(images_nhwc).permute(0, 3, 1, 2) / 255.0
        x = (x - 0.5) / 0.5
        x = F.relu6(bn(conv(x, "_conv_stem", 2), "_bn0"))
        idx, cin = 0, 32
        for expand, cout, repeats, stride, _k in lite0.BLOCKS:
            for r in range(repeats):
                b, s, inp = f"_blocks.{idx}", stride if r == 0 else 1, x
                if expand != 1:
                    x = F.relu6(bn(conv(x, f"{b}._expand_conv"), f"{b}._bn0"))
                x = F.relu6(bn(conv(x, f"{b}._depthwise_conv", s, groups=x.shape[1]),
                               f"{b}._bn1"))
                x = bn(conv(x, f"{b}._project_conv"), f"{b}._bn2")
                if s == 1 and cin == cout:
                    x = x + inp
                idx, cin = idx + 1, cout
        x = F.relu6(bn(conv(x, "_conv_head"), "_bn1"))
        return F.linear(x.mean(dim=(2, 3)), sd["_fc.weight"], sd["_fc.bias"])

    return forward


def test_parity_with_torch(emb, photos):
    torch = pytest.importorskip("torch")
    from cbr_edu.embedders._torch_pickle import load_state_dict
    path = lite0.weights_path()
    sd = torch.load(path, map_location="cpu", weights_only=True)
    ours = load_state_dict(path)
    assert list(ours) == list(sd)
    for k, v in sd.items():  # the restricted reader reads exactly what torch reads
        np.testing.assert_array_equal(ours[k], v.numpy())
    x = np.concatenate([prepare_images([photos["chelsea"], photos["coffee"]], emb.input_size).astype(np.float32),
                        np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3))
                        ]).astype(np.float32)
    with torch.no_grad():
        ref = _torch_lite0(sd)(x).numpy()
    got = emb.imagenet_logits(x)
    diff = float(np.abs(got - ref).max())
    print(f"max |keras - torch| logits = {diff:.2e}")
    assert diff < 1e-4


def test_layer_survives_keras_save_and_safe_load(emb, photos, tmp_path):
    inp = keras.Input((224, 224, 3))
    model = keras.Model(inp, emb.as_layer()(inp))
    model.save(tmp_path / "lite0_base.keras")
    again = keras.saving.load_model(tmp_path / "lite0_base.keras", safe_mode=True)
    x = prepare_images([photos["chelsea"]], emb.input_size).astype(np.float32)
    np.testing.assert_allclose(again.predict(x, verbose=0), emb.embed(x), atol=1e-4)


# ------------------------------------------------------------------ LiteRT runtime

def test_first_images_embed_with_keras_then_litert(cache_env, photos, monkeypatch):
    """With an empty cache a one-photo check does not wait for the conversion."""
    from cbr_edu.tflite.convert import is_converted
    monkeypatch.setattr(lite0, "CONVERT_AFTER", 2)
    fresh = load_embedder()
    assert fresh.runtime == "litert" and not is_converted(fresh)
    first = fresh.embed([photos["coffee"]])
    assert fresh._runner is None and not is_converted(fresh)  # Keras did it
    fresh.embed([photos["chelsea"]])
    again = fresh.embed([photos["coffee"]])  # 2 images seen: converted, now LiteRT
    assert fresh._runner is not None and is_converted(fresh)
    np.testing.assert_allclose(again, first, atol=1e-4)
    later = load_embedder()  # a converted graph in the cache is used at once
    later.embed([photos["coffee"]])
    assert later._runner is not None


def test_litert_runtime_equals_keras(emb, photos):
    """embed() runs the converted graph on LiteRT; Keras stays one argument away."""
    from cbr_edu.tflite.convert import convert_embedder
    convert_embedder(emb)
    keras_emb = load_embedder("efficientnet_lite0", runtime="keras")
    assert emb.runtime == "litert" and keras_emb.runtime == "keras"
    assert keras_emb.id == emb.id  # the same function: the embedding cache is shared
    rng = np.random.default_rng(1)
    images = [photos["chelsea"], photos["coffee"]] + list(
        rng.integers(0, 256, (9, 224, 224, 3), dtype=np.uint8))
    fast = emb.embed(images, batch_size=8)  # two embed() batches, image by image
    slow = keras_emb.embed(images)
    assert emb._runner is not None and keras_emb._runner is None
    np.testing.assert_allclose(fast, slow, atol=1e-4)
    np.testing.assert_allclose(emb.embed(images[:1]), fast[:1], atol=1e-6)
    with pytest.raises(ValueError, match="runtime"):
        load_embedder("efficientnet_lite0", runtime="onnx")


def test_conversion_is_shared_with_the_export(emb, photos, tmp_path):
    from cbr_edu import CbRClassifier, export_tflite
    from cbr_edu.tflite.convert import convert_embedder
    convert_embedder(emb)
    clf = CbRClassifier(embedder=emb).fit([photos["chelsea"], photos["coffee"]], ["cat", "cup"])
    assert export_tflite(clf, tmp_path / "m.tflite").stem_cached


def test_fine_tuning_in_place_embeds_with_keras(cache_env, photos):
    from cbr_edu.tflite.convert import convert_embedder
    fresh = load_embedder()
    convert_embedder(fresh)
    before = fresh.embed([photos["coffee"]])
    assert fresh._runner is not None
    layer = fresh.as_layer()
    layer.trainable = True
    head = fresh.imagenet_model.get_layer("head_conv")
    head.set_weights([w * 0.5 for w in head.get_weights()])
    after = fresh.embed([photos["coffee"]])
    assert not np.allclose(after, before, atol=1e-3)
    np.testing.assert_allclose(after, layer.predict(prepare_images(
        [photos["coffee"]], fresh.input_size).astype(np.float32), verbose=0), atol=1e-4)
