"""Exact CbR against FAISS as the index grows: agreement, latency, build time, memory.

One run, side by side, on synthetic clustered embeddings (``cbr_edu.scale.synthetic``):
exact CbR as the exported ``.tflite`` (float32 and int8 retrieval weights, LiteRT)
against ``CbRClassifier(index="faiss:…")``'s path over FAISS ``Flat``, IVF-Flat,
IVF-PQ and HNSW32 (top 100 neighbours, max per class). Ratios are to exact float32
measured in the same run. Needs the ``scale`` extra.

Usage::

    python benchmarks/bench_large_index.py            # N = 10^4, 10^5 (about 2 minutes here)
    python benchmarks/bench_large_index.py --full     # N = 10^4, 10^5, 10^6 (see the README)
    python benchmarks/bench_large_index.py --sizes 30000 --dim 128 --json ''

The default run's table is kept in ``benchmarks/results/large_index.json`` (notebook 08
plots it); ``--json`` writes this run's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# FAISS's OpenMP threads spin while they wait; on a small machine shared with other work
# (and with LiteRT's threads in this same run) that steals the cores: training IVF-PQ took
# three times longer here with the default policy
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_SIZES = "10000,100000"
FULL_SIZES = "10000,100000,1000000"


def _environment():
    from threadpoolctl import threadpool_info
    import faiss
    lines = [f"Python {platform.python_version()}, FAISS {faiss.__version__}, "
             f"{os.cpu_count()} CPUs"]
    for pool in threadpool_info():
        lines.append(f"thread pool: {pool.get('internal_api')} {pool.get('version')} "
                     f"kernel={pool.get('architecture', 'n/a')} threads={pool.get('num_threads')}"
                     f" ({os.path.basename(pool.get('filepath', '?'))})")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            lines.append(f"warning: {var}={os.environ[var]} is set and slows numpy")
    return lines


def table(rows):
    """The results as text, with ratios to exact float32 at the same N."""
    lines = [f"{'N':>9} {'method':<22} {'agree':>7} {'b=1 ms':>8} {'×exact':>7} "
             f"{'b=256 ms':>9} {'×exact':>7} {'build s':>8} {'MB':>8} {'×exact':>7}"]
    for row in rows:
        ref = next(r for r in rows if r["n"] == row["n"] and r["method"] == "exact float32")
        lines.append(
            f"{row['n']:>9,} {row['method']:<22} {100 * row['agreement']:>6.1f}% "
            f"{row['b1_ms']:>8.2f} {row['b1_ms'] / ref['b1_ms']:>7.2f} "
            f"{row['b256_ms']:>9.1f} {row['b256_ms'] / ref['b256_ms']:>7.2f} "
            f"{row['build_s']:>8.1f} {row['bytes'] / 1e6:>8.1f} "
            f"{row['bytes'] / ref['bytes']:>7.3f}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=DEFAULT_SIZES, help="index sizes N (default %(default)s)")
    p.add_argument("--full", action="store_true", help=f"N = {FULL_SIZES}")
    p.add_argument("--dim", type=int, default=256, help="embedding size (default %(default)s)")
    p.add_argument("--queries", type=int, default=1000, help="agreement queries (default 1000)")
    p.add_argument("--rounds", type=int, default=5,
                   help="timed batches of 256 per method (batch 1: ten times as many)")
    p.add_argument("--methods", default=None,
                   help="a subset, separated by ';', of: exact float32; exact int8; Flat; "
                        "IVF,Flat; IVF,PQ; HNSW32 (default: all)")
    p.add_argument("--json", default="out/bench_large_index.json", metavar="OUT.json",
                   help="where to write the rows (default %(default)s; '' to skip)")
    p.add_argument("--plot", default="out/bench_large_index.png", metavar="OUT.png",
                   help="the figure (default %(default)s; '' to skip)")
    args = p.parse_args(argv)

    from cbr_edu.scale import require
    require(what="benchmarks/bench_large_index.py")
    from cbr_edu.scale.compare import METHODS, compare_indexes, plot_indexes
    sizes = [int(s) for s in (FULL_SIZES if args.full else args.sizes).split(",")]
    for line in _environment():
        print(line)
    start = time.perf_counter()
    methods = METHODS if args.methods is None else [m.strip() for m in args.methods.split(";")]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        p.error(f"--methods: unknown {unknown}; choose from {'; '.join(METHODS)}")
    rows = compare_indexes(sizes, dim=args.dim, queries=args.queries, rounds=args.rounds,
                           methods=methods, report=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - start
    print()
    print(table(rows))
    print(f"\nwhole run: {seconds:.0f} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(
            {"rows": rows, "seconds": seconds, "environment": _environment()}, indent=1) + "\n")
        print(f"wrote {args.json}")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot_indexes(rows, title=f"exact CbR vs FAISS, D={args.dim}").savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
