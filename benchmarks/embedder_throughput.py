"""The offline embedder's images/s: LiteRT (the default runtime) against Keras, side by side.

EfficientNet-Lite0 is loaded twice, ``runtime="litert"`` and ``runtime="keras"``;
both embed the same random 224x224 uint8 images (already at the input size, so
the figure is the model, not the resize) in rounds that alternate between them,
so machine noise hits both alike, each call after a short rest (worker threads
that keep spinning after a call would slow the other runtime on 2 cores). Two workloads: ``embed`` of ``--n`` images at
the default batch size (a notebook embedding a data set) and ``embed`` of one
image at a time (a live preview). Printed: median images/s, the ratio LiteRT /
Keras (target: at least 2.5x), the largest difference between the two
embeddings (target: at most 1e-4), and what the first LiteRT call costs on an
empty cache (building the Keras graph and converting it; later calls read the
converted file from the cache).

Usage: ``python benchmarks/embedder_throughput.py [--n 64] [--rounds 5]``
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def first_call_seconds():
    """Seconds to build and convert the embedder for LiteRT with an empty cache."""
    from cbr_edu._paths import CACHE_ENV
    from cbr_edu.embedders import load_embedder
    from cbr_edu.tflite.convert import convert_embedder
    old = os.environ.get(CACHE_ENV)
    with tempfile.TemporaryDirectory() as empty:
        os.environ[CACHE_ENV] = empty
        try:
            start = time.perf_counter()
            convert_embedder(load_embedder("efficientnet_lite0"))
            return time.perf_counter() - start
        finally:
            if old is None:
                del os.environ[CACHE_ENV]
            else:
                os.environ[CACHE_ENV] = old


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="images per data-set round")
    parser.add_argument("--single", type=int, default=16, help="images embedded one by one")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--settle", type=float, default=0.3,
                        help="seconds of rest before each timed call (default 0.3)")
    parser.add_argument("--no-cold", action="store_true",
                        help="skip measuring the first call on an empty cache")
    args = parser.parse_args(argv)

    import cbr_edu  # noqa: F401  (first: TensorFlow and LiteRT load without their start-up notes)
    import tensorflow as tf

    from cbr_edu.embedders import load_embedder
    from cbr_edu.embedders._litert import usable_cpus

    images = np.random.default_rng(0).integers(0, 256, (args.n, 224, 224, 3), dtype=np.uint8)
    print(f"EfficientNet-Lite0, {args.n} random 224x224 images | TensorFlow {tf.__version__}, "
          f"{usable_cpus()} usable CPUs (LiteRT: {usable_cpus()} threads, one image per invoke), "
          f"load average {os.getloadavg()[0]:.1f}")
    embedders = {"litert": load_embedder("efficientnet_lite0"),
                 "keras": load_embedder("efficientnet_lite0", runtime="keras")}
    out = {name: emb.embed(images, progress=False) for name, emb in embedders.items()}  # warm-up
    diff = float(np.abs(out["litert"] - out["keras"]).max())

    workloads = {
        f"embed({args.n} images)": (lambda emb: emb.embed(images, progress=False), args.n),
        "embed(1 image), one by one": (
            lambda emb: [emb.embed(images[i:i + 1]) for i in range(args.single)], args.single),
    }
    seconds = {(w, name): [] for w in workloads for name in embedders}
    for r in range(args.rounds):
        for w, (run, _) in workloads.items():
            order = list(embedders) if r % 2 == 0 else list(embedders)[::-1]
            for name in order:
                time.sleep(args.settle)
                start = time.perf_counter()
                run(embedders[name])
                seconds[w, name].append(time.perf_counter() - start)

    print(f"\n{'workload':<30} {'LiteRT img/s':>13} {'Keras img/s':>12} {'LiteRT / Keras':>15}")
    for w, (_, count) in workloads.items():
        rate = {name: count / statistics.median(seconds[w, name]) for name in embedders}
        print(f"{w:<30} {rate['litert']:>13.1f} {rate['keras']:>12.1f} "
              f"{rate['litert'] / rate['keras']:>14.2f}x")
    print(f"\nmax |LiteRT - Keras| embedding difference: {diff:.1e} (target <= 1e-4)")
    if not args.no_cold:
        print(f"first LiteRT call on an empty cache (Keras graph + conversion): "
              f"{first_call_seconds():.1f} s, once; then read from the cache")


if __name__ == "__main__":
    main()
