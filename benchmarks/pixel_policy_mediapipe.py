"""How far MediaPipe's ImageClassifier lands from Python, for candidate resize methods.

MediaPipe decodes and resizes an image by itself before it runs our exported
``.tflite``; Python resizes with :func:`cbr_edu.images.resize`. This script
exports a Lite0 CbR classifier (fitted on crops of bundled photos), then scores
the same files three ways:

* **MediaPipe, file**: ``mp.Image.create_from_file`` — MediaPipe's own decoder
  and resize;
* **MediaPipe, pixels**: our decoded RGB (``read_image``) handed to MediaPipe,
  so only the resize differs;
* **Python**: our decoded RGB resized by each candidate method, scored by the
  same ``.tflite`` in LiteRT.

It prints, per candidate and per group of files (the awkward files of the
pixel-parity test, ordinary photos of 300–740 px, big photos of 1600 and
4000 px), the largest |class score difference| to MediaPipe and how many
top-1 answers agree; then how far each candidate is from an antialiased
reference on the big photos (what a non-antialiased resize does to a 4000-px
photo).

Usage::

    python benchmarks/pixel_policy_mediapipe.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SIZE = (224, 224)


# ----------------------------------------------------------------------------- candidates

def pil(resample, reducing_gap=None):
    def run(rgb):
        return np.asarray(Image.fromarray(rgb).resize(SIZE[::-1], resample,
                                                      reducing_gap=reducing_gap))
    return run


def cv(interpolation):
    import cv2

    def run(rgb):
        return cv2.resize(rgb, SIZE[::-1], interpolation=interpolation)
    return run


def cv_warp(rgb):
    """What MediaPipe's CPU image-to-tensor does: corners to corners, warpPerspective,
    INTER_LINEAR, replicated border."""
    import cv2
    h, w = rgb.shape[:2]
    src = np.float32([[0, h], [0, 0], [w, 0], [w, h]])
    dst = np.float32([[0, SIZE[0]], [0, 0], [SIZE[1], 0], [SIZE[1], SIZE[0]]])
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(rgb, matrix, SIZE[::-1], flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def corner_bilinear(gap):
    """cbr_edu's corner-to-corner bilinear, after a box reduce to at most ``gap`` × size."""
    from cbr_edu.images import prepare

    def run(rgb):
        if gap:
            rgb = prepare._box_reduce(rgb, SIZE, gap)
        return prepare._corner_bilinear(rgb, SIZE)
    return run


def candidates():
    import cv2
    from cbr_edu.images import prepare
    B = Image.Resampling
    return {
        "pil-bilinear (antialiased; policy v1)": pil(B.BILINEAR),
        "pil-bilinear reducing_gap=2": pil(B.BILINEAR, 2.0),
        "pil-box (area)": pil(B.BOX),
        "opencv INTER_AREA": cv(cv2.INTER_AREA),
        "opencv INTER_LINEAR (half-pixel, no AA)": cv(cv2.INTER_LINEAR),
        "opencv warpPerspective (MediaPipe's own)": cv_warp,
        "corner bilinear, no reduce": corner_bilinear(None),
        "box-reduce to <=2x + corner bilinear": corner_bilinear(2),
        "box-reduce to <=3x + corner bilinear": corner_bilinear(3),
        "box-reduce to <=4x + corner bilinear": corner_bilinear(4),
        "cbr_edu.images.resize (this checkout)": lambda rgb: prepare.resize(rgb, SIZE),
    }


# ----------------------------------------------------------------------------- inputs

def _noisy_upscale(rgb, width, seed):
    """A big 'phone photo': the bundled photo enlarged, with sensor-like noise."""
    height = round(width * rgb.shape[0] / rgb.shape[1])
    big = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.LANCZOS))
    noise = np.random.default_rng(seed).normal(0, 6, big.shape)
    return np.clip(big + noise, 0, 255).astype(np.uint8)


def ordinary_files(folder, photos):
    folder.mkdir(parents=True, exist_ok=True)
    small = {}
    for name in ("cat", "china", "hopper", "astronaut", "motorcycle"):
        small[name] = folder / f"{name}.jpg"
        Image.fromarray(photos[name]).save(small[name], quality=92)
    big = {}
    for name, width, seed in (("hopper", 1000, 1), ("china", 1600, 2), ("astronaut", 2400, 3),
                              ("coffee", 4000, 4), ("motorcycle", 4000, 5)):
        big[f"{name}_{width}"] = folder / f"{name}_{width}.jpg"
        Image.fromarray(_noisy_upscale(photos[name], width, seed)).save(
            big[f"{name}_{width}"], quality=92)
    return small, big


# ----------------------------------------------------------------------------- scoring

def mediapipe_scores(model, labels, items):
    """Class scores from MediaPipe's ImageClassifier; items are paths or RGB arrays.

    A row is NaN where MediaPipe fails (it refuses grey images, for one).
    """
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision
    options = vision.ImageClassifierOptions(
        base_options=BaseOptions(model_asset_path=str(model)), max_results=-1)
    out = np.full((len(items), len(labels)), np.nan, np.float32)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for i, item in enumerate(items):
            image = (mp.Image.create_from_file(str(item)) if isinstance(item, Path) else
                     mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(item)))
            if image.image_format not in (mp.ImageFormat.SRGB, mp.ImageFormat.SRGBA):
                # a grey image gives a 1-channel tensor and the graph stops for good
                print(f"MediaPipe refuses {item.name}: decoded as {image.image_format}",
                      file=sys.stderr)
                continue
            for category in classifier.classify(image).classifications[0].categories:
                out[i, labels.index(category.category_name)] = category.score
    return out


def summary(a, b):
    ok = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    failed = f" ({int((~ok).sum())} failed)" if not ok.all() else ""
    a, b = a[ok], b[ok]
    return f"{np.abs(a - b).max():.4f} {int((a.argmax(1) == b.argmax(1)).sum())}/{len(a)}{failed}"


def main():
    from test_pixel_parity import bundled_photos, write_awkward_files

    from cbr_edu import CbRClassifier, export_tflite
    from cbr_edu.tflite import LiteRTClassifier
    from cbr_edu.images import read_image

    photos = bundled_photos()
    work = Path(tempfile.mkdtemp(prefix="pixel-policy-"))
    names = ("cat", "coffee", "rocket", "flower")
    index = [c for n in names for c in (photos[n][: photos[n].shape[0] * 3 // 4,
                                                 : photos[n].shape[1] * 3 // 4],
                                        photos[n][photos[n].shape[0] // 4:,
                                                  photos[n].shape[1] // 4:])]
    clf = CbRClassifier(embedder="efficientnet_lite0").fit(index, np.repeat(names, 2))
    model = work / "cbr.tflite"
    export_tflite(clf, model)
    litert = LiteRTClassifier(model)
    labels = litert.class_names

    small, big = ordinary_files(work / "photos", photos)
    groups = {"awkward (8)": list(write_awkward_files(work / "awkward", photos).values()),
              "photos 300-740 px (5)": list(small.values()),
              "big 1000-4000 px (5)": list(big.values())}
    decoded = {g: [read_image(p) for p in paths] for g, paths in groups.items()}
    mp_file = {g: mediapipe_scores(model, labels, paths) for g, paths in groups.items()}
    mp_pixels = {g: mediapipe_scores(model, labels, decoded[g]) for g in groups}

    print(f"max |score diff| to MediaPipe and top-1 agreement; {len(labels)} classes")
    print(f"{'method':44s} " + " ".join(f"{g:>30s}" for g in groups))
    reference = {}
    for method, resize in candidates().items():
        cells = []
        for g in groups:
            python = litert.scores(np.stack([resize(rgb) for rgb in decoded[g]]))
            reference.setdefault(g, python)
            cells.append(f"pixels {summary(python, mp_pixels[g])} | file "
                         f"{summary(python, mp_file[g])}")
        print(f"{method:44s} " + " ".join(f"{c:>30s}" for c in cells))

    g = "big 1000-4000 px (5)"
    print(f"\non {g}: distance of each method to the antialiased Pillow bilinear")
    for method, resize in candidates().items():
        python = litert.scores(np.stack([resize(rgb) for rgb in decoded[g]]))
        print(f"  {method:44s} {summary(python, reference[g])}")
    print(f"  {'MediaPipe (pixels)':44s} {summary(mp_pixels[g], reference[g])}")
    from cbr_edu.images import prepare
    shrunk = [prepare._box_reduce(rgb, SIZE, prepare.MAX_SHRINK) for rgb in decoded[g]]
    python = litert.scores(np.stack([prepare.resize(rgb, SIZE) for rgb in decoded[g]]))
    print(f"\non {g}: MediaPipe given the photos box-reduced to <= {prepare.MAX_SHRINK}x "
          f"(as an app that shrinks big photos first)\n  to this checkout's Python: "
          f"{summary(mediapipe_scores(model, labels, shrunk), python)}")
    print("\nscore change when the photo moves by one pixel (aliasing), per group")
    for method, resize in candidates().items():
        cells = []
        for g in groups:
            a = litert.scores(np.stack([resize(rgb) for rgb in decoded[g]]))
            b = litert.scores(np.stack([resize(rgb[1:, 1:]) for rgb in decoded[g]]))
            cells.append(f"{np.abs(a - b).max():.4f}")
        print(f"  {method:44s} " + " ".join(f"{c:>10s}" for c in cells))
    print("\nper file, MediaPipe(file) vs MediaPipe(pixels): decoding alone")
    for g, paths in groups.items():
        for p, a, b in zip(paths, mp_file[g], mp_pixels[g]):
            print(f"  {p.name:28s} {np.abs(a - b).max():.4f}")


if __name__ == "__main__":
    main()
