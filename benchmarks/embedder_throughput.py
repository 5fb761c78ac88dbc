"""Throughput of the embedders (images/s) on this machine, measured side by side.

Usage: python benchmarks/embedder_throughput.py [--n 96] [--batch 32] [--specs ...]

Images are random uint8 224x224 RGB already at the input size of Lite0 (so the
number is the model, not the resize); each spec is warmed up on one batch first.
"""

import argparse
import os
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=96)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--specs", nargs="+", default=["efficientnet_lite0", "pixels:32"])
    args = ap.parse_args()

    import keras  # noqa: F401 - imported before the clock starts
    from cbr_edu.embedders import load_embedder

    x = np.random.default_rng(0).integers(0, 256, (args.n, 224, 224, 3), dtype=np.uint8)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPU cores (load average {load:.1f}), {args.n} images 224x224, batch {args.batch}")
    for spec in args.specs:
        t0 = time.perf_counter()
        emb = load_embedder(spec)
        load_s = time.perf_counter() - t0
        emb.embed(x[:args.batch], batch_size=args.batch, progress=False)  # warm-up/trace
        t0 = time.perf_counter()
        emb.embed(x, batch_size=args.batch, progress=False)
        dt = time.perf_counter() - t0
        print(f"{spec:24s} load {load_s:5.1f} s   {args.n / dt:8.1f} images/s   dim {emb.dim}")


if __name__ == "__main__":
    main()
