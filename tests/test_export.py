"""export_tflite: float equality with Keras, int8 agreement, metadata, atomic writes, op count."""

import importlib.util
import os
import zipfile

import numpy as np
import pytest

from cbr_edu import CbRClassifier
from cbr_edu.model import class_names
from cbr_edu.tflite import (LiteRTClassifier, count_ops, export_tflite, quantize_rows,
                            read_class_names, read_metadata)


def _scores(path, inputs):
    return LiteRTClassifier(path).scores(inputs)


def _data(n=60, d=16, classes="abcdefg", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = np.array(list(classes))[rng.integers(0, len(classes), n)]
    y[:2] = "solo"  # a class with fewer than k examples
    y[5] = "one"
    return X, y, rng.normal(size=(11, d)).astype(np.float32)


@pytest.mark.parametrize("aggregation", ["max", "mean", "topk_mean"])
def test_float_export_equals_keras(tmp_path, aggregation):
    X, y, Q = _data()
    clf = CbRClassifier(aggregation=aggregation, k=3).fit(X, y)
    result = export_tflite(clf, tmp_path / "m.tflite")
    ref = clf.class_scores(Q)
    got = _scores(result.path, Q)
    assert got.shape == ref.shape == (len(Q), len(clf.classes_))
    np.testing.assert_allclose(got, ref, atol=1e-5)
    # one query at a time (the default batch of 1) gives the same
    np.testing.assert_allclose(_scores(result.path, Q[:1]), ref[:1], atol=1e-5)
    # the keras model route gives the same file contents' behaviour and labels
    model = clf.to_keras()
    result2 = export_tflite(model, tmp_path / "k.tflite")
    np.testing.assert_allclose(_scores(result2.path, Q), model.predict(Q, verbose=0),
                               atol=1e-5)
    assert read_class_names(result2.path) == class_names(model) == clf.classes_.tolist()


def test_int8_is_smaller_and_agrees(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 64)).astype(np.float32)
    y = np.arange(2000) % 500
    queries = X[rng.integers(0, 2000, 400)] + 0.3 * rng.normal(size=(400, 64)).astype(np.float32)
    clf = CbRClassifier().fit(X, y)
    f = export_tflite(clf, tmp_path / "f.tflite")
    q = export_tflite(clf, tmp_path / "q.tflite", quantize="int8")
    assert q.retrieval_bytes < f.retrieval_bytes / 3.5
    assert q.bytes < f.bytes / 3
    sf, sq = _scores(f.path, queries), _scores(q.path, queries)
    assert (sf.argmax(1) == sq.argmax(1)).mean() >= 0.99
    assert np.abs(sf - sq).max() < 0.02
    assert count_ops(q.path) == count_ops(f.path)


def test_quantize_rows_beats_one_global_scale():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(500, 256)).astype(np.float32)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    q, s = quantize_rows(w)
    per_row = np.abs(q * s[:, None] - w)
    global_ = np.abs(np.clip(np.rint(w * 128), -128, 127) / 128 - w)
    assert per_row.max() <= s.max() / 2 + 1e-7
    assert per_row.max() < global_.max() / 3      # the original scale 1/128 for every row
    assert per_row.mean() < global_.mean() / 4


def _mp_schema():
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("mediapipe is not installed (its schema code is the independent reader)")
    path = os.path.join(spec.submodule_search_locations[0],
                        "tasks", "metadata", "metadata_schema_py_generated.py")
    if not os.path.exists(path):
        pytest.skip("mediapipe does not ship metadata_schema_py_generated.py")
    mod_spec = importlib.util.spec_from_file_location("_mp_metadata_schema", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def test_metadata_round_trip(tmp_path):
    from cbr_edu.embedders import load_embedder
    emb = load_embedder("pixels:8:rgb")
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (6, 8, 8, 3)).astype(np.uint8)
    names = ["chat noir", "ünïcode 猫", "dog"]
    clf = CbRClassifier(embedder=emb).fit(images, [names[i % 3] for i in range(6)])
    path = tmp_path / "m.tflite"
    export_tflite(clf, path)
    # our reader
    meta = read_metadata(path)
    assert meta["class_names"] == sorted(names) == read_class_names(path)
    assert meta["input"]["image_size"] == (8, 8)
    # the pixels embedder divides by 255 (its Rescaling layer): mean 0, std 255
    assert meta["input"]["normalization"] == {"mean": [0.0], "std": [255.0]}
    assert meta["min_parser_version"] == "1.0.0"
    assert (tmp_path / "m.labels.txt").read_text("utf-8").splitlines() == sorted(names)
    # the label file is zipped onto the model
    with zipfile.ZipFile(path) as zf:
        assert zf.read("labels.txt").decode("utf-8").splitlines() == sorted(names)
    # an independent reader: MediaPipe's generated schema code
    schema = _mp_schema()
    from ai_edge_litert import schema_py_generated as tfl
    model = tfl.Model.GetRootAsModel(path.read_bytes(), 0)
    entries = {model.Metadata(i).Name().decode(): model.Metadata(i).Buffer()
               for i in range(model.MetadataLength())}
    buf = model.Buffers(entries["TFLITE_METADATA"]).DataAsNumpy().tobytes()
    assert schema.ModelMetadata.ModelMetadataBufferHasIdentifier(buf, 0)
    mm = schema.ModelMetadataT.InitFromObj(schema.ModelMetadata.GetRootAsModelMetadata(buf, 0))
    tin = mm.subgraphMetadata[0].inputTensorMetadata[0]
    tout = mm.subgraphMetadata[0].outputTensorMetadata[0]
    assert tin.content.contentPropertiesType == schema.ContentProperties.ImageProperties
    assert tin.content.contentProperties.colorSpace == schema.ColorSpaceType.RGB
    assert tin.processUnits[0].optionsType == schema.ProcessUnitOptions.NormalizationOptions
    assert list(tin.processUnits[0].options.mean) == [0.0]
    assert list(tin.processUnits[0].options.std) == [255.0]
    assert tout.associatedFiles[0].name == b"labels.txt"
    assert tout.associatedFiles[0].type == schema.AssociatedFileType.TENSOR_AXIS_LABELS
    # the input tensor is uint8 (1, H, W, 3)
    clf_rt = LiteRTClassifier(path)
    assert clf_rt.input_kind == "image" and tuple(clf_rt.input_size) == (8, 8)
    assert clf_rt.predict(images[:1], top=1)[0][0][0] == clf.predict(images[:1])[0]


def _keras_file_embedder(tmp_path):
    """A saved Keras embedder with torch-style per-channel preprocessing inside."""
    import keras
    from cbr_edu.embedders import load_embedder
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    image = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1 / 255.0)(image)
    x = keras.layers.Normalization(mean=mean, variance=[s * s for s in std])(x)
    x = keras.layers.Dense(4, kernel_initializer=keras.initializers.RandomNormal(seed=0))(
        keras.layers.Flatten()(x))
    path = tmp_path / "embedder.keras"
    keras.Model(image, x).save(path)
    return load_embedder(str(path)), 255 * np.array(mean), 255 * np.array(std)


def test_classifier_and_its_keras_model_export_the_same(tmp_path):
    emb, mean, std = _keras_file_embedder(tmp_path)
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, (9, 8, 8, 3)).astype(np.uint8)
    clf = CbRClassifier(embedder=emb, aggregation="topk_mean", k=2).fit(
        images[:6], ["a", "b", "c"] * 2)
    a = export_tflite(clf, tmp_path / "clf.tflite").path
    b = export_tflite(clf.to_keras(), tmp_path / "keras.tflite").path
    meta = read_metadata(a)
    assert meta == read_metadata(b)
    # read from the embedder's own Rescaling + Normalization layers, one value per channel
    np.testing.assert_allclose(meta["input"]["normalization"]["mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(meta["input"]["normalization"]["std"], std, rtol=1e-6)
    np.testing.assert_array_equal(_scores(a, images), _scores(b, images))
    np.testing.assert_allclose(_scores(a, images), clf.class_scores(images),
                               atol=1e-5)


@pytest.mark.parametrize("aggregation", ["max", "mean", "topk_mean"])
def test_a_model_with_spare_rows_exports_without_them(tmp_path, aggregation):
    from cbr_edu.model import build_cbr_model
    X, y, Q = _data()
    spare = build_cbr_model(X, y, aggregation=aggregation, capacity=len(X) + 5)
    exact = build_cbr_model(X, y, aggregation=aggregation)
    a = export_tflite(spare, tmp_path / "spare.tflite").path
    b = export_tflite(exact, tmp_path / "exact.tflite").path
    np.testing.assert_array_equal(_scores(a, Q), _scores(b, Q))
    np.testing.assert_allclose(_scores(a, Q), exact.predict(Q, verbose=0), atol=1e-5)


def test_normalization_is_read_up_to_the_first_other_layer():
    import keras
    from cbr_edu.tflite._normalization import read_normalization
    L = keras.layers
    image = keras.Input((8, 8, 3))
    stem = keras.Sequential([L.Rescaling(2.0), L.Rescaling(1.0, offset=-1.0)])
    x = L.Conv2D(3, 1)(L.Resizing(8, 8)(stem(image)))
    # Sequential and Resizing pass through: x * 2 - 1 = (x - 0.5) / 0.5
    assert read_normalization(keras.Model(image, L.Rescaling(9.0)(x))) == ([0.5], [0.5])
    # a Conv2D first: nothing known beyond it, the pixels go in as they are
    y = L.Rescaling(1 / 255)(L.Conv2D(3, 1)(image))
    assert read_normalization(keras.Model(image, y)) == ([0.0], [1.0])


def test_atomic_write_and_no_overwrite(tmp_path):
    X, y, _ = _data()
    clf = CbRClassifier().fit(X, y)
    path = tmp_path / "m.tflite"
    path.write_bytes(b"user's file")
    with pytest.raises(FileExistsError, match="overwrite"):
        export_tflite(clf, path)
    assert path.read_bytes() == b"user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]  # no temp file left
    export_tflite(clf, path, overwrite=True)
    assert read_class_names(path) == clf.classes_.tolist()
    # each model has its own label file, named after it: two models never share one
    other = CbRClassifier().fit(X, np.where(y == "a", "zzz", y))
    export_tflite(other, tmp_path / "other.tflite")
    assert "zzz" in (tmp_path / "other.labels.txt").read_text()
    assert "zzz" not in (tmp_path / "m.labels.txt").read_text()
    # a label file of the model's name with other labels (the user's) is not replaced silently
    (tmp_path / "third.labels.txt").write_text("mine\n")
    with pytest.raises(FileExistsError, match="labels"):
        export_tflite(other, tmp_path / "third.tflite")
    assert not (tmp_path / "third.tflite").exists()
    assert (tmp_path / "third.labels.txt").read_text() == "mine\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_bad_arguments(tmp_path):
    X, y, _ = _data()
    clf = CbRClassifier().fit(X, y)
    with pytest.raises(ValueError, match="quantize"):
        export_tflite(clf, tmp_path / "m.tflite", quantize="int4")
    with pytest.raises(ValueError, match="tflite"):
        export_tflite(clf, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="not fitted"):
        export_tflite(CbRClassifier(), tmp_path / "m.tflite")
    with pytest.raises(ValueError, match="line break"):
        export_tflite(CbRClassifier().fit(X[:2], ["a\nb", "c"]), tmp_path / "m.tflite")


@pytest.mark.parametrize("aggregation", ["max", "mean", "topk_mean"])
def test_op_count_does_not_depend_on_classes(tmp_path, aggregation):
    rng = np.random.default_rng(4)
    counts = {}
    for c in (3, 300):
        n = 1200
        X = rng.normal(size=(n, 8)).astype(np.float32)
        y = np.arange(n) % c
        clf = CbRClassifier(aggregation=aggregation, k=3).fit(X, y)
        result = export_tflite(clf, tmp_path / f"{c}.tflite", labels_file=False)
        counts[c] = count_ops(result.path)
    assert counts[3] == counts[300]
    assert counts[3]["FULLY_CONNECTED"] == 1


def test_large_index_exports_in_seconds(tmp_path):
    rng = np.random.default_rng(5)
    n, d, c = 100_000, 256, 50_000
    X = rng.standard_normal((n, d), dtype=np.float32)
    clf = CbRClassifier().fit(X, np.arange(n) % c)
    result = export_tflite(clf, tmp_path / "big.tflite", quantize="int8")
    assert result.num_classes == c and result.bytes < n * d * 1.2 + 2e6
    scores = _scores(result.path, X[:3])
    assert scores.shape == (3, c)
    np.testing.assert_array_equal(scores.argmax(1), np.arange(3) % c)


def test_int8_embedder_is_small_and_agrees_with_float(tmp_path):
    """--int8 quantises the embedder too: under 0.35x its float size, same answers."""
    from cbr_edu import datasets
    from cbr_edu.embedders import load_embedder
    from cbr_edu.embedders._litert import LiteRTRunner
    from cbr_edu.images import prepare_images
    from cbr_edu.tflite.convert import convert_embedder

    ds = datasets.load("photo_views")
    names = np.array(ds.class_names)[ds.labels]
    index, queries = ds.split == "index", ds.split == "query"
    emb = load_embedder("efficientnet_lite0")
    clf = CbRClassifier(embedder=emb).fit([ds.images[i] for i in np.flatnonzero(index)],
                                          names[index])
    f = export_tflite(clf, tmp_path / "f.tflite")
    q = export_tflite(clf, tmp_path / "q.tflite", quantize="int8")
    assert 0 < q.embedder_bytes <= 0.35 * f.embedder_bytes
    assert q.bytes <= 0.35 * f.bytes
    x = prepare_images([ds.images[i] for i in np.flatnonzero(queries)], emb.input_size)
    sf, sq = _scores(f.path, x), _scores(q.path, x)
    truth = names[queries]
    float_right, int8_right = (clf.classes_[s.argmax(1)] == truth for s in (sf, sq))
    assert float_right.mean() >= 0.9 and int8_right.mean() >= float_right.mean() - 0.05
    assert (sf.argmax(1) == sq.argmax(1)).mean() >= 0.95
    # the embedders themselves: int8 embeddings point where the float ones do
    a = LiteRTRunner(convert_embedder(emb)[0])(x)
    b = LiteRTRunner(convert_embedder(emb, quantize="int8")[0])(x)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.mean() >= 0.97 and cosine.min() >= 0.85
    assert "int8 embedder" in str(q)


def test_a_resize_to_the_same_size_is_dropped_from_the_converted_graph():
    """as_layer() resizes to the embedder's input size: converted at that size, LiteRT
    would interpolate every pixel for nothing. At another size the resize stays."""
    import keras

    from cbr_edu.embedders._litert import LiteRTRunner
    from cbr_edu.tflite._graph import read_model, schema
    from cbr_edu.tflite.convert import convert_embedder

    image = keras.Input((None, None, 3))
    x = keras.layers.Resizing(8, 8, interpolation="bilinear")(image, training=False)
    x = keras.layers.Conv2D(2, 3, kernel_initializer="glorot_uniform")(x)
    model = keras.Model(image, keras.layers.Flatten()(x))
    resize = schema().BuiltinOperator.RESIZE_BILINEAR

    def resizes(data):
        graph = read_model(data)
        codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in graph.operatorCodes]
        return sum(codes[op.opcodeIndex] == resize for op in graph.subgraphs[0].operators)

    pixels = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    same, _ = convert_embedder(model, image_size=(8, 8))
    assert resizes(same) == 0
    np.testing.assert_allclose(LiteRTRunner(same)(pixels),
                               model.predict(pixels.astype(np.float32), verbose=0), atol=1e-5)
    larger, _ = convert_embedder(model, image_size=(12, 12))
    assert resizes(larger) == 1
    pixels = np.random.default_rng(1).integers(0, 256, (2, 12, 12, 3), dtype=np.uint8)
    np.testing.assert_allclose(LiteRTRunner(larger)(pixels),
                               model.predict(pixels.astype(np.float32), verbose=0), atol=1e-5)
