"""Local stand-ins for what the notebooks download when ``ONLINE = True``.

:func:`online_parameters` reads what a notebook's parameter cell sets with ``ONLINE = True``
(``EMBEDDER``, ``DATASET``). :func:`build_stand_ins` then prepares, under one folder:

* a TF Hub cache (``TFHUB_CACHE_DIR``) where every hub handle named resolves to a
  SavedModel with the hub image-model convention (224×224 RGB in [0, 1] → a vector):
  the offline EfficientNet-Lite0, exported — ImageNet features, as the real model has;
* a ``file://`` archive per online data set named, with the layout its registry entry
  describes (a few blended crops of bundled photos per class), and a registry
  (``CBR_EDU_REGISTRY``) whose entries point at them with their sha256;
* an empty cache (``CBR_EDU_CACHE_DIR``), so nothing reaches the other tests' cache.

The notebooks then run their online code unchanged, with no network.

Example
-------
>>> from pathlib import Path
>>> online_parameters(Path(__file__).parents[1] / "notebooks" / "06_compare.ipynb")["DATASET"]
'imagenette'
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from pathlib import Path

import nbformat
import numpy as np
import yaml

from cbr_edu.instructor.execute import parameter_cell, set_parameters

# bundled photos, one per class: colour ones first, then grey ones (made RGB)
_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
           "immunohistochemistry", "retina", "colorwheel", "camera", "coins", "moon",
           "brick", "grass", "gravel")
_PER_CLASS = {"train": 16, None: 16}   # images per class in a folder; other splits get 4
# (enough for the online episodes: 06 draws 1 + 15 per class, 04 5 + 7)
_SIDE = 160


def online_parameters(nb_path):
    """What the parameter cell sets with ``ONLINE = True``, or None if ONLINE changes
    nothing else (the notebook has no online path)."""
    source = parameter_cell(nbformat.read(nb_path, as_version=4), Path(nb_path).name).source
    offline, online = {}, {}
    exec(source, offline)  # noqa: S102 - the repository's own parameter cell: assignments
    exec(set_parameters(source, {"ONLINE": True}, name=Path(nb_path).name), online)
    changed = {k for k in online if k not in ("ONLINE", "__builtins__")
               and online[k] != offline.get(k)}
    return {k: v for k, v in online.items() if k in changed} or None


def build_stand_ins(root, parameters):
    """Prepare the stand-ins for the notebooks' online ``parameters``; return the
    environment the kernels need."""
    root = Path(root)
    handles = {p["EMBEDDER"] for p in parameters if "://" in str(p.get("EMBEDDER", ""))}
    names = {p["DATASET"] for p in parameters if p.get("DATASET")}
    env = {"CBR_EDU_CACHE_DIR": str(root / "cache"), "TFHUB_CACHE_DIR": str(root / "hub")}
    if handles:
        model = _hub_like_saved_model(root / "saved_model")
        for handle in handles:
            shutil.copytree(model, root / "hub" / hashlib.sha1(handle.encode()).hexdigest())
    if names:
        env["CBR_EDU_REGISTRY"] = str(_registry(root, names))
    return env


def _hub_like_saved_model(path):
    """EfficientNet-Lite0 as a SavedModel taking 224×224 RGB in [0, 1]."""
    import keras

    from cbr_edu.embedders import load_embedder

    inputs = keras.Input((224, 224, 3), name="images")
    vectors = load_embedder("efficientnet_lite0").as_layer()(keras.layers.Rescaling(255.0)(inputs))
    keras.Model(inputs, vectors).export(str(path), format="tf_saved_model", verbose=False)
    return path


def _registry(root, names):
    """A copy of the packaged registry whose entries ``names`` point at local archives."""
    from cbr_edu.datasets.registry import registry_path

    doc = yaml.safe_load(registry_path().read_text(encoding="utf-8"))
    for entry in doc["datasets"]:
        if entry["name"] in names:
            archive = _archive(root / "archives", entry)
            entry["source"]["files"] = [{
                "url": archive.as_uri(), "bytes": archive.stat().st_size,
                "sha256": hashlib.sha256(archive.read_bytes()).hexdigest()}]
    path = root / "datasets.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _archive(folder, entry):
    """A small archive with the layout of ``entry`` (class folders in each split)."""
    from PIL import Image
    from skimage import data

    from cbr_edu.images import to_rgb

    source = entry["source"]
    if source.get("layout") != "class_folders" or len(source["files"]) != 1:
        raise NotImplementedError(f"no stand-in for {entry['name']}: only one-archive "
                                  "class_folders data sets are built")
    url_name = source["files"][0]["url"].rsplit("/", 1)[1]
    classes = list(source.get("class_names") or
                   (f"class_{k}" for k in range(entry["classes"])))
    photos = [to_rgb(getattr(data, name)()) for name in _PHOTOS]
    tree = folder / entry["name"]
    rng = np.random.default_rng(0)
    for split, rel in (source.get("splits") or {None: source["root"]}).items():
        for k, name in enumerate(classes):
            (tree / rel / name).mkdir(parents=True, exist_ok=True)
            for i in range(_PER_CLASS.get(split, 4)):
                image = _view(photos, k % len(photos), rng)
                Image.fromarray(image).save(tree / rel / name / f"{i:03d}.jpg", quality=90)
    archive = folder / url_name
    with tarfile.open(archive, "w:gz") as tar:
        for top in sorted(tree.iterdir()):
            tar.add(top, arcname=top.name)
    return archive


def _view(photos, k, rng):
    """A random crop of photo ``k`` (half to nine tenths of its side, maybe mirrored)
    with a crop of another photo blended in: a class with real variation inside it,
    so accuracies differ between episodes as on real photos."""
    from cbr_edu.images import resize

    def crop(image):
        height, width = image.shape[:2]
        side = int(min(height, width) * rng.uniform(0.5, 0.9))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        part = image[top:top + side, left:left + side]
        return resize(part[:, ::-1] if rng.random() < 0.5 else part, (_SIDE, _SIDE))

    other = photos[(k + rng.integers(1, len(photos))) % len(photos)]
    return (0.6 * crop(photos[k]) + 0.4 * crop(other)).astype(np.uint8)
