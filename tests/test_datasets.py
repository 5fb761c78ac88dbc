"""Behaviour of cbr_edu.datasets: the registry, offline builders, online failure modes."""

import hashlib
import io
import sys
import tarfile
import threading
import time
import types
import zipfile
from pathlib import Path

import numpy as np
import pooch
import pytest
import yaml
from PIL import Image

from cbr_edu import _network
from cbr_edu import datasets as D

OFFLINE = {  # name: (images, classes, first image shape)
    "digits": (1797, 10, (32, 32, 3)),
    "lfw_subset": (200, 2, (25, 25, 3)),
    "photo_views": (49, 7, None),
    "textures": (320, 5, (64, 64, 3)),
    "photo_patches": (408, 17, None),
}


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and an empty private cache."""
    monkeypatch.setenv("CBR_EDU_CACHE_DIR", str(tmp_path / "cache"))
    calls = []

    def no_network(host, port=443, *, timeout=2.0):
        calls.append((host, port, timeout))
        return False

    monkeypatch.setattr(_network, "can_connect", no_network)
    return calls


# --------------------------------------------------------------------------- registry


def test_registry_has_required_entries():
    reg = D.read_registry()
    offline = D.names(offline_only=True)
    online = [n for n in D.names() if n not in offline]
    assert set(OFFLINE) <= set(offline)
    assert len(online) >= 5
    for n in online:
        e = D.info(n)
        assert e.offline is False and e.kind in ("url", "tfds")
        if e.kind == "url":
            for f in e.source["files"]:
                assert len(f["sha256"]) == 64 and f["url"].startswith("https://")
    assert reg["digits"].images == 1797 and reg["digits"].classes == 10
    assert "licence" in reg["tf_flowers"].to_dict()


def test_package_reads_the_repository_registry():
    root_file = Path(__file__).resolve().parent.parent / "datasets.yaml"
    assert D.registry_path().read_bytes() == root_file.read_bytes()


def test_unknown_name():
    with pytest.raises(KeyError, match="Unknown data set 'digit'.*'digits'"):
        D.load("digit")


def _registry_with(tmp_path, mutate):
    doc = yaml.safe_load(D.registry_path().read_text())
    mutate({e["name"]: e for e in doc["datasets"]}, doc)
    p = tmp_path / "datasets.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


@pytest.mark.parametrize("mutate, message", [
    (lambda e, d: e["tf_flowers"].pop("licence"),
     "datasets.yaml: entry 'tf_flowers': field 'licence' is missing"),
    (lambda e, d: e["digits"].update(classes="ten"),
     "entry 'digits': field 'classes' must be a positive integer"),
    (lambda e, d: e["omniglot"]["source"]["files"][1].update(sha256=None),
     "entry 'omniglot': field 'source.files[1].sha256' is missing (null is only allowed"),
    (lambda e, d: e["imagenette"]["source"]["files"][0].update(sha256="abc"),
     "entry 'imagenette': field 'source.files[0].sha256' must be 64"),
    (lambda e, d: e["lfw_subset"].update(offline="yes"),
     "entry 'lfw_subset': field 'offline' must be true or false"),
    (lambda e, d: e["beans"].update(offline=True),
     "entry 'beans': field 'offline' must be false"),
    (lambda e, d: e["textures"]["source"].update(kind="ftp"),
     "entry 'textures': field 'source.kind' must be one of"),
    (lambda e, d: e["digits"]["source"].update(builder="nope"),
     "entry 'digits': field 'source.builder' names no known builder"),
    (lambda e, d: e["tf_flowers"]["source"].update(layout="mystery"),
     "entry 'tf_flowers': field 'source.layout'"),
    (lambda e, d: d["datasets"].append(dict(e["digits"])),
     "entry 'digits': field 'name' is duplicated"),
    (lambda e, d: e["cats_vs_dogs"]["source"].pop("tfds_name"),
     "entry 'cats_vs_dogs': field 'source.tfds_name' is missing"),
])
def test_validator_names_entry_and_field(tmp_path, mutate, message):
    broken = _registry_with(tmp_path, mutate)
    with pytest.raises(D.RegistryError) as e:
        D.names(registry=broken)
    assert message in str(e.value)


def test_tfds_entries_may_have_null_checksum(tmp_path):
    ok = _registry_with(tmp_path, lambda e, d: e["cats_vs_dogs"]["source"].update(sha256=None))
    assert "cats_vs_dogs" in D.names(registry=ok)


def test_not_yaml(tmp_path):
    p = tmp_path / "datasets.yaml"
    p.write_text("datasets: [unclosed")
    with pytest.raises(D.RegistryError, match="not valid YAML"):
        D.names(registry=p)
    p.write_text("- just a list\n")
    with pytest.raises(D.RegistryError, match="top-level 'datasets:'"):
        D.names(registry=p)


# --------------------------------------------------------------------------- offline data


@pytest.mark.parametrize("name", sorted(OFFLINE))
def test_offline_dataset_loads(name, offline):
    n, k, shape = OFFLINE[name]
    ds = D.load(name)
    assert len(ds) == n == ds.info.images
    assert len(ds.class_names) == k == ds.info.classes
    assert isinstance(ds.labels, np.ndarray) and ds.labels.dtype == np.int64
    assert ds.labels.shape == (n,)
    assert sorted(set(ds.labels.tolist())) == list(range(k))
    for img in ds.images:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[-1] == 3
    if shape is not None:
        assert {img.shape for img in ds.images} == {shape}
    # deterministic
    again = D.load(name)
    assert np.array_equal(again.labels, ds.labels)
    assert all(np.array_equal(a, b) for a, b in zip(ds.images, again.images))
    assert not offline, "offline data sets must not touch the network"


def test_digits_content():
    from sklearn.datasets import load_digits
    ds = D.load("digits")
    ref = load_digits()
    assert np.array_equal(ds.labels, ref.target)
    # nearest-neighbour upscale: every 4x4 block is one original pixel, 16 -> 255
    img = ds.images[0][..., 0]
    assert np.array_equal(img[::4, ::4], np.round(ref.images[0] * 255 / 16).astype(np.uint8))
    assert np.array_equal(ds.images[0][..., 0], ds.images[0][..., 2])
    assert D.load("digits", image_size=8).images[0].shape == (8, 8, 3)


def test_lfw_faces_first():
    from skimage import data
    ds = D.load("lfw_subset")
    assert ds.class_names == ["face", "not_face"]
    assert ds.labels[:100].tolist() == [0] * 100 and ds.labels[100:].tolist() == [1] * 100
    raw = data.lfw_subset()
    assert np.abs(ds.images[5][..., 0] / 255.0 - raw[5]).max() <= 1 / 255


def test_photo_views_index_and_query_views():
    ds = D.load("photo_views")
    assert ds.split is not None and set(ds.split.tolist()) == {"index", "query"}
    index = ds.subset(ds.split == "index")
    query = ds.subset(ds.split == "query")
    assert sorted(index.labels.tolist()) == list(range(len(ds.class_names)))
    assert len(query) == 6 * len(ds.class_names)
    assert len(ds.extras["views"]) == len(ds)
    assert index.extras["views"] == ["canonical photo"] * len(index)
    kinds = " ".join(query.extras["views"])
    for word in ("crop", "rotate", "brightness", "perspective", "JPEG"):
        assert word in kinds
    # a query view differs from its index photo, but is of the same class
    first = int(np.flatnonzero(ds.labels == 0)[1])
    assert ds.split[first] == "query"
    assert ds.images[first].shape == index.images[0].shape
    assert not np.array_equal(ds.images[first], index.images[0])
    # other seeds give other views; the index photo stays the same
    other = D.load("photo_views", seed=1)
    assert np.array_equal(other.images[0], ds.images[0])
    assert not np.array_equal(other.images[1], ds.images[1])
    assert len(D.load("photo_views", views_per_class=2)) == 3 * len(ds.class_names)
    only_index = D.load("photo_views", split="index")
    assert len(only_index) == len(ds.class_names)


def test_photo_patches_are_apart_varied_and_from_their_photo():
    from cbr_edu.datasets._patches import overlaps
    from cbr_edu.datasets.offline import bundled_photos
    ds = D.load("photo_patches")
    assert np.bincount(ds.labels).tolist() == [24] * 17
    assert ds.class_names == sorted(bundled_photos())
    photos = bundled_photos()
    for c, name in enumerate(ds.class_names):
        members = np.flatnonzero(ds.labels == c)
        boxes = [ds.extras["box"][i] for i in members]
        # no two patches of a photo share a pixel: a query is never a crop of a support patch
        assert not any(overlaps(a, b) for j, a in enumerate(boxes) for b in boxes[j + 1:])
        for i, (top, left, side) in zip(members, boxes):
            image = ds.images[i]
            assert image.shape == (side, side, 3) and 24 <= side <= 40
            assert np.array_equal(image[..., 0], image[..., 2])          # grey
            assert image.std() >= 5                                      # not flat
            photo = photos[name][top:top + side, left:left + side].astype(float)
            expected = photo @ [0.2125, 0.7154, 0.0721]                  # its photo, in grey
            assert np.abs(image[..., 0] - expected).max() <= 1.0
    again = D.load("photo_patches")
    assert all(np.array_equal(a, b) for a, b in zip(ds.images, again.images))
    other = D.load("photo_patches", seed=1)
    assert other.extras["box"] != ds.extras["box"]
    assert len(D.load("photo_patches", patches_per_class=10)) == 170
    with pytest.raises(ValueError, match="photo_patches, photo '.*': could cut only"):
        D.load("photo_patches", patches_per_class=10_000)


def test_photo_patches_is_hard_for_the_default_embedder_and_methods_differ():
    """The registry's claims, measured: 1-shot CbR between 55 and 92 %; at 5 shots CbR max,
    CbR mean, kNN, prototypes and the linear probe all differ, pair by pair, episode by
    episode (paired 95 % interval leaves out 0), and max beats mean by more than their
    own intervals."""
    from itertools import combinations

    from cbr_edu.cache import embed_images
    from cbr_edu.fewshot import KNN, CbR, LinearProbe, Prototypes, evaluate
    ds = D.load("photo_patches")
    X, _ = embed_images(ds.images, "efficientnet_lite0")
    setting = {"ways": 5, "queries": 15, "episodes": 300, "seed": 0}
    one = evaluate([CbR("max")], X, ds.labels, shots=1, **setting).row("CbR max", 1)
    assert 0.55 < one["accuracy"] < 0.92
    res = evaluate([CbR("max"), CbR("mean"), KNN(5), Prototypes("CL2N"), LinearProbe()], X,
                   ds.labels, shots=5, **setting)
    for a, b in combinations(res.methods, 2):
        mean, half = res.difference(a, b, 5)
        assert abs(mean) > half, (a, b, mean, half)
    best, mean = res.row("CbR max", 5), res.row("CbR mean", 5)
    assert best["accuracy"] - best["ci95"] > mean["accuracy"] + mean["ci95"]


def test_textures_patches_do_not_overlap():
    ds = D.load("textures")
    pos = ds.extras["grid_position"]
    for c in range(len(ds.class_names)):
        cells = [pos[i] for i in np.flatnonzero(ds.labels == c)]
        assert len(set(cells)) == len(cells) == 64


def test_max_per_class_and_image_size():
    ds = D.load("digits", max_per_class=3, seed=1)
    assert len(ds) == 30 and np.bincount(ds.labels).tolist() == [3] * 10
    assert np.array_equal(D.load("digits", max_per_class=3, seed=1).labels, ds.labels)
    a = D.load("lfw_subset", max_per_class=5, seed=0)
    b = D.load("lfw_subset", max_per_class=5, seed=1)
    assert not all(np.array_equal(x, y) for x, y in zip(a.images, b.images))
    assert D.load("textures", image_size=(48, 32)).images[0].shape == (48, 32, 3)
    with pytest.raises(ValueError):
        D.load("digits", max_per_class=0)


# --------------------------------------------------------------------------- online data


ONLINE = ["tf_flowers", "oxford_iiit_pet", "caltech_birds2011", "omniglot", "imagenette", "beans"]


@pytest.mark.parametrize("name", ONLINE)
def test_online_dataset_fails_fast_and_clearly_offline(name, offline):
    start = time.monotonic()
    with pytest.raises(D.DatasetUnavailableError) as e:
        D.load(name)
    assert time.monotonic() - start < 5
    msg = str(e.value)
    assert f"'{name}'" in msg
    assert "no network" in msg and "needs the internet once" in msg
    assert str(D.download_dir()) in msg  # where it would be cached
    for alt in ("digits", "lfw_subset", "photo_views", "photo_patches"):
        assert alt in msg
    assert offline, "the connectivity check was consulted"
    assert isinstance(e.value, ConnectionError)


def test_tfds_entry_without_tfds_is_clear(offline):
    try:
        import tensorflow_datasets  # noqa: F401
        pytest.skip("tensorflow_datasets installed")
    except ImportError:
        pass
    with pytest.raises(D.DatasetUnavailableError, match="tensorflow-datasets.*Offline alternatives"):
        D.load("cats_vs_dogs")


def _stand_in_tfds(prepared):
    """A stand-in for tensorflow_datasets: two splits, a grey 600x300 photo among them."""
    tfds = types.ModuleType("tensorflow_datasets")
    info = types.SimpleNamespace(
        splits=types.SimpleNamespace(total_num_examples=3 if prepared else 0),
        features={"label": types.SimpleNamespace(names=["cat", "dog"])})
    data = {"train": [(np.full((600, 300, 1), 7, np.uint8), 0),
                      (np.full((20, 10, 3), 9, np.uint8), 1)],
            "test": [(np.zeros((5, 5, 3), np.uint8), 1)]}
    tfds.builder = lambda name, data_dir: types.SimpleNamespace(info=info)
    tfds.load = lambda name, split, data_dir, as_supervised, with_info: (data[split], info)
    tfds.as_numpy = lambda d: d
    return tfds


def test_tfds_source(monkeypatch, offline):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", _stand_in_tfds(prepared=True))
    ds = D.load("cats_vs_dogs")  # the entry's split: train
    assert ds.class_names == ["cat", "dog"] and ds.labels.tolist() == [0, 1]
    assert ds.split.tolist() == ["train", "train"]
    assert ds.images[0].shape == (512, 256, 3) and ds.images[0][0, 0].tolist() == [7, 7, 7]
    both = D.load("cats_vs_dogs", split=["train", "test"], image_size=8)
    assert both.labels.tolist() == [0, 1, 1] and {im.shape for im in both.images} == {(8, 8, 3)}
    assert not offline, "a prepared tfds data set needs no network"
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", _stand_in_tfds(prepared=False))
    with pytest.raises(D.DatasetUnavailableError, match="could not reach storage.googleapis"):
        D.load("cats_vs_dogs")


def test_the_probe_is_the_shared_bounded_one(offline):
    """One probe of the archive's host, bounded by NETWORK_TIMEOUT (about two seconds)."""
    with pytest.raises(D.DatasetUnavailableError):
        D.load("tf_flowers")
    assert offline == [("storage.googleapis.com", 443, D.NETWORK_TIMEOUT)]
    assert D.NETWORK_TIMEOUT <= 2


def _tiny_archive(tmp_path):
    """A flower_photos-like .tgz: two classes, hidden files, a loose licence file."""
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        for cls, n in (("001.roses", 3), ("002.tulips", 2)):
            for i in range(n):
                b = io.BytesIO()
                Image.fromarray(rng.integers(0, 255, (30, 40, 3), np.uint8)).save(b, "JPEG")
                add(f"photos/{cls}/{i}.jpg", b.getvalue())
        add("photos/LICENSE.txt", b"CC BY")
        add("photos/001.roses/.DS_Store", b"x")
    p = tmp_path / "photos.tgz"
    p.write_bytes(buf.getvalue())
    return p


def _registry_for(tmp_path, archive, sha=None, *, name="tiny_flowers", images=5, **layout):
    """A registry with one url entry for ``archive`` (by default the tiny flowers' layout)."""
    sha = sha or hashlib.sha256(archive.read_bytes()).hexdigest()
    layout = layout or {"root": "photos", "strip_class_prefix": r"^\d+\."}
    doc = {"datasets": [{
        "name": name, "description": "test", "classes": 2, "images": images,
        "licence": "CC0", "citation": "none", "offline": False,
        "source": {"kind": "url", "layout": "class_folders", **layout,
                   "files": [{"url": archive.as_uri(), "sha256": sha,
                              "bytes": archive.stat().st_size}]},
    }]}
    p = tmp_path / "reg.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def test_url_download_verify_extract_and_reuse(tmp_path, monkeypatch):
    monkeypatch.setenv("CBR_EDU_CACHE_DIR", str(tmp_path / "cache"))
    archive = _tiny_archive(tmp_path)
    reg = _registry_for(tmp_path, archive)
    ds = D.load("tiny_flowers", registry=reg)
    assert ds.class_names == ["roses", "tulips"]
    assert ds.labels.tolist() == [0, 0, 0, 1, 1]
    assert all(im.shape == (30, 40, 3) for im in ds.images)
    assert (D.download_dir() / "tiny_flowers" / ".complete").is_file()
    # second load works offline from the cache, without asking the network
    monkeypatch.setattr(_network, "can_connect", lambda *a, **k: pytest.fail("network used"))
    archive.unlink()
    again = D.load("tiny_flowers", registry=reg, max_per_class=1, image_size=16)
    assert len(again) == 2 and again.images[0].shape == (16, 16, 3)


def test_a_registry_named_in_the_environment_is_used(tmp_path, monkeypatch, capsys):
    """$CBR_EDU_REGISTRY: a classroom's registry (here a file:// mirror) without registry=;
    the download says one line on stdout and nothing on stderr."""
    from cbr_edu.datasets.registry import REGISTRY_ENV
    monkeypatch.setenv("CBR_EDU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(REGISTRY_ENV, str(_registry_for(tmp_path, _tiny_archive(tmp_path))))
    for handler in pooch.get_logger().handlers:   # pooch's own lines, where capsys sees them
        monkeypatch.setattr(handler, "stream", sys.stderr)
    assert "tiny_flowers" in D.names()
    assert D.load("tiny_flowers").class_names == ["roses", "tulips"]
    said = capsys.readouterr()
    assert said.out.startswith("tiny_flowers: downloading photos.tgz") and said.err == ""


def test_url_checksum_mismatch_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("CBR_EDU_CACHE_DIR", str(tmp_path / "cache"))
    archive = _tiny_archive(tmp_path)
    reg = _registry_for(tmp_path, archive, sha="0" * 64)
    with pytest.raises(D.DatasetUnavailableError, match="sha256"):
        D.load("tiny_flowers", registry=reg)
    downloads = D.download_dir() / "downloads"
    assert not any(downloads.iterdir())


def test_manually_copied_archive_is_used_offline(tmp_path, monkeypatch, offline):
    """A workshop can hand out the archive on a USB stick."""
    archive = _tiny_archive(tmp_path)
    reg = _registry_for(tmp_path, archive)
    doc = yaml.safe_load(reg.read_text())
    doc["datasets"][0]["source"]["files"][0]["url"] = "https://example.org/photos.tgz"
    reg.write_text(yaml.safe_dump(doc))
    with pytest.raises(D.DatasetUnavailableError, match="copy photos.tgz into"):
        D.load("tiny_flowers", registry=reg)
    downloads = D.download_dir() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    (downloads / "photos.tgz").write_bytes(archive.read_bytes())
    assert len(D.load("tiny_flowers", registry=reg)) == 5


def test_corrupt_copy_offline_is_named_and_kept(tmp_path, offline):
    archive = _tiny_archive(tmp_path)
    reg = _registry_for(tmp_path, archive)
    doc = yaml.safe_load(reg.read_text())
    doc["datasets"][0]["source"]["files"][0]["url"] = "https://example.org/photos.tgz"
    reg.write_text(yaml.safe_dump(doc))
    copy = D.download_dir() / "downloads" / "photos.tgz"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(archive.read_bytes()[:-100])  # a copy that stopped short
    start = time.monotonic()
    with pytest.raises(D.DatasetUnavailableError,
                       match="no network .*, and the copy of photos.tgz in .* does not "
                             "match its sha256"):
        D.load("tiny_flowers", registry=reg)
    assert time.monotonic() - start < 5
    assert copy.stat().st_size == archive.stat().st_size - 100  # left as it was


def test_corrupt_copy_is_replaced_by_a_verified_download(tmp_path, monkeypatch):
    monkeypatch.setenv("CBR_EDU_CACHE_DIR", str(tmp_path / "cache"))
    archive = _tiny_archive(tmp_path)
    reg = _registry_for(tmp_path, archive)
    copy = D.download_dir() / "downloads" / "photos.tgz"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b"half an archive")
    assert len(D.load("tiny_flowers", registry=reg)) == 5
    assert copy.read_bytes() == archive.read_bytes()


def test_two_loads_extracting_at_once_do_not_break_each_other(tmp_path, monkeypatch):
    """Two notebooks preparing the same data set: both are inside pooch's extraction at once."""
    monkeypatch.setenv("CBR_EDU_CACHE_DIR", str(tmp_path / "cache"))
    archive = _tiny_archive(tmp_path)
    reg = _registry_for(tmp_path, archive)
    both_inside = threading.Barrier(2, timeout=30)
    untar = pooch.Untar.__call__

    def extract_together(self, fname, action, pup):
        both_inside.wait()
        return untar(self, fname, action, pup)

    monkeypatch.setattr(pooch.Untar, "__call__", extract_together)
    results, errors = [], []

    def notebook():
        try:
            results.append(D.load("tiny_flowers", registry=reg))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=notebook) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 2
    a, b = results
    assert a.labels.tolist() == b.labels.tolist() == [0, 0, 0, 1, 1]
    assert all(np.array_equal(x, y) for x, y in zip(a.images, b.images))
    # one published folder, no staging left behind
    assert sorted(p.name for p in D.download_dir().iterdir()) == ["downloads", "tiny_flowers"]


def _zip_registry(tmp_path):
    """A beans-like .zip with two splits; the test split has one class only."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for member, grey in (("train/ants/0.png", 10), ("train/bees/0.png", 200),
                             ("train/bees/1.png", 210), ("test/bees/2.png", 220)):
            png = io.BytesIO()
            Image.new("L", (12, 8), grey).save(png, "PNG")
            z.writestr(member, png.getvalue())
        z.writestr("train/bees/broken.png", b"not a png")
    archive = tmp_path / "insects.zip"
    archive.write_bytes(buf.getvalue())
    return _registry_for(tmp_path, archive, name="insects", images=4,
                         splits={"train": "train", "test": "test"})


def test_zip_with_splits(tmp_path, monkeypatch):
    monkeypatch.setenv("CBR_EDU_CACHE_DIR", str(tmp_path / "cache"))
    reg = _zip_registry(tmp_path)
    ds = D.load("insects", registry=reg)
    assert ds.class_names == ["ants", "bees"] and ds.labels.tolist() == [1, 0, 1, 1]
    assert ds.split.tolist() == ["test", "train", "train", "train"]
    assert ds.images[0].shape == (8, 12, 3) and ds.images[0][0, 0].tolist() == [220] * 3
    assert [(p.name, why) for p, why in ds.extras["skipped"]] == [
        ("broken.png", "not an image file Pillow can read")]
    test = D.load("insects", registry=reg, split="test", image_size=4)
    assert test.class_names == ["bees"] and test.labels.tolist() == [0]
    assert test.images[0].shape == (4, 4, 3)
    with pytest.raises(ValueError, match=r"has splits \['test', 'train'\]; got \['val'\]"):
        D.load("insects", registry=reg, split="val")


def test_unsafe_tar_member_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CBR_EDU_CACHE_DIR", str(tmp_path / "cache" / "inner"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        member = tarfile.TarInfo("../../escaped.txt")
        member.size = 3
        t.addfile(member, io.BytesIO(b"bad"))
    archive = tmp_path / "photos.tgz"
    archive.write_bytes(buf.getvalue())
    reg = _registry_for(tmp_path, archive)
    with pytest.raises(D.DatasetUnavailableError, match="unsafe member|Cannot extract"):
        D.load("tiny_flowers", registry=reg)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert sorted(p.name for p in D.download_dir().iterdir()) == ["downloads"]


def test_unknown_option_is_named():
    with pytest.raises(TypeError, match="unknown option 'patch_size'; digits takes no options"):
        D.load("digits", patch_size=3)
    with pytest.raises(TypeError, match="textures takes patch_size"):
        D.load("textures", views_per_class=2)
    with pytest.raises(TypeError, match="tf_flowers takes max_side"):
        D.load("tf_flowers", patch_size=3)
