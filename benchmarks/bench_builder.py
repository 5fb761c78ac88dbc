"""The builder's speed: a preview answer for one image, and what adding an image costs.

1. Preview latency: ``Builder.answer`` on one camera-sized photo (640×480 JPEG, as
   the webcam sends it) after the embedder is warm — decode, pixel policy, embed,
   class scores, nearest example. Target: under 100 ms. The median over many
   calls, with the embedding alone beside it.
2. Adding an image: ``Builder.add_images`` with one photo (embedding + one row
   written into the live index) beside what rebuilding a CbR Keras model would
   cost (a new model from all embeddings + its first answer), at the project's
   size and at a large index (random embeddings); and the live index's answer
   at that size. Measured side by side in one run.

Run: ``python benchmarks/bench_builder.py`` (offline; about a minute).
"""

import argparse
import io
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def median_ms(run, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def camera_frame(image):
    """A 640×480 JPEG upload, as the webcam widget sends frames."""
    out = io.BytesIO()
    Image.fromarray(image).resize((640, 480)).save(out, "JPEG", quality=90)
    return {"name": "camera.jpg", "content": out.getvalue()}


def project(embedder):
    from cbr_edu import datasets
    from cbr_edu.app import Builder
    photos = datasets.load("photo_views")
    app = Builder(embedder=embedder, cache=False)
    for c, name in enumerate(photos.class_names):
        views = [photos.images[i] for i in np.flatnonzero(photos.labels == c)]
        app.add_class(name, views[:5])
    return app, photos


def preview(app, photos, repeats):
    frame = camera_frame(photos.images[5])
    for _ in range(3):
        app.answer(frame)                       # warm up: traces, thread pools
    prepared = np.zeros((1, *app.embedder.input_size, 3), np.uint8)
    return {"answer (decode + embed + scores + nearest)": median_ms(lambda: app.answer(frame),
                                                                    repeats),
            "of which the embedding": median_ms(lambda: app.embedder.embed(prepared), repeats)}


def adding(app, photos, repeats, large):
    """Per click: the builder's add (embed + one row) beside rebuilding a model."""
    from cbr_edu import CbRClassifier
    from cbr_edu.app._index import LiveIndex
    frame = camera_frame(photos.images[12])
    rows = {f"add one image to {app._live.size} (embed + append a row)": median_ms(
        lambda: app.add_images("coffee", [frame]), repeats)}
    embeddings, labels = app._stack()
    rows[f"rebuild a CbR model of {len(labels)} + its first answer"] = median_ms(
        lambda: CbRClassifier.from_index(embeddings, labels).class_scores(embeddings[:1]), 5)
    rng = np.random.default_rng(0)
    big = rng.normal(size=(large + repeats, embeddings.shape[1])).astype(np.float32)
    big_labels = [f"class {i % 50}" for i in range(len(big))]
    live = LiveIndex()
    live.reset(big[:large], big_labels[:large])
    extra = iter(range(large, large + repeats))
    rows[f"append one row to the live index of {large}"] = median_ms(
        lambda: (lambda i: live.append(big[i:i + 1], big_labels[i]))(next(extra)), repeats)
    rows[f"rebuild a CbR model of {large} + its first answer"] = median_ms(
        lambda: CbRClassifier.from_index(big[:large], big_labels[:large]).class_scores(
            big[:1]), 3)
    rows[f"answer one embedding from the live index of {large}"] = median_ms(
        lambda: live.best_per_class(live.similarities(big[0])), repeats)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", default="efficientnet_lite0")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--large", type=int, default=5000, help="rows of the large index")
    args = parser.parse_args(argv)
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")   # the rebuilds below retrace on purpose
    app, photos = project(args.embedder)
    print(f"builder with {len(app.classes)} classes, {app._live.size} images, embedder "
          f"{args.embedder}; medians of {args.repeats} runs")
    for name, ms in preview(app, photos, args.repeats).items():
        print(f"  {name:<56} {ms:9.3f} ms")
    rows = adding(app, photos, args.repeats, args.large)
    names = list(rows)
    for name in names:
        print(f"  {name:<56} {rows[name]:9.3f} ms")
    print(f"  at {args.large} rows a click writes one row; rebuilding a model instead would "
          f"cost {rows[names[3]] / max(rows[names[2]], 1e-6):,.0f}x that")


if __name__ == "__main__":
    main()
