"""``python -m cbr_edu compare``: CbR vs kNN vs prototypes vs trained baselines, on episodes.

With no arguments it is the project's main job: 5-way 1- and 5-shot episodes on the
offline ``photo_patches`` data set (where the methods differ: on ``textures`` every
method scores ~99 %) with the offline EfficientNet-Lite0 embedder, 600 episodes
(enough for 95 % intervals of about ±1 point), writing ``out/compare.json`` and
``out/compare.png``. After the table, each method's difference from CbR max, episode by
episode: the paired interval shows a difference that the methods' own intervals, which
overlap, cannot. Embeddings are cached, so a second run skips the embedding.

Example
-------
    python -m cbr_edu compare
    python -m cbr_edu compare --dataset digits --ways 5 --shots 1,5 --episodes 600
    python -m cbr_edu compare --dataset lfw_subset --embedder pixels --episodes 50
    python -m cbr_edu compare --finetune-top --top-episodes 5   # slow: see --help
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..cli import UserError, check_writable

DEFAULTS = {"dataset": "photo_patches", "ways": 5, "shots": "1,5", "episodes": 600, "seed": 0,
            "embedder": "efficientnet_lite0", "json": "out/compare.json",
            "plot": "out/compare.png"}


def add_arguments(parser):
    a = parser.add_argument
    a("--dataset", default=DEFAULTS["dataset"],
      help="a datasets.yaml name (default: %(default)s, offline); see "
           "cbr_edu.datasets.names()")
    a("--ways", type=int, default=DEFAULTS["ways"],
      help="classes per episode, N (default: %(default)s; capped at the data set's classes)")
    a("--shots", default=DEFAULTS["shots"],
      help="support images per class, K, comma-separated (default: %(default)s)")
    a("--queries", type=int, default=None,
      help="query images per class (default: as many as the data allows, at most 15)")
    a("--episodes", type=int, default=DEFAULTS["episodes"],
      help="episodes per shot setting (default: %(default)s)")
    a("--seed", type=int, default=DEFAULTS["seed"], help="episode seed (default: %(default)s)")
    a("--embedder", default=DEFAULTS["embedder"],
      help="embedder spec (default: %(default)s, offline; 'pixels' for raw pixels)")
    a("--json", default=DEFAULTS["json"], metavar="OUT.json",
      help="where to write the results (default: %(default)s; '' to skip)")
    a("--plot", default=DEFAULTS["plot"], metavar="OUT.png",
      help="where to write the figure (default: %(default)s; '' to skip)")
    a("--no-linear-probe", action="store_true",
      help="leave out the linear probe (the only method that trains by default)")
    a("--finetune-top", action="store_true",
      help="also fine-tune the embedder's top block with augmentation (slow on CPU: "
           "tens of seconds per episode; runs on --top-episodes episodes only)")
    a("--top-episodes", type=int, default=5,
      help="episodes for --finetune-top (default: %(default)s)")
    a("--no-open-set", action="store_true",
      help="skip the open-set (reject 'unknown') calibration of CbR")
    a("--max-per-class", type=int, default=None,
      help="use at most this many images per class (quicker first run)")


def _parse_shots(text):
    try:
        shots = sorted({int(s) for s in str(text).split(",") if s.strip()})
    except ValueError:
        raise UserError(f"--shots must be comma-separated integers like 1,5; got {text!r}")
    if not shots or shots[0] < 1:
        raise UserError(f"--shots must be positive integers, got {text!r}")
    return shots


def _load_dataset(name, max_per_class):
    from .. import datasets
    try:
        known = datasets.names()
    except Exception as error:  # a broken registry is reported as it is
        raise UserError(f"cannot read the data set registry: {error}")
    if name not in known:
        offline = datasets.names(offline_only=True)
        raise UserError(f"unknown data set {name!r}. Offline: {', '.join(offline)}; "
                        f"all: {', '.join(known)}")
    try:
        return datasets.load(name, max_per_class=max_per_class)
    except datasets.DatasetUnavailableError as error:
        raise UserError(str(error))


def _load_embedder(spec):
    from ..embedders import OfflineError, load_embedder
    try:
        return load_embedder(spec)
    except (OfflineError, ValueError, FileNotFoundError, ImportError) as error:
        raise UserError(f"cannot load embedder {spec!r}: {error}")


def _ratio_lines(results):
    """CbR build time vs the linear probe's training time, per shot setting."""
    lines, data = [], []
    for shots in results.shots:
        try:
            cbr, probe = results.row("CbR max", shots), results.row("linear probe", shots)
        except KeyError:
            continue
        ratio = cbr["build_time_s"] / probe["build_time_s"] if probe["build_time_s"] else None
        gap = 100 * (cbr["accuracy"] - probe["accuracy"])
        data.append({"shots": shots, "cbr_build_s": cbr["build_time_s"],
                     "linear_probe_train_s": probe["build_time_s"], "ratio": ratio,
                     "accuracy_gap_points": gap})
        lines.append(
            f"{shots}-shot: CbR max builds in {1000 * cbr['build_time_s']:.1f} ms, the linear "
            f"probe trains in {1000 * probe['build_time_s']:.1f} ms (ratio 1/"
            f"{1 / ratio:.0f}); accuracy {100 * cbr['accuracy']:.1f} vs "
            f"{100 * probe['accuracy']:.1f} % ({gap:+.1f} points)")
    return lines, data


def _difference_table(results, reference="CbR max"):
    """Each method minus ``reference``, episode by episode, per shot setting (Markdown)."""
    others = [m for m in results.methods if m != reference]
    if reference not in results.methods or not others:
        return [], []
    lines = [f"Each method minus {reference}, episode by episode (points, paired 95 % CI; "
             "'differs' when it leaves out 0):", "",
             "| method | " + " | ".join(f"{s}-shot" for s in results.shots) + " |",
             "|---|" + "---|" * len(results.shots)]
    data = []
    for method in others:
        cells = []
        for shots in results.shots:
            if (method, shots) not in results.per_episode:
                cells.append("")
                continue
            mean, half = results.difference(method, reference, shots)
            differs = abs(mean) > half
            cells.append(f"{100 * mean:+.2f} ± {100 * half:.2f}" + (" differs" if differs else ""))
            data.append({"method": method, "reference": reference, "shots": shots,
                         "difference": mean, "ci95": half, "differs": bool(differs),
                         "episodes": int(min(len(results.per_episode[(method, shots)]),
                                             len(results.per_episode[(reference, shots)])))})
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines, data


def _episode_setting(args, labels, shots):
    """``(ways, queries)``: the episodes the data set allows, checked before embedding."""
    from ..fewshot import auto_queries, sample_episodes
    n_classes = len(set(labels.tolist()))
    ways = args.ways
    if ways < 2:
        raise UserError("--ways must be at least 2")
    if ways > n_classes:
        print(f"note: {args.dataset} has {n_classes} classes, fewer than --ways {ways}: "
              f"using all {n_classes} ({n_classes}-way episodes)")
        ways = n_classes
    try:
        queries = args.queries or auto_queries(labels, ways=ways, shots=shots)
        sample_episodes(labels, ways=ways, shots=max(shots), queries=queries, episodes=1,
                        seed=args.seed)
    except ValueError as error:
        raise UserError(f"{args.dataset}: {error}")
    return ways, queries


def _embed(args, ds):
    """The data set's embeddings through the cache: ``(X, embedder, seconds)``."""
    from ..cache import EmbeddingCache, embed_images
    embedder = _load_embedder(args.embedder)
    n_classes = len(set(ds.labels.tolist()))
    print(f"data set {args.dataset}: {len(ds)} images, {n_classes} classes; "
          f"embedder {embedder.spec or embedder.id} ({embedder.dim}-d)")
    start = time.perf_counter()
    cache = EmbeddingCache()
    X, embedder = embed_images(ds.images, embedder, cache=cache)
    seconds = time.perf_counter() - start
    print(f"embeddings: {seconds:.1f} s ({cache.misses} computed, {cache.hits} from the cache "
          f"in {cache.directory})")
    return X, embedder, seconds


def _fine_tuned_top(args, embedder):
    """The top-block fine-tune, refused early for an embedder without a trainable top."""
    from ..fewshot import FineTunedTop
    top = FineTunedTop(embedder)
    try:
        top.setup()
    except ValueError as error:
        raise UserError(f"--finetune-top: {error}")
    return top


def _compare(args, X, ds, *, ways, shots, queries, top):
    """Every method on the same episodes (the slow top fine-tune on fewer); Results."""
    from ..fewshot import default_methods, evaluate
    methods = default_methods(linear_probe=not args.no_linear_probe)
    print(f"{ways}-way, shots {shots}, {queries} queries per class, {args.episodes} episodes, "
          f"seed {args.seed}: {len(methods)} methods ...", flush=True)
    setting = {"ways": ways, "shots": shots, "queries": queries, "seed": args.seed,
               "progress": sys.stderr.isatty()}
    results = evaluate(methods, X, ds.labels, episodes=args.episodes, **setting)
    if top is not None:
        print(f"fine-tuning the top block on {args.top_episodes} episodes (slow) ...",
              flush=True)
        try:
            results.extend(evaluate([top], X, ds.labels, episodes=args.top_episodes,
                                    images=ds.images, **setting))
        except ValueError as error:
            raise UserError(f"--finetune-top: {error}")
        results.config["finetune_top_episodes"] = args.top_episodes
    return results


def _open_set(args, X, labels, *, ways, shots, queries):
    """The calibrated "unknown" threshold of CbR, printed; None when skipped."""
    from ..fewshot import evaluate_open_set
    n_classes = len(set(labels.tolist()))
    if args.no_open_set or n_classes < 3:
        return None
    # known classes are indexed, the others play "unknown"; at least one must be left
    os_ways = min(ways, n_classes - 1)
    try:
        open_set = evaluate_open_set(X, labels, ways=os_ways, shots=shots[0],
                                     queries=min(queries, 10),
                                     episodes=max(10, min(args.episodes, 100)), seed=args.seed)
    except ValueError as error:
        print(f"open set skipped: {error}")
        return None
    print(f"{os_ways}-way {shots[0]}-shot {open_set}")
    return open_set


def _write_plot(results, path, *, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..plots import plot_comparison
    fig = plot_comparison(results, title=title)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    except OSError as error:
        raise UserError(f"cannot write {path}: {error}")
    finally:
        plt.close(fig)
    return path


def run(args):
    shots = _parse_shots(args.shots)
    if args.episodes < 2:
        raise UserError("--episodes must be at least 2 (a confidence interval needs 2)")
    for flag, path in (("--json", args.json), ("--plot", args.plot)):
        if path:  # refused now, not after the whole comparison
            check_writable(path, flag)
    t0 = time.perf_counter()
    ds = _load_dataset(args.dataset, args.max_per_class)
    ways, queries = _episode_setting(args, ds.labels, shots)
    X, embedder, t_embed = _embed(args, ds)
    # refuse an embedder without a trainable top before the long run
    top = _fine_tuned_top(args, embedder) if args.finetune_top else None
    t_eval = time.perf_counter()
    results = _compare(args, X, ds, ways=ways, shots=shots, queries=queries, top=top)
    t_eval = time.perf_counter() - t_eval
    results.config.update({"dataset": args.dataset, "embedder": embedder.spec,
                           "embedder_id": embedder.id, "class_names": list(ds.class_names),
                           "requested_ways": args.ways})
    print()
    print(results.to_markdown())
    print()
    lines, differences = _difference_table(results)
    lines += [""] if lines else []
    ratio_lines, ratios = _ratio_lines(results)
    for line in lines + ratio_lines:
        print(line)
    open_set = _open_set(args, X, ds.labels, ways=ways, shots=shots, queries=queries)

    written = []
    if args.json:
        extra = {"cbr_vs_linear_probe": ratios, "differences_from_cbr_max": differences,
                 "open_set": open_set.to_dict() if open_set else None,
                 "timing_s": {"embedding": t_embed, "evaluation": t_eval,
                              "total": time.perf_counter() - t0}}
        try:
            written.append(str(results.to_json(args.json, extra=extra)))
        except OSError as error:
            raise UserError(f"cannot write {args.json}: {error}")
    if args.plot:
        title = f"{args.dataset}, {embedder.spec}, {ways}-way, {args.episodes} episodes"
        written.append(str(_write_plot(results, args.plot, title=title)))
    print(f"done in {time.perf_counter() - t0:.0f} s"
          + (f"; wrote {' and '.join(written)}" if written else ""))
    return 0
