"""Float vs int8 retrieval weights in an exported CbR ``.tflite`` (embedding input).

Index: N random unit vectors of dimension D in C classes. Queries: noisy copies
of index rows (the "which album is this photo from" case). Both models are
exported in the same run, then measured side by side with ai_edge_litert:

* file size (target: int8 ≈ N·D bytes plus a little);
* batch-1 latency, median of many runs, float and int8 runs interleaved so
  machine noise hits both alike (target: int8 ≤ 0.5× float);
* top-1 agreement of int8 with float on the queries (target ≥ 99.5 %), and with
  the exact numpy answer.

Usage::

    python benchmarks/bench_tflite.py                 # N=100000, D=1024, C=50000
    python benchmarks/bench_tflite.py --n 20000 --d 512 --runs 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000, help="indexed examples (default 100000)")
    p.add_argument("--d", type=int, default=1024, help="embedding size (default 1024)")
    p.add_argument("--classes", type=int, default=50_000, help="classes (default 50000)")
    p.add_argument("--queries", type=int, default=2000, help="agreement queries (default 2000)")
    p.add_argument("--noise", type=float, default=0.5,
                   help="query = row + noise * unit-norm noise (default 0.5)")
    p.add_argument("--runs", type=int, default=200, help="timed batch-1 runs per model")
    p.add_argument("--threads", type=int, default=None, help="LiteRT threads (default: LiteRT's)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    # cbr_edu first: it loads LiteRT with its start-up note filtered
    from cbr_edu.tflite import export_tflite
    from cbr_edu.model import build_cbr_model  # noqa: F401 (keeps the import cost out of timing)
    from cbr_edu.classifier import CbRClassifier
    from ai_edge_litert.interpreter import Interpreter

    rng = np.random.default_rng(args.seed)
    n, d = args.n, args.d
    print(f"index N={n}, D={d}, C={args.classes}; {args.queries} queries "
          f"(noise {args.noise}); {args.runs} batch-1 runs per model; "
          f"LiteRT threads={args.threads or 'default'}; {os.cpu_count()} CPUs")
    index = rng.standard_normal((n, d), dtype=np.float32)
    index /= np.linalg.norm(index, axis=1, keepdims=True)
    labels = np.arange(n) % args.classes
    rows = rng.integers(0, n, args.queries)
    noise = rng.standard_normal((args.queries, d), dtype=np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    queries = index[rows] + args.noise * noise

    clf = CbRClassifier().fit(index, labels)
    out = Path(tempfile.mkdtemp(prefix="cbr-bench-"))
    results = {}
    for kind, quantize in (("float32", None), ("int8", "int8")):
        t = time.perf_counter()
        res = export_tflite(clf, out / f"{kind}.tflite", quantize=quantize, labels_file=False)
        results[kind] = {"export_s": time.perf_counter() - t, "bytes": res.bytes,
                         "retrieval_bytes": res.retrieval_bytes}

    interps = {}
    for kind in results:
        it = Interpreter(model_path=str(out / f"{kind}.tflite"), num_threads=args.threads)
        it.allocate_tensors()
        interps[kind] = (it, it.get_input_details()[0]["index"], it.get_output_details()[0]["index"])

    def run(kind, x):
        it, i, o = interps[kind]
        it.set_tensor(i, x[None])
        it.invoke()
        return it.get_tensor(o)[0]

    # top-1 on every query (batch 1, the phone case)
    top = {kind: np.empty(args.queries, np.int64) for kind in results}
    for q in range(args.queries):
        for kind in results:
            top[kind][q] = run(kind, queries[q]).argmax()
    class_of_row = clf.classes_.searchsorted(labels)
    exact = class_of_row[np.argmax(queries / np.linalg.norm(queries, axis=1, keepdims=True)
                                   @ index.T, axis=1)]

    # latency, interleaved
    times = {kind: [] for kind in results}
    for kind in results:  # warm-up
        for _ in range(5):
            run(kind, queries[0])
    for r in range(args.runs):
        x = queries[r % args.queries]
        order = list(results) if r % 2 == 0 else list(results)[::-1]
        for kind in order:
            t = time.perf_counter()
            run(kind, x)
            times[kind].append(time.perf_counter() - t)

    f, q = results["float32"], results["int8"]
    for kind in results:
        results[kind]["median_ms"] = 1e3 * statistics.median(times[kind])
        results[kind]["p90_ms"] = 1e3 * float(np.percentile(times[kind], 90))
        results[kind]["exact_agree"] = float((top[kind] == exact).mean())
    agreement = float((top["int8"] == top["float32"]).mean())

    print()
    print(f"{'model':<9}{'file MB':>10}{'retrieval MB':>14}{'export s':>10}"
          f"{'b=1 median ms':>15}{'p90 ms':>9}{'top-1 = exact':>15}")
    for kind, r in results.items():
        print(f"{kind:<9}{r['bytes'] / 1e6:>10.1f}{r['retrieval_bytes'] / 1e6:>14.1f}"
              f"{r['export_s']:>10.1f}{r['median_ms']:>15.2f}{r['p90_ms']:>9.2f}"
              f"{100 * r['exact_agree']:>14.2f}%")
    print()
    print(f"int8 file / (N·D bytes)   : {q['bytes'] / (n * d):.3f}   (target ≈ 1 + overhead)")
    print(f"int8 / float file size    : {q['bytes'] / f['bytes']:.3f}")
    print(f"int8 / float b=1 latency  : {q['median_ms'] / f['median_ms']:.2f}   (target ≤ 0.5)")
    print(f"int8 top-1 = float top-1  : {100 * agreement:.2f} %   (target ≥ 99.5 %)")
    for kind in results:
        os.unlink(out / f"{kind}.tflite")
    os.rmdir(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
