"""The int8 embedder for phones against the float one: size, latency, embeddings, accuracy.

EfficientNet-Lite0 converted by :func:`cbr_edu.tflite.convert.convert_embedder`
twice -- float32, and full-integer int8 calibrated on the bundled photos (what
``export_tflite(..., quantize="int8")`` and ``build --int8`` put in the file) --
then, with LiteRT in the same run:

* file size (target: int8 at most 0.35x the float embedder);
* batch-1 latency, median of ``--runs`` runs, float and int8 interleaved, with one
  thread (a phone's little core) and with every usable CPU;
* cosine of each int8 embedding to the float one, on every offline data set;
* CbR (max) few-shot accuracy on each offline set, float against int8 on the same
  episodes, and their difference episode by episode with its 95 % interval
  (target: int8 within 1 point of float).

Usage: ``python benchmarks/bench_int8_embedder.py [--episodes 300] [--runs 50]``
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

#: offline set -> (ways, shots, queries per class) of its episodes
SETS = {"photo_patches": (5, (1, 5), 15), "photo_views": (5, (1,), 5), "textures": (5, (1, 5), 15),
        "lfw_subset": (2, (1, 5), 15), "digits": (5, (1, 5), 15)}


def latency_ms(models, image, runs, threads):
    """Median batch-1 milliseconds per model, the models taking turns."""
    from ai_edge_litert.interpreter import Interpreter
    interpreters = {}
    for name, data in models.items():
        it = Interpreter(model_content=data, num_threads=threads)
        it.allocate_tensors()
        interpreters[name] = (it, it.get_input_details()[0]["index"])
    times = {name: [] for name in models}
    for r in range(runs + 3):
        for name, (it, index) in interpreters.items():
            start = time.perf_counter()
            it.set_tensor(index, image)
            it.invoke()
            if r >= 3:  # the first runs warm up caches and thread pools
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=50, help="timed batch-1 runs per model")
    args = parser.parse_args(argv)

    from cbr_edu import datasets
    from cbr_edu.embedders import load_embedder
    from cbr_edu.embedders._litert import LiteRTRunner, usable_cpus
    from cbr_edu.fewshot import CbR, ci95, evaluate
    from cbr_edu.images import prepare_images
    from cbr_edu.tflite.convert import convert_embedder

    embedder = load_embedder("efficientnet_lite0")
    models, convert_s = {}, {}
    for name, quantize in (("float32", None), ("int8", "int8")):
        start = time.perf_counter()
        models[name], cached = convert_embedder(embedder, quantize=quantize)
        convert_s[name] = "cached" if cached else f"{time.perf_counter() - start:.0f} s"
    f, q = (len(models[k]) for k in ("float32", "int8"))
    print(f"EfficientNet-Lite0 as .tflite (uint8 224x224 in, 1280-d float out); "
          f"{usable_cpus()} usable CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"  size: float32 {f / 1e6:.2f} MB, int8 {q / 1e6:.2f} MB = {q / f:.2f}x "
          f"(target <= 0.35x); conversion: float {convert_s['float32']}, "
          f"int8 {convert_s['int8']}")
    image = prepare_images(datasets.load("photo_views").images[:1], embedder.input_size)
    for threads in sorted({1, usable_cpus()}):
        ms = latency_ms(models, image, args.runs, threads)
        print(f"  LiteRT batch 1, {threads} thread(s): float32 {ms['float32']:.1f} ms, "
              f"int8 {ms['int8']:.1f} ms = {ms['int8'] / ms['float32']:.2f}x")

    runners = {name: LiteRTRunner(data) for name, data in models.items()}
    print(f"\n{'offline set':<18} {'images':>6} {'cosine min / mean':>18}  CbR max accuracy %, "
          f"float -> int8, int8 - float in points (95 % interval, paired), "
          f"{args.episodes} episodes")
    for name, (ways, shots, queries) in SETS.items():
        ds = datasets.load(name)
        x = prepare_images(ds.images, embedder.input_size)
        emb = {kind: run(x) for kind, run in runners.items()}
        a, b = emb["float32"], emb["int8"]
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        cells = []
        for s in shots:
            per_episode = {kind: evaluate([CbR("max")], e, ds.labels, ways=ways, shots=s,
                                          queries=queries, episodes=args.episodes, seed=0
                                          ).per_episode[("CbR max", s)]
                           for kind, e in emb.items()}
            diff = 100 * (per_episode["int8"] - per_episode["float32"])
            cells.append(f"{ways}-way {s}-shot {100 * per_episode['float32'].mean():.1f} -> "
                         f"{100 * per_episode['int8'].mean():.1f} "
                         f"({diff.mean():+.1f} ± {ci95(diff):.1f})")
        print(f"{name:<18} {len(x):>6} {cosine.min():>9.3f} / {cosine.mean():.4f}  "
              + "; ".join(cells))

if __name__ == "__main__":
    main()
