"""Re-fitting one CbRClassifier against building a new one, and adding examples one by one.

1. Few-shot episodes (default 5-way 1-shot, D=1280, 15 queries per class): one
   classifier re-fitted per episode, against a new classifier per episode. The
   two ways alternate episode by episode so machine noise hits both alike; the
   median seconds per episode (fit + predict) and their ratio are printed.
2. The builder app's click: add one example, then predict one query. The median
   seconds per click while the index grows from 10 to N examples.

Run: ``python benchmarks/bench_refit.py --help``. Run it once more with another
checkout first on ``PYTHONPATH`` to print the same figures for that code.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def episode(rng, ways, shots, queries, dim):
    """Support and query embeddings of one episode (clusters around random centres)."""
    centres = rng.normal(size=(ways, dim))
    labels = np.repeat(np.arange(ways), shots)
    support = centres[labels] + rng.normal(size=(len(labels), dim))
    query = centres[np.repeat(np.arange(ways), queries)] + rng.normal(size=(ways * queries, dim))
    return support.astype(np.float32), labels, query.astype(np.float32)


def seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def episodes(args, rng):
    from cbr_edu import CbRClassifier

    reused = CbRClassifier()
    times = {"one classifier, re-fitted": [], "a new classifier each time": []}
    for i in range(args.episodes + 1):
        support, labels, query = episode(rng, args.ways, args.shots, args.queries, args.dim)
        refit = seconds(lambda: reused.fit(support, labels).predict(query))
        fresh = seconds(lambda: CbRClassifier().fit(support, labels).predict(query))
        if i:  # the first episode warms up imports and thread pools
            times["one classifier, re-fitted"].append(refit)
            times["a new classifier each time"].append(fresh)
    return {name: statistics.median(t) for name, t in times.items()}


def clicks(args, rng):
    from cbr_edu import CbRClassifier

    X = rng.normal(size=(args.clicks + 10, args.dim)).astype(np.float32)
    y = np.arange(len(X)) % 5
    clf = CbRClassifier().fit(X[:10], y[:10])
    clf.predict(X[:1])
    times = [seconds(lambda: clf.add_examples(X[i:i + 1], y[i:i + 1]).predict(X[i:i + 1]))
             for i in range(10, len(X))]
    return statistics.median(times), max(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--queries", type=int, default=15, help="per class")
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--clicks", type=int, default=200, help="examples added one by one")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    import cbr_edu
    print(f"cbr_edu from {os.path.dirname(cbr_edu.__file__)}; {os.cpu_count()} CPUs")
    print(f"{args.ways}-way {args.shots}-shot, D={args.dim}, {args.queries} queries per "
          f"class; median of {args.episodes} episodes (fit + predict):")
    medians = episodes(args, rng)
    for name, value in medians.items():
        print(f"  {name:<28} {value * 1e3:8.1f} ms")
    fresh, reused = medians["a new classifier each time"], medians["one classifier, re-fitted"]
    print(f"  ratio new / re-fitted: {fresh / reused:.1f}x")
    median, worst = clicks(args, rng)
    print(f"add one example + predict one query, index 10 -> {10 + args.clicks}: "
          f"median {median * 1e3:.1f} ms, slowest {worst * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
