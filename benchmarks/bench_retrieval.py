"""Retrieval speed: the CbR Keras model against the BLAS floor and other searchers.

Index of N embeddings (D-dim, float32, C classes); queries at batch 1 and 256.
Every contender is timed in the same run, interleaved round by round, and
reported as a ratio to the BLAS floor: numpy ``q @ W`` with ``W`` stored D×N
(the cost of the similarities alone, nothing else). Target: the CbR model at
≤1.2× the floor at both batch sizes.

Run: ``make bench`` (or ``python benchmarks/bench_retrieval.py --help``).
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402


def timings(contenders, rounds):
    """Median seconds per contender, measured round-robin so noise hits all alike."""
    for run in contenders.values():
        run()  # warm-up: graph tracing, page faults, thread pools
    seconds = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    return {name: float(np.median(s)) for name, s in seconds.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--classes", type=int, default=10_000)
    parser.add_argument("--batches", default="1,256")
    parser.add_argument("--rounds", type=int, default=0,
                        help="timing rounds per batch size (default: 30 at b=1, 5 above)")
    args = parser.parse_args()

    import keras
    import tensorflow as tf
    from sklearn.neighbors import NearestNeighbors

    from cbr_edu import build_cbr_model
    from cbr_edu.similarity import l2_normalize

    n, d, c = args.instances, args.dim, args.classes
    print(f"N={n:,} D={d} C={c:,} float32 | Python {platform.python_version()}, "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs")
    for pool in threadpool_info():
        owner = "numpy" if "numpy" in pool.get("filepath", "") else os.path.basename(
            os.path.dirname(pool.get("filepath", "?")))
        print(f"thread pool ({owner}): {pool.get('internal_api')} {pool.get('version')} "
              f"kernel={pool.get('architecture', 'n/a')} threads={pool.get('num_threads')}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"warning: {var}={os.environ[var]} is set and slows the numpy reference")

    rng = np.random.default_rng(0)
    index = rng.standard_normal((n, d), dtype=np.float32)
    labels = rng.permutation(np.arange(n) % c)
    unit = l2_normalize(index).astype(np.float32)
    floor_weights = np.ascontiguousarray(unit.T)  # D×N, the layout of q @ W

    model = build_cbr_model(index, labels)
    # the same model with its predict step compiled by XLA (fuses the whole head)
    xla_model = build_cbr_model(index, labels)
    xla_model.compile(jit_compile=True)
    knn = NearestNeighbors(n_neighbors=1, metric="cosine", algorithm="brute").fit(unit)
    try:
        import faiss
        faiss_index = faiss.IndexFlatIP(d)
        faiss_index.add(unit)
    except ImportError:
        faiss_index = None
        print("faiss not installed: skipping IndexFlatIP (pip install faiss-cpu)")

    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        queries = rng.standard_normal((batch, d), dtype=np.float32)
        contenders = {
            "BLAS floor: numpy q @ W": lambda: queries @ floor_weights,
            "CbR Keras model (predict_on_batch)": lambda: model.predict_on_batch(queries),
            "CbR Keras model, XLA (jit_compile)": lambda: xla_model.predict_on_batch(queries),
            "scikit-learn brute cosine 1-NN": lambda: knn.kneighbors(queries, 1),
        }
        if faiss_index is not None:
            contenders["FAISS IndexFlatIP (top-1)"] = lambda: faiss_index.search(queries, 1)
        rounds = args.rounds or (30 if batch == 1 else 5)
        result = timings(contenders, rounds)
        floor = result["BLAS floor: numpy q @ W"]
        for name, seconds in result.items():
            rows.append((batch, name, seconds * 1e3, seconds / floor))

    # the model's answer must be the true nearest neighbour's class (max aggregation)
    check = rng.standard_normal((8, d), dtype=np.float32)
    nearest = np.argmax(l2_normalize(check) @ unit.T, axis=1)
    classes = np.unique(labels)
    for m in (model, xla_model):
        assert np.array_equal(classes[np.argmax(m.predict_on_batch(check), 1)], labels[nearest])

    print(f"\n{'batch':>5}  {'method':<36} {'ms/batch':>10} {'× floor':>8}")
    for batch, name, ms, ratio in rows:
        print(f"{batch:>5}  {name:<36} {ms:>10.1f} {ratio:>8.2f}")
    print()
    for variant in ("CbR Keras model (predict_on_batch)", "CbR Keras model, XLA (jit_compile)"):
        cbr = {b: r for b, name, _, r in rows if name == variant}
        verdict = "meets" if all(r <= 1.2 for r in cbr.values()) else "misses"
        print(f"{variant} vs BLAS floor: "
              + ", ".join(f"b={b}: {r:.2f}×" for b, r in cbr.items())
              + f" — {verdict} the ≤1.2× target at every batch size")


if __name__ == "__main__":
    main()
